"""Evaluation metrics for listening on public labelled data (inputs are parsed records, no file I/O here)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from heedful.listen.taxonomy import Taxonomy, Theme
from heedful.themes import decode_themes, main_theme

SEMEVAL_CATEGORIES: dict[str, tuple[str, str, str]] = {
    # category -> (theme id, department, journey stage) for a restaurant, in the journey's default departments
    # and stages (the taxonomy is loaded like a user's, which refuses any other; see examples/restaurant.yaml)
    "food": ("food", "product", "use"),
    "service": ("service", "services", "use"),
    "price": ("price", "sales", "purchase"),
    "ambience": ("ambience", "services", "use"),
    "anecdotes/miscellaneous": ("anecdotes_miscellaneous", "marketing", "renewal"),
}


# SemEval's specific categories -> the restaurant example taxonomy's themes (examples/restaurant.yaml); its
# catch-all category has no counterpart there, and SemEval has none for booking or take-away delivery.
RESTAURANT_EXAMPLE_THEMES: dict[str, str] = {
    "food": "food_drink",
    "service": "staff",
    "price": "price_value",
    "ambience": "store_ambience",
}


def semeval_taxonomy(sentences: Sequence[tuple[str, Sequence[str]]]) -> Taxonomy:
    """A taxonomy whose examples are the SemEval train sentences of each aspect category."""
    examples: dict[str, list[str]] = {c: [] for c in SEMEVAL_CATEGORIES}
    for text, categories in sentences:
        for c in set(categories):
            if c in examples:
                examples[c].append(text)
    themes = [
        Theme(
            id=tid,
            label=c,
            description=f"SemEval-2014 restaurant aspect category {c}",
            department=d,
            journey_stage=s,
            examples=examples[c],
        )
        for c, (tid, d, s) in SEMEVAL_CATEGORIES.items()
    ]
    return Taxonomy(name="semeval2014-restaurants", version="train-v2", themes=themes)


# How two sentences are joined into one text that praises one thing and criticises (or merely names) another:
# training (scripts/train_listening.py) joins train sentences, `listen evaluate` joins test sentences.
CONNECTORS = (", but ", ". ", " and ", "; however, ", ", although ", " - ", " while ")


def join_two_opinions(records: Sequence[Mapping[str, Any]], n: int, rng: random.Random) -> list[dict[str, Any]]:
    """`n` texts, each two of `records` joined ("The sushi was fresh, but the waiter ignored us."). Records
    are {"text", "categories": {category: polarity}, optional "terms": {term: polarity}}; only records with
    one category, not "conflict", are joined, and only two about different categories with different
    polarities. Real texts of that shape are rare in SemEval (about 8% of its sentences). Empty when no two
    records qualify."""
    single = [r for r in records if len(r["categories"]) == 1 and next(iter(r["categories"].values())) != "conflict"]
    kinds = {next(iter(r["categories"].items())) for r in single}
    if not any(ca != cb and pa != pb for ca, pa in kinds for cb, pb in kinds):
        return []
    out: list[dict[str, Any]] = []
    while len(out) < n:
        a, b = rng.sample(single, 2)
        (ca, pa), (cb, pb) = next(iter(a["categories"].items())), next(iter(b["categories"].items()))
        if ca == cb or pa == pb:
            continue
        first, second = str(a["text"]).rstrip(" .!"), str(b["text"])
        joint = rng.choice(CONNECTORS)
        if joint != ". ":
            keep = second[:1] == "I" and not second[1:2].isalpha()  # "I", "I've" stay capitalised
            second = second if keep else second[:1].lower() + second[1:]
        terms = {**a.get("terms", {}), **b.get("terms", {})}
        out.append({"text": first + joint + second, "categories": {ca: pa, cb: pb}, "terms": terms})
    return out


def joined_scores(pairs: Sequence[tuple[str, str | None]], texts: int) -> dict[str, object]:
    """End to end on joined texts (`join_two_opinions`): per (text, category) pair, the true polarity and what
    classify said about that theme, None where it did not find it."""
    if not pairs:
        return {"texts": 0, "pairs": 0, "end_to_end_accuracy": None}
    golds = [g for g, _ in pairs]
    found = [(g, s) for g, s in pairs if s is not None]
    return {
        "texts": texts,
        "pairs": len(pairs),
        "end_to_end_accuracy": round(sum(g == s for g, s in pairs) / len(pairs), 4),
        "themes_found": round(len(found) / len(pairs), 4),
        "polarity_where_found": round(sum(g == s for g, s in found) / len(found), 4) if found else None,
        "end_to_end_by_truth": {
            c: round(sum(s == c for g, s in pairs if g == c) / golds.count(c), 4) for c in sorted(set(golds))
        },
        "most_common_class_accuracy": round(max(golds.count(c) for c in set(golds)) / len(golds), 4),
    }


def main_theme_scores(
    truth: Sequence[Mapping[str, str]], labels: Sequence[str], themes: Sequence[str]
) -> dict[str, object]:
    """Is an item's main theme (the first in `classify`'s `themes`: its department and journey stage are the
    item's, and a case opened for an unhappy customer goes to that department) the theme its verdict is about?

    `truth` holds each text's true {theme id: polarity}, `labels` and `themes` what `classify` wrote. Counted
    only where that can go wrong: for items labelled negative or mixed whose text criticises one theme and not
    another (right when the main theme is a criticised one), and for items labelled positive whose text praises
    one theme and not another (right when it is a praised one). An item with no theme found counts as wrong."""
    mains = main_theme(pd.Series(list(themes), dtype=object)).tolist()
    out: dict[str, object] = {}
    for side, verdicts, polarity in (
        ("complaints", ("negative", "mixed"), "negative"),
        ("praise", ("positive",), "positive"),
    ):
        right = items = 0
        for gold, label, main in zip(truth, labels, mains, strict=True):
            meant = {t for t, p in gold.items() if p == polarity}
            if label not in verdicts or not meant or len(meant) == len(gold):
                continue
            items += 1
            right += main in meant
        out[side] = {"items": items, "main_theme_right": round(right / items, 4) if items else None}
    return out


def main_theme_labelled(truth: Sequence[set[str]], themes: Sequence[str], owner: Mapping[str, str]) -> dict[str, float]:
    """Of texts labelled with the themes they talk about (`truth`), the share whose main theme (the first in
    `classify`'s `themes`) is one of them, and the share whose department (`owner`: theme id -> department) is
    one of theirs; a text with no theme found counts as wrong."""
    mains = main_theme(pd.Series(list(themes), dtype=object)).tolist()
    right = [m in t for m, t in zip(mains, truth, strict=True)]
    owned = [bool(m) and owner.get(m) in {owner.get(x) for x in t} for m, t in zip(mains, truth, strict=True)]
    n = max(len(truth), 1)
    return {"main_theme_labelled": sum(right) / n, "department_right": sum(owned) / n}


def labelled_theme_scores(
    truth: Sequence[set[str]], themes: Sequence[str], owner: Mapping[str, str]
) -> dict[str, float]:
    """`theme_set_scores` and `main_theme_labelled` of what `classify` wrote for texts labelled with their themes."""
    return theme_set_scores(truth, themes) | main_theme_labelled(truth, themes, owner)


def multilabel_scores(truth: Sequence[set[str]], predicted: Sequence[set[str]]) -> dict[str, float]:
    """Micro precision, recall and F1 over (item, label) pairs."""
    tp = sum(len(t & p) for t, p in zip(truth, predicted, strict=True))
    n_pred = sum(len(p) for p in predicted)
    n_true = sum(len(t) for t in truth)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "micro_f1": f1}


def theme_set_scores(truth: Sequence[set[str]], themes: Sequence[str]) -> dict[str, float]:
    """`multilabel_scores` of what `classify` wrote in its `themes` column against the true theme sets, with the
    themes per text found and true."""
    predicted = [set(decode_themes(t)) for t in themes]
    return {
        **multilabel_scores(truth, predicted),
        "themes_per_text": sum(map(len, predicted)) / len(predicted) if predicted else 0.0,
        "true_themes_per_text": sum(map(len, truth)) / len(truth) if truth else 0.0,
    }


def restaurant_example_scores(
    categories: Sequence[Mapping[str, str]], themes: Sequence[str], theme_sentiments: Sequence[str]
) -> dict[str, float]:
    """What the restaurant example taxonomy found in SemEval sentences (their categories -> polarity, and the
    `themes` and `theme_sentiments` columns `classify` wrote), scored on the four themes SemEval labels
    (RESTAURANT_EXAMPLE_THEMES; its other themes' answers count as wrong): `theme_set_scores`, and the
    polarity end to end (a pair is right when its theme is found with its polarity; conflict left out)."""
    import json

    said = [json.loads(t or "{}") for t in theme_sentiments]
    truth = [{RESTAURANT_EXAMPLE_THEMES[c] for c in cats if c in RESTAURANT_EXAMPLE_THEMES} for cats in categories]
    right = [
        said[i].get(RESTAURANT_EXAMPLE_THEMES[c]) == p
        for i, cats in enumerate(categories)
        for c, p in cats.items()
        if c in RESTAURANT_EXAMPLE_THEMES and p != "conflict"
    ]
    return {
        **theme_set_scores(truth, themes),
        "end_to_end_polarity": sum(right) / len(right) if right else 0.0,
        "pairs": len(right),
    }


def binary_polarity_scores(is_negative_truth: np.ndarray, is_negative_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, balanced accuracy and negative-class F1 of a positive/negative decision."""
    t = np.asarray(is_negative_truth, dtype=bool)
    p = np.asarray(is_negative_pred, dtype=bool)
    tp = float((t & p).sum())
    fp = float((~t & p).sum())
    fn = float((t & ~p).sum())
    tn = float((~t & ~p).sum())
    recall_neg = tp / (tp + fn) if tp + fn else 0.0
    recall_pos = tn / (tn + fp) if tn + fp else 0.0
    f1_neg = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return {
        "accuracy": (tp + tn) / len(t) if len(t) else 0.0,
        "balanced_accuracy": (recall_neg + recall_pos) / 2,
        "negative_f1": f1_neg,
    }


def best_cutoff_balanced_accuracy(is_negative_truth: np.ndarray, scores: np.ndarray) -> float:
    """Balanced accuracy at the best cut-off on `scores` (an optimistic ceiling: the cut-off sees the labels)."""
    t = np.asarray(is_negative_truth, dtype=bool)
    best = 0.0
    for cut in np.unique(np.quantile(scores, np.linspace(0.01, 0.99, 99))):
        best = max(best, binary_polarity_scores(t, scores < cut)["balanced_accuracy"])
    return best
