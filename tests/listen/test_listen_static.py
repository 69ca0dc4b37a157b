"""Sentiment head word features, the static fast path's piece table and discovery embeddings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from heedful.listen import embed as embed_module
from heedful.listen.embed import embed, embed_for_discovery
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


def test_word_logits_are_scikit_learns_word_features_on_thousands_of_texts() -> None:
    """`word_logits` (no scikit-learn at classify time) against `word_matrix` (CountVectorizer + normalize,
    how the head was trained): the bundled reviews, their sentences and clauses, and edge cases."""
    import pandas as pd

    from heedful.ingest.datasets import demo_files
    from heedful.listen.segment import segment

    reviews = pd.read_csv(demo_files()["feedback"])["text"].fillna("").astype(str).tolist()
    units = [*reviews, *(c for r in reviews[:500] for s in segment(r) for c in s)]
    units += [
        "",
        "   ",
        "!!!",
        "NOT GOOD!",
        "not it!",
        "a 5",
        "Ünïcödé café naïve",
        "😀 😀",
        "x" * 20_000,
        "good good good",
    ]
    for backend in ("transformer", "static"):
        head = load_sentiment_head(backend)
        want = np.asarray(head.word_matrix(units) @ head.word_coef_.T)
        np.testing.assert_allclose(head.word_logits(units), want, rtol=1e-9, atol=1e-12)
    assert len(units) > 3000


def test_a_fast_run_does_not_load_scikit_learn() -> None:
    child = (
        "import sys\n"
        "from heedful.listen.classify import Classifier\n"
        "Classifier.build(backend='static').classify(['The zipper broke after one wash, not good.'])\n"
        "print(sorted(m for m in ('sklearn', 'scipy.stats', 'torch') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_shipped_heads_use_words_for_both_backends() -> None:
    for backend in ("transformer", "static"):
        head = load_sentiment_head(backend)
        assert head.uses_words and head.word_coef_.shape == (3, len(head.vocabulary_))


def test_the_packaged_piece_table_holds_each_piece_as_the_encoder_reads_it_alone() -> None:
    """The table covers the whole vocabulary, and a piece's row is (to int8 precision) the vector the
    packaged MiniLM gives that piece alone: what the fast path's sentiment head was trained on."""
    tokenizer = embed_module._backend_tokenizer()
    codes, _scales = embed_module._static_table()
    assert codes.shape == (tokenizer.get_vocab_size(), 384) and codes.dtype == np.int8
    pieces = ["zipper", "late", "##ing", "rude", "lovely", "not"]
    ids = np.array([tokenizer.token_to_id(p) for p in pieces])
    words = [p[2:] if p.startswith("##") else p for p in pieces]
    exact = embed_module.load_model().encode(words, normalize_embeddings=True)
    table = embed_module._piece_vectors(ids)
    cosine = (exact * table).sum(axis=1) / np.linalg.norm(table, axis=1)
    assert cosine.min() > 0.999
    # a text is the normalised mean of its pieces
    text = "lovely zipper"
    expected = table[[4, 0]].mean(axis=0)
    np.testing.assert_allclose(embed([text], "static")[0], expected / np.linalg.norm(expected), atol=1e-6)


def test_discovery_embeddings_are_unit_rows_without_a_common_direction() -> None:
    texts = [f"the {w} was {a}" for w in ("dress", "delivery", "fabric", "price") for a in ("great", "awful", "ok")]
    X = embed_for_discovery(texts, backend="static")
    assert X.shape == (len(texts), 384)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    plain = embed(texts, backend="static")
    # a plain mean of piece vectors is dominated by one shared direction; SIF removes it
    assert np.linalg.norm(X.mean(axis=0)) < np.linalg.norm(plain.mean(axis=0))


def test_a_static_run_loads_neither_torch_nor_the_model(tmp_path: Path) -> None:
    """The fast path reads its tokenizer from the packaged tokenizer.json and its piece vectors from the
    packaged table: a fresh process embeds without importing torch (seconds of start-up), and gets the same
    vectors as this one."""
    texts = ["The zipper broke after one wash.", "Lovely fabric, runs small."]
    np.save(tmp_path / "want.npy", embed(texts, "static"))
    child = (
        "import sys, numpy as np\n"
        "from heedful.listen.embed import embed\n"
        f"got = embed({texts!r}, 'static')\n"
        f"np.testing.assert_allclose(got, np.load({str(tmp_path / 'want.npy')!r}), rtol=1e-6, atol=1e-7)\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_joined_texts_embed_as_if_each_were_tokenised_whole() -> None:
    """The fast path tokenises each clause once and builds its sentences and texts from them: the same
    vectors as embedding the joined strings, also past the piece limit and at punctuation."""
    parts = ["The zipper broke,", "but the fabric is lovely!", "Délivery was late...", "runs small " * 150]
    joins = [[0, 1], [2], [0, 1, 2, 3], [3, 0], [1]]
    texts = [" ".join(parts[j] for j in join) for join in joins]
    np.testing.assert_array_equal(embed_module.embed_static_joined(parts, joins), embed(texts, "static"))
    assert embed_module.embed_static_joined(parts, []).shape == (0, 384)
