"""Sentiment head word features, the static fast path's piece cache and discovery embeddings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from heedful.listen import embed as embed_module
from heedful.listen.embed import embed, embed_for_discovery, load_static_piece_cache, static_piece_cache
from heedful.listen.sentiment import SentimentHead, load_sentiment_head


def test_word_features_learn_what_the_embedding_cannot_see() -> None:
    # identical embeddings, so only the words can tell the classes apart
    texts = ["not good at all", "really good stuff", "not good sadly", "good and fun"] * 10
    labels = ["negative", "positive", "negative", "positive"] * 10
    X = np.ones((len(texts), 4))
    head = SentimentHead(C=10.0, min_df=1).fit(X, labels, texts)
    assert list(head.predict(np.ones((2, 4)), ["not good", "good fun"])) == ["negative", "positive"]
    with pytest.raises(ValueError, match="texts"):
        head.predict_proba(np.ones((1, 4)))
    again = SentimentHead.from_arrays(head.to_arrays("x"), "x")
    np.testing.assert_allclose(
        again.predict_proba(np.ones((2, 4)), ["not good", "good fun"]),
        head.predict_proba(np.ones((2, 4)), ["not good", "good fun"]),
        atol=1e-5,
    )


def test_shipped_heads_use_words_for_both_backends() -> None:
    for backend in ("transformer", "static"):
        head = load_sentiment_head(backend)
        assert head.uses_words and head.word_coef_.shape == (3, len(head.vocabulary_))


def test_static_piece_cache_round_trip_gives_the_same_vectors() -> None:
    texts = ["The parcel came late and the box was crushed.", "Lovely fabric, true to size!"]
    first = embed(texts, backend="static")
    saved = static_piece_cache()
    assert len(saved["ids"]) > 0 and saved["vectors"].shape == (len(saved["ids"]), 384)
    embed_module._STATIC.clear()
    assert load_static_piece_cache(saved) == len(saved["ids"])
    cached = len(embed_module._STATIC)
    np.testing.assert_allclose(embed(texts, backend="static"), first, atol=1e-6)
    assert len(embed_module._STATIC) == cached  # nothing recomputed
    assert load_static_piece_cache({**saved, "model": np.array("another-model")}) == 0


def test_discovery_embeddings_are_unit_rows_without_a_common_direction() -> None:
    texts = [f"the {w} was {a}" for w in ("dress", "delivery", "fabric", "price") for a in ("great", "awful", "ok")]
    X = embed_for_discovery(texts, backend="static")
    assert X.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    plain = embed(texts, backend="static")
    # a plain mean of piece vectors is dominated by one shared direction; SIF removes it
    assert np.linalg.norm(X.mean(axis=0)) < np.linalg.norm(plain.mean(axis=0))


def test_a_static_run_whose_pieces_are_cached_loads_neither_torch_nor_the_model(tmp_path: Path) -> None:
    """The fast path reads its tokenizer from the packaged tokenizer.json: with every piece in the cache, a
    fresh process embeds without importing torch (seconds of start-up), and gets the same vectors."""
    texts = ["The zipper broke after one wash.", "Lovely fabric, runs small."]
    want = embed(texts, "static")
    np.savez(tmp_path / "cache.npz", **static_piece_cache())
    np.save(tmp_path / "want.npy", want)
    child = (
        "import sys, numpy as np\n"
        "from heedful.listen.embed import embed, load_static_piece_cache\n"
        f"load_static_piece_cache(np.load({str(tmp_path / 'cache.npz')!r}))\n"
        f"got = embed({texts!r}, 'static')\n"
        f"np.testing.assert_allclose(got, np.load({str(tmp_path / 'want.npy')!r}), rtol=1e-6, atol=1e-7)\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
