"""Train the sentiment head shipped in src/heedful/listen/models/sentiment_head.npz (reproducible).

Data (from ../shared/data, never the women's clothing reviews, which are held out for evaluation):
- UCI sentiment-labelled sentences (Kotzias et al. 2015): 3,000 Amazon/IMDb/Yelp sentences, positive/negative;
- SemEval-2014 Task 4 restaurants *train* split: sentences whose aspect categories all share one polarity
  (positive, negative or neutral; "conflict" sentences are left out).
One head per embedding backend (transformer, static). Prints 5-fold cross-validated accuracy.

Usage: .venv/bin/python scripts/train_sentiment.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from heedful.cli.listen import read_semeval, read_uci_sentences
from heedful.listen.embed import BACKENDS, embed
from heedful.listen.sentiment import CLASSES, HEAD_FILE, SentimentHead

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "heedful" / "listen" / "models" / HEAD_FILE
C = 4.0


def training_set(data: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for text, label in read_uci_sentences(data / "sentiment_labelled_sentences_uci"):
        texts.append(text)
        labels.append(label)
    for sentence in read_semeval(data / "semeval2014_absa_restaurants" / "Restaurants_Train_v2.xml"):
        polarities = {p for _, p in sentence.categories}
        if len(polarities) == 1 and next(iter(polarities)) in CLASSES:
            texts.append(sentence.text)
            labels.append(next(iter(polarities)))
    return texts, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    texts, labels = training_set(args.data)
    y = np.asarray(labels)
    arrays: dict[str, np.ndarray] = {"classes": np.array(CLASSES)}
    report: dict[str, object] = {"n_train": len(texts), "label_counts": {c: int((y == c).sum()) for c in CLASSES}}
    for backend in BACKENDS:
        X = embed(texts, backend=backend)  # type: ignore[arg-type]
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        cv = cross_val_score(LogisticRegression(C=C, solver="newton-cholesky", max_iter=200), X, y, cv=folds)
        report[f"{backend}_cv_accuracy"] = round(float(cv.mean()), 4)
        arrays.update(SentimentHead(C=C).fit(X, y).to_arrays(backend))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    report["file"] = str(OUT.relative_to(ROOT))
    report["bytes"] = OUT.stat().st_size
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
