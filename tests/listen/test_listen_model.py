"""The listening model: the int8 encoder on ONNX Runtime, its numpy heads, and the one-pass path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from heedful.listen.classify import Classifier
from heedful.listen.heads import THEME_CLASSES, load_heads
from heedful.listen.reader import ENCODER_FILE, MAX_PIECES, load_reader
from heedful.listen.taxonomy import Taxonomy, Theme


def test_the_model_ships_inside_the_package_and_is_small() -> None:
    from importlib import resources

    models = resources.files("heedful.listen").joinpath("models")
    assert models.joinpath(ENCODER_FILE).is_file()
    with resources.as_file(models) as folder:  # the encoder, the heads and the fast path's piece table
        assert sum(f.stat().st_size for f in folder.iterdir()) <= 40 * 2**20


def test_embeddings_stay_those_of_the_sentence_model() -> None:
    """Theme detection compares texts with a taxonomy's examples: the fine-tuned encoder must keep
    similar texts close and unrelated ones apart."""
    v = load_reader().embed(["The delivery took two weeks.", "My parcel arrived very late.", "The soup was salty."])
    assert v.shape == (3, 384)
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.1


def test_a_long_text_is_read_in_windows_and_its_sentences_pooled() -> None:
    reader = load_reader()
    long = "The delivery was late. " * 200  # about 1,000 word pieces
    read = reader.read([long, "short"])
    windows = sum(int((t == 0).sum()) for t in read.text_of)
    assert windows >= 1000 // MAX_PIECES
    last = long.rindex("The delivery")
    vectors, owner = read.spans([[(0, 22), (last, last + 22)], [(0, 5)]])
    assert owner.tolist() == [0, 0, 1]
    # the same sentence at the start and at the end of the text is pooled to a close vector (in context)
    assert vectors[0] @ vectors[1] > 0.7


def test_pair_head_reads_a_theme_in_a_sentence() -> None:
    reader, heads = load_reader(), load_heads()
    texts = ["The food was delicious.", "The waiter was rude.", "We went there on a Tuesday."]
    p = heads.pair_proba(reader.first_of_pairs(texts, ["food", "service", "food"]))
    assert p.shape == (3, len(THEME_CLASSES))
    assert np.allclose(p.sum(-1), 1.0, atol=1e-5)
    assert [THEME_CLASSES[int(row.argmax())] for row in p] == ["positive", "negative", "absent"]
    overall = heads.overall_proba(reader.read(["The waiter was rude.", "Lovely!"]))
    assert overall.shape == (2, 3) and np.allclose(overall.sum(1), 1.0)
    assert overall[1].argmax() == 2  # positive


def test_a_theme_named_without_opinion_is_neutral() -> None:
    taxonomy = Taxonomy(
        name="t",
        version="1",
        themes=[
            Theme(
                id="food",
                label="Food",
                department="kitchen",
                journey_stage="use",
                examples=["the fish was great", "cold pizza", "we ordered the pasta"],
            ),
            Theme(
                id="staff",
                label="Staff",
                department="service",
                journey_stage="visit",
                examples=["the waiter was rude", "friendly staff", "the waitress took our order"],
            ),
        ],
    )
    clf = Classifier.build(taxonomy)
    out = clf.aspect_sentiments(["We ordered the fish and two glasses of wine."], [["food"]])
    assert out == [{"food": "neutral"}]
    row = clf.classify(["The fish was superb, but the waiter was rude to us."]).iloc[0]
    assert json.loads(row["theme_sentiments"]) == {"food": "positive", "staff": "negative"}


@pytest.mark.parametrize("text", ["", "   ", "😀🔥", "x" * 20000])
def test_odd_texts_are_read_without_error(text: str) -> None:
    read = load_reader().read([text])
    assert load_heads().overall_proba(read).shape == (1, 3)
