"""The supervised theme model reads words next to the sentence vector (themes.py), on every path."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest

from heedful.listen.classify import Classifier
from heedful.listen.taxonomy import Taxonomy, Theme
from heedful.listen.themes import ThemeClassifier

FOOD = ["the pasta", "the soup", "the pizza", "the dessert", "the steak", "the salad"]
SERVICE = ["the waiter", "our server", "the waitress", "the staff", "the hostess", "the bartender"]
PRICE = ["the prices", "the bill", "the wine list prices", "the cost", "the check", "the menu prices"]
SAID = ["was great", "was awful", "was fine", "left us cold", "made the evening", "could be better"]


def _examples(subjects: list[str]) -> list[str]:
    return [f"{s.capitalize()} {v}." for s, v in product(subjects, SAID)]  # 36 per theme


def _taxonomy() -> Taxonomy:
    themes = [
        Theme(id=i, label=i, description=i, department=d, journey_stage=s, examples=_examples(e))
        for i, d, s, e in (
            ("food", "product", "use", FOOD),
            ("service", "services", "use", SERVICE),
            ("price", "sales", "purchase", PRICE),
        )
    ]
    return Taxonomy(name="restaurant-words", version="1", themes=themes)


def test_words_find_themes_the_vectors_cannot_see() -> None:
    """Vectors that carry nothing (all equal): only the texts' words tell the themes apart, so each theme
    is found from its words, also two in one sentence."""
    texts = _examples(FOOD) + _examples(SERVICE) + _examples(PRICE)
    labels = [["food"]] * 36 + [["service"]] * 36 + [["price"]] * 36
    blank = np.zeros((len(texts), 8), np.float32)
    model = ThemeClassifier().fit(blank, labels, texts=texts)
    assert model.mode_ == "supervised"
    asked = ["The soup was cold.", "Our waiter forgot us.", "The bill was steep.", "Great soup, rude waiter."]
    found = [sorted(str(t) for t in themes) for themes in model.predict(blank[:4], asked)]
    assert found == [["food"], ["service"], ["price"], ["food", "service"]]
    # without words the same model cannot tell one row from another
    blind = ThemeClassifier(lexical_weight=0.0).fit(blank, labels, texts=texts)
    assert len({tuple(themes) for themes in blind.predict(blank[:4], asked)}) == 1


def test_a_model_that_reads_words_refuses_rows_without_their_texts() -> None:
    texts = _examples(FOOD) + _examples(SERVICE)
    labels = [["food"]] * 36 + [["service"]] * 36
    X = np.random.default_rng(1).normal(size=(72, 8)).astype(np.float32)
    model = ThemeClassifier().fit(X, labels, texts=texts)
    with pytest.raises(ValueError, match="texts"):
        model.predict(X[:2])
    # fitted without texts (or few-shot), it reads vectors only, as before
    assert len(ThemeClassifier().fit(X, labels).predict(X[:2])) == 2
    few = ThemeClassifier(mode="few_shot").fit(X, labels, texts=texts)
    assert few.vectorizer_ is None and len(few.predict(X[:2])) == 2


@pytest.mark.parametrize("backend", ["transformer", "static"])
def test_a_supervised_taxonomy_finds_two_themes_in_one_sentence_on_both_paths(backend: str) -> None:
    clf = Classifier.build(_taxonomy(), backend=backend)  # type: ignore[arg-type]
    assert clf.themes.mode_ == "supervised" and clf.themes.vectorizer_ is not None
    row = clf.classify(["The steak was superb, but the waiter was rude."]).iloc[0]
    sentiments = json.loads(row["theme_sentiments"])
    assert {"food", "service"} <= set(sentiments)
    assert sentiments["food"] == "positive" and sentiments["service"] == "negative"
    given = clf.aspect_sentiments(["The prices were steep for such a tiny salad."], [["price"]])
    assert given == [{"price": "negative"}]


def test_few_shot_centering_separates_vectors_that_share_one_direction() -> None:
    """Static vectors share a common direction: every text looks like every example until it is removed."""
    rng = np.random.default_rng(0)
    common = np.zeros(16)
    common[0] = 10.0
    centres = np.eye(16)[1:4]  # three themes
    X = np.vstack([common + c + rng.normal(0, 0.2, 16) for c in centres for _ in range(6)])
    y = [[t] for t in ("a", "b", "c") for _ in range(6)]
    queries = np.vstack([common + c + rng.normal(0, 0.2, 16) for c in centres])
    X, queries = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (X, queries))  # as embedders give them
    plain = ThemeClassifier(mode="few_shot").fit(X, y).decision_function(queries)
    centred_model = ThemeClassifier(mode="few_shot", center=True).fit(X, y)
    centred = centred_model.decision_function(queries)
    assert np.ptp(plain, axis=1).max() < 0.05  # every theme within a hair of every query
    own = np.diag(centred)
    others = np.where(np.eye(3, dtype=bool), -np.inf, centred).max(axis=1)
    assert (own - others).min() > 0.5
    assert centred_model.predict(queries) == [["a"], ["b"], ["c"]]


def test_the_fast_path_finds_a_few_themes_in_a_review_not_all_of_them() -> None:
    reviews = [
        "Love this dress! The fabric is soft and it fits true to size.",
        "The zipper broke after one wash and the return took three weeks.",
        "Shipping was fast but the colour is not what the website showed.",
        "Runs small, I had to exchange it for a larger size.",
        "Great price for the quality, I bought two.",
        "Customer service never answered my emails about the refund.",
    ]
    out = Classifier.build(backend="static").classify(reviews)
    counts = [len([t for t in themes.split(";") if t]) for themes in out["themes"]]
    assert np.mean(counts) <= 3, counts  # 12.5 of the default taxonomy's 15 themes on average before centring
