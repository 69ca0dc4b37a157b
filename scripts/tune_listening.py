"""Choose the listening path's thresholds on development data only (prints JSON; writes nothing).

- SemEval-2014 restaurants: the 15% development part of the *train* split that `train_listening.py`
  leaves out; the taxonomy is built from the rest of the train split, as a user would.
- Clothing reviews: the 600-review development sample of the training products.
- Themes from a few examples per theme: the default taxonomy on the 100 hand-labelled development reviews
  (`listen/labelled/`), the restaurant example taxonomy on the SemEval development part.
Reports theme detection (theme classifier, pair head, both), the path `listen classify` runs ("path": the
theme classifier alone, then with the pair head; end to end and on the multi-aspect sentences), per-theme
polarity, a larger multi-aspect proxy joined from development sentences ("joined_development") and the item labels
by star rating for a grid of the "mixed" rule (CLEAR, and how many themes must be praised and criticised, or
a bound on the whole-text score; "as_many_each" is the shipped rule). The evaluation (`heedful listen evaluate`) then
runs on the test data with the chosen values.

Usage: .venv/bin/python scripts/tune_listening.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_listening import SEED, development_split, semeval

from heedful.listen.classify import Classifier
from heedful.listen.evaluation import (
    SEMEVAL_CATEGORIES,
    binary_polarity_scores,
    join_two_opinions,
    joined_scores,
    labelled_theme_scores,
    main_theme_scores,
    multilabel_scores,
    restaurant_example_scores,
    semeval_taxonomy,
    theme_set_scores,
)
from heedful.listen.heads import THEME_CLASSES
from heedful.listen.one_pass import OnePass, _sentence_spans
from heedful.listen.taxonomy import example_taxonomy
from heedful.services.listen_eval import (
    SEMEVAL_DIR,
    read_labelled_reviews,
    read_star_reviews,
    read_support_messages,
    read_written_comments,
    star_development_sample,
)

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    sentences = semeval(args.data / SEMEVAL_DIR / "Restaurants_Train_v2.xml")
    train, dev = development_split(sentences, random.Random(SEED))
    taxonomy = semeval_taxonomy([(str(s["text"]), list(s["categories"])) for s in train])  # type: ignore[call-overload]
    clf = Classifier.build(taxonomy)
    op = clf.one_pass
    assert op is not None
    texts = [str(s["text"]) for s in dev]
    overall, per_theme, by_clf = op.analyse(texts)
    # the pair head asked about every theme in every sentence (costly: one read per theme)
    k = len(op.labels)
    every = op.heads.pair_proba(op.reader.first_of_pairs([t for t in texts for _ in range(k)], op.labels * len(texts)))
    every = every.reshape(len(texts), k, 4)
    theme_of = {c: tid for c, (tid, _, _) in SEMEVAL_CATEGORIES.items()}
    ids = [str(t) for t in op.themes.classes_]
    truth = [{theme_of[c] for c in s["categories"]} for s in dev]  # type: ignore[attr-defined]
    pairs = [(i, theme_of[c], p) for i, s in enumerate(dev) for c, p in s["categories"].items() if p != "conflict"]  # type: ignore[attr-defined]
    multi = {i for i, s in enumerate(dev) if len({p for p in s["categories"].values() if p != "conflict"}) >= 2}  # type: ignore[attr-defined]
    report: dict[str, object] = {"dev_sentences": len(dev), "multi_aspect_sentences": len(multi)}

    def polarity(i: int, t: str) -> str:
        return THEME_CLASSES[1 + int(every[i, ids.index(t), 1:].argmax())]

    detection = {}
    for name, found in (
        [("classifier", by_clf)]
        + [(f"pair@{p}", every[..., 0] < 1 - p) for p in (0.3, 0.5, 0.7)]
        + [(f"both@{p}", by_clf | (every[..., 0] < 1 - p)) for p in (0.5, 0.7, 0.9)]
        + [(f"classifier_and_pair@{p}", by_clf & (every[..., 0] < 1 - p)) for p in (0.1, 0.3)]
    ):
        predicted = [{ids[j] for j in np.flatnonzero(row)} for row in found]
        e2e = [t in predicted[i] and polarity(i, t) == g for i, t, g in pairs]
        me2e = [t in predicted[i] and polarity(i, t) == g for i, t, g in pairs if i in multi]
        detection[name] = {
            **{k: round(v, 4) for k, v in multilabel_scores(truth, predicted).items()},
            "end_to_end": round(float(np.mean(e2e)), 4),
            "multi_end_to_end": round(float(np.mean(me2e)), 4),
        }
    report["detection"] = detection
    report["path"] = path_figures(op, texts, per_theme, by_clf, truth, pairs, multi, ids)
    report["gold_polarity"] = round(float(np.mean([polarity(i, t) == g for i, t, g in pairs])), 4)
    report["multi_gold_polarity"] = round(float(np.mean([polarity(i, t) == g for i, t, g in pairs if i in multi])), 4)
    golds = [g for i, _, g in pairs]
    report["gold_polarity_by_class"] = {
        c: round(float(np.mean([polarity(i, t) == g for i, t, g in pairs if g == c])), 4) for c in sorted(set(golds))
    }
    report["joined_development"] = joined_figures(op, dev, ids, theme_of)
    report["main_theme_development"] = main_theme_figures(clf, dev, theme_of)

    stars = read_star_reviews(args.data)
    stars = stars.loc[star_development_sample(stars[stars["part"] == "train"])].reset_index(drop=True)
    default = Classifier.build()
    dop = default.one_pass
    assert dop is not None
    overall, themes_p, found = dop.analyse(stars["text"].tolist())
    score = overall[:, 2] - overall[:, 0]
    report["clothing_dev"] = {
        k: round(v, 4) for k, v in binary_polarity_scores(stars["negative"].to_numpy(), score < 0).items()
    }
    grid = {}
    rules = {  # (themes clearly praised, clearly criticised, whole-text score) -> mixed?
        "one_each": lambda pos, neg, s: pos > 0 and neg > 0,
        "one_each_score_below_0.8": lambda pos, neg, s: pos > 0 and neg > 0 and abs(s) < 0.8,
        "as_many_each": lambda pos, neg, s: pos > 0 and pos == neg,  # the shipped rule, at CLEAR
    }
    for rule, mixed in rules.items():
        for clear in (0.6, 0.8, 0.9):
            labels = []
            for i in range(len(stars)):
                hit = np.flatnonzero(found[i])
                praised = sum(themes_p[i, j, 3] >= clear for j in hit)
                criticised = sum(themes_p[i, j, 1] >= clear for j in hit)
                labels.append(
                    "mixed"
                    if mixed(praised, criticised, score[i])
                    else ("negative", "neutral", "positive")[int(overall[i].argmax())]
                )
            frame = stars.assign(label=labels)
            shares = {
                int(r): {k: round(float(v), 3) for k, v in g["label"].value_counts(normalize=True).items()}
                for r, g in frame.groupby("rating")
            }
            grid[f"{rule},clear={clear}"] = {"1_star": shares.get(1), "5_star": shares.get(5)}
    report["clothing_labels"] = grid
    report["themes_per_clothing_review"] = round(float(found.sum(1).mean()), 3)
    few = stars["text"].tolist()[:150]
    k = len(dop.labels)
    asked = dop.heads.pair_proba(dop.reader.first_of_pairs([t for t in few for _ in range(k)], dop.labels * len(few)))
    present = (asked[:, 0] < 0.5).reshape(len(few), k)
    report["clothing_share_by_theme"] = {
        str(t): {
            "classifier": round(float(found[:150, j].mean()), 3),
            "pair@0.5": round(float(present[:, j].mean()), 3),
        }
        for j, t in enumerate(dop.themes.classes_)
    }
    report["few_shot_development"] = few_shot_figures(args.data, default, dev)
    print(json.dumps(report, indent=1))


def few_shot_figures(data: Path, default: Classifier, dev: list[dict[str, object]]) -> dict[str, object]:
    """Themes found with a taxonomy of a few examples per theme (what `listen evaluate` reports on test data
    as themes_from_a_few_examples): the default taxonomy on the 100 hand-labelled development reviews, the
    restaurant example taxonomy on the SemEval development part (its four themes SemEval labels)."""
    reviews = read_labelled_reviews(data, "development")
    clothing = theme_set_scores([t for _, t in reviews], default.classify([t for t, _ in reviews])["themes"].tolist())
    owner = {t.id: t.department for t in default.taxonomy.themes}
    comments = read_written_comments("development")
    said = default.classify([t for t, _ in comments])["themes"].tolist()
    written = labelled_theme_scores([t for _, t in comments], said, owner)
    messages = read_support_messages("development")
    said = default.classify([t for t, _ in messages])["themes"].tolist()
    support = labelled_theme_scores([t for _, t in messages], said, owner)
    result = Classifier.build(example_taxonomy("restaurant")).classify([str(s["text"]) for s in dev])
    restaurant = restaurant_example_scores(
        [s["categories"] for s in dev],  # type: ignore[misc]
        result["themes"].tolist(),
        result["theme_sentiments"].tolist(),
    )
    return {
        "default_taxonomy_clothing": {k: round(v, 4) for k, v in clothing.items()},
        "default_taxonomy_written_comments": {k: round(v, 4) for k, v in written.items()},
        "default_taxonomy_support_messages": {k: round(v, 4) for k, v in support.items()},
        "restaurant_example_semeval": {k: round(v, 4) for k, v in restaurant.items()},
    }


def main_theme_figures(clf: Classifier, dev: list[dict[str, object]], theme_of: dict[str, str]) -> dict[str, object]:
    """Is an item's main theme (the first `classify` writes: the department a case goes to) what its verdict is
    about (`main_theme_scores`), on the development sentences and on 400 of them joined two by two (as
    `joined_figures`), both paths, with the taxonomy built from the train split and with the restaurant example
    (its four themes SemEval labels). What `listen evaluate` reports on test data as semeval.main_theme."""
    from heedful.listen.evaluation import RESTAURANT_EXAMPLE_THEMES

    joined = join_two_opinions(dev, 400, random.Random(7))
    out: dict[str, object] = {}
    for backend in ("transformer", "static"):
        taxonomies = (
            ("train_split", clf.taxonomy, theme_of),
            ("restaurant_example", example_taxonomy("restaurant"), RESTAURANT_EXAMPLE_THEMES),
        )
        for name, taxonomy, mapping in taxonomies:
            built = Classifier.build(taxonomy, backend=backend)  # type: ignore[arg-type]
            for part, records in (("sentences", dev), ("joined", joined)):
                result = built.classify([str(r["text"]) for r in records])
                truth = [
                    {mapping[c]: p for c, p in r["categories"].items() if c in mapping and p != "conflict"}  # type: ignore[attr-defined]
                    for r in records
                ]
                scores = main_theme_scores(truth, result["sentiment"].tolist(), result["themes"].tolist())
                out[f"{backend}/{name}/{part}"] = scores
    return out


def joined_figures(
    op: OnePass, dev: list[dict[str, object]], ids: list[str], theme_of: dict[str, str]
) -> dict[str, object]:
    """A larger multi-aspect proxy from the development part alone: 400 texts, each two development
    sentences about different categories with different polarities, joined as training joins train
    sentences (`join_two_opinions`: "…, but …", "… and …", …), so every text praises one thing and
    criticises (or merely names) another. What `listen classify` answers, scored as `listen evaluate` scores
    its joined test texts (`joined_scores`): end to end, themes found, polarity where found, by true polarity. The joins are synthetic and SemEval's catch-all category
    (anecdotes/miscellaneous) is in most of them; read it beside the real two-polarity sentences."""
    joined = join_two_opinions(dev, 400, random.Random(7))
    _, per_theme, found = op.analyse([str(j["text"]) for j in joined])
    pairs = []  # (true polarity, what classify said or None)
    for j, themes, hit in zip(joined, per_theme, found, strict=True):
        for c, p in j["categories"].items():
            k = ids.index(theme_of[c])
            pairs.append((p, THEME_CLASSES[1 + int(themes[k, 1:].argmax())] if hit[k] else None))
    return joined_scores(pairs, len(joined))


def path_figures(
    op: OnePass,
    texts: list[str],
    per_theme: np.ndarray,
    found: np.ndarray,
    truth: list[set[str]],
    pairs: list[tuple[int, str, str]],
    multi: set[int],
    ids: list[str],
) -> dict[str, object]:
    """What `listen classify` answers on the development part (theme classifier, then the pair head's
    confirmations and vetoes, then its polarity), as `listen evaluate` scores the test split; and the theme
    classifier alone (each sentence's themes before the pair head). "multi" is the sentences whose
    categories disagree in polarity (the multi-aspect proxy), "several" those naming two or more categories."""
    spans = [_sentence_spans(t) for t in texts]
    vectors, owner = op.reader.read(texts).spans(spans)
    sentences = [texts[i][lo:hi] for i, s in enumerate(spans) for lo, hi in s]
    words = getattr(op.themes, "vectorizer_", None) is not None
    hits = op.themes.predict_indicator(vectors, op.themes.decision_function(vectors, *([sentences] if words else [])))
    alone = np.zeros_like(found)
    np.logical_or.at(alone, owner, hits)
    several = sorted(i for i, t in enumerate(truth) if len(t) >= 2)
    out: dict[str, object] = {}
    for name, detected in (("classifier_alone", alone), ("path", found)):
        predicted = [{ids[j] for j in np.flatnonzero(row)} for row in detected]
        said = [
            {ids[j]: THEME_CLASSES[1 + int(per_theme[i, j, 1:].argmax())] for j in np.flatnonzero(found[i])}
            for i in range(len(texts))
        ]
        figures = {k: round(v, 4) for k, v in multilabel_scores(truth, predicted).items()}
        figures["multi_themes_found"] = round(float(np.mean([t in predicted[i] for i, t, _ in pairs if i in multi])), 4)
        figures["several_micro_f1"] = round(
            multilabel_scores([truth[i] for i in several], [predicted[i] for i in several])["micro_f1"], 4
        )
        if name == "path":
            figures["end_to_end"] = round(float(np.mean([said[i].get(t) == g for i, t, g in pairs])), 4)
            figures["multi_end_to_end"] = round(
                float(np.mean([said[i].get(t) == g for i, t, g in pairs if i in multi])), 4
            )
        out[name] = figures
    # polarity with the gold categories given (SemEval subtask 4, as `listen evaluate` scores it)
    given = op.aspect_sentiments(texts, [sorted(t) for t in truth])
    out["gold_categories_polarity"] = round(float(np.mean([given[i][t] == g for i, t, g in pairs])), 4)
    out["multi_gold_categories_polarity"] = round(
        float(np.mean([given[i][t] == g for i, t, g in pairs if i in multi])), 4
    )
    out["multi_pairs"] = sum(1 for i, _, _ in pairs if i in multi)
    out["several_sentences"] = len(several)
    return out


if __name__ == "__main__":
    main()
