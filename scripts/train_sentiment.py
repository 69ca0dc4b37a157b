"""Train the sentiment head shipped in src/heedful/listen/models/sentiment_head.npz (reproducible).

Data (from ../shared/data, never the women's clothing reviews, which are held out for evaluation, and
never the SemEval test split):
- UCI sentiment-labelled sentences (Kotzias et al. 2015): 3,000 Amazon/IMDb/Yelp sentences, positive/negative;
- SemEval-2014 Task 4 restaurants *train* split, sentence level: sentences whose aspect categories all
  share one polarity (positive, negative or neutral; "conflict" sentences are left out);
- the same train split, clause level: sentences with several clauses (heedful's own segmentation) give
  one example per clause that contains aspect terms of one polarity (SemEval's aspectTerm labels), so the
  head also learns from "great food, rude staff", whose sentence has no single polarity.
Features: the sentence embedding plus TF-IDF word uni/bigrams (vocabulary from these texts, min_df 3).
One head per embedding backend (transformer, static). Prints 5-fold cross-validated accuracy.

Usage: .venv/bin/python scripts/train_sentiment.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from heedful.listen.embed import BACKENDS, embed
from heedful.listen.segment import segment
from heedful.listen.sentiment import CLASSES, HEAD_FILE, SentimentHead
from heedful.services.listen_eval import read_uci_sentences

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "heedful" / "listen" / "models" / HEAD_FILE
C = 4.0
TRAIN_XML = Path("semeval2014_absa_restaurants") / "Restaurants_Train_v2.xml"


def semeval_examples(path: Path) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(sentence, polarity) for single-polarity sentences and (clause, polarity) from aspect terms."""
    sentences, clauses = [], []
    for s in ET.parse(path).getroot().iter("sentence"):
        text = (s.findtext("text") or "").strip()
        polarities = {c.get("polarity") for c in s.iter("aspectCategory")}
        if len(polarities) == 1 and (p := next(iter(polarities))) in CLASSES:
            sentences.append((text, str(p)))
        parts = [c for sentence in segment(text) for c in sentence]
        if len(parts) < 2:
            continue
        found: dict[str, set[str]] = {}
        for term in s.iter("aspectTerm"):
            clause = next((c for c in parts if term.get("term", "\0") in c), None)
            if clause is not None:
                found.setdefault(clause, set()).add(term.get("polarity", ""))
        clauses.extend((c, next(iter(p))) for c, p in found.items() if len(p) == 1 and next(iter(p)) in CLASSES)
    return sentences, clauses


def training_set(data: Path) -> tuple[list[str], list[str], dict[str, int]]:
    uci = list(read_uci_sentences(data / "sentiment_labelled_sentences_uci"))
    sentences, clauses = semeval_examples(data / TRAIN_XML)
    rows = uci + sentences + clauses
    sizes = {
        "uci_sentences": len(uci),
        "semeval_train_sentences": len(sentences),
        "semeval_train_clauses": len(clauses),
    }
    return [t for t, _ in rows], [label for _, label in rows], sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    from sklearn.model_selection import StratifiedKFold

    texts, labels, sizes = training_set(args.data)
    y = np.asarray(labels)
    arrays: dict[str, np.ndarray] = {"classes": np.array(CLASSES)}
    report: dict[str, object] = {
        "n_train": len(texts),
        **sizes,
        "label_counts": {c: int((y == c).sum()) for c in CLASSES},
    }
    for backend in BACKENDS:
        X = embed(texts, backend=backend)  # type: ignore[arg-type]
        correct = 0
        for fit_rows, held in StratifiedKFold(5, shuffle=True, random_state=0).split(X, y):
            head = SentimentHead(C=C).fit(X[fit_rows], y[fit_rows], [texts[i] for i in fit_rows])
            correct += int((head.predict(X[held], [texts[i] for i in held]) == y[held]).sum())
        report[f"{backend}_cv_accuracy"] = round(correct / len(y), 4)
        arrays.update(SentimentHead(C=C).fit(X, y, texts).to_arrays(backend))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    report["file"] = str(OUT.relative_to(ROOT))
    report["bytes"] = OUT.stat().st_size
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
