from __future__ import annotations

import itertools

import numpy as np
import pytest

from heedful.errors import InputError
from heedful.listen.discover import ThemeDiscovery, ctfidf_keywords, promote
from heedful.listen.embed import embed
from heedful.listen.taxonomy import default_taxonomy

SUBJECTS = {
    "parking": ["parking lot", "car park", "parking garage"],
    "music": ["background music", "loud music", "music playlist"],
    "wifi": ["wifi connection", "wireless internet", "wifi password"],
}
PHRASES = ["the {} was a problem", "I hated the {}", "please fix the {}", "why is the {} like that", "the {} again"]


def _corpus() -> tuple[list[str], list[str]]:
    texts, truth = [], []
    for topic, nouns in SUBJECTS.items():
        for noun, phrase, extra in itertools.product(nouns, PHRASES, ["", " today"]):
            texts.append(phrase.format(noun) + extra)
            truth.append(topic)
    return texts, truth


def test_discovery_finds_the_planted_topics_with_readable_labels() -> None:
    texts, truth = _corpus()
    vectors = embed(texts)
    # PCA keeps the test quick (UMAP's numba compile takes minutes on a busy machine; bench/ runs UMAP)
    model = ThemeDiscovery(min_cluster_size=10, reducer="pca").fit(texts, vectors, sentiment_score=[-0.5] * len(texts))
    topics = model.topics_
    assert len(topics) >= 3
    words = " ".join(" ".join(k) for k in topics["keywords"])
    assert {"parking", "music", "wifi"} <= set(words.split())
    # each cluster is (nearly) pure: one planted topic dominates it
    for cluster in topics["cluster_id"]:
        members = [t for t, label in zip(truth, model.labels_, strict=True) if label == cluster]
        assert max(members.count(t) for t in SUBJECTS) / len(members) >= 0.9
    assert (topics["negative_share"] == 1.0).all()
    assert all(len(q) >= 1 for q in topics["quotes"])


def test_ctfidf_prefers_words_specific_to_a_cluster() -> None:
    texts = ["late delivery again", "delivery late", "rude staff", "staff rude again"]
    keywords = ctfidf_keywords(texts, np.array([0, 0, 1, 1]), [0, 1], top=2)
    assert "delivery" in keywords[0] and "staff" in keywords[1]


def test_promoting_a_cluster_adds_a_theme_with_its_quotes() -> None:
    topic = {
        "label": "parking / car park",
        "keywords": ["parking", "car park"],
        "quotes": ["the parking lot was a problem"],
    }
    import pandas as pd

    tax = promote(default_taxonomy(), pd.Series(topic), "parking", "facilities", "visit")
    theme = tax.theme("parking")
    assert theme.department == "facilities" and theme.examples == ["the parking lot was a problem"]
    with pytest.raises(InputError):
        promote(tax, pd.Series(topic), "parking", "facilities", "visit")
