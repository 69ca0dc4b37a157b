"""heedful's listening encoder on ONNX Runtime: reads texts (and "sentence [SEP] theme" pairs).

The encoder is the packaged all-MiniLM-L6-v2, fine-tuned by `scripts/train_listening.py` and stored
with int8 weights (`models/listen_encoder.onnx`). Texts longer than MAX_PIECES word pieces are read
in overlapping windows. `Read` keeps, per window, the piece vectors and each piece's character span
in its text, so a sentence or a theme can be pooled from one pass without reading the text again.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_FILE = "listen_encoder.onnx"
MAX_PIECES = 256  # word pieces per window (the encoder's trained length)
STRIDE = 32  # pieces shared by consecutive windows of a long text
# Texts are read one at a time: int8 activations are quantised per call over the whole batch, so in a batch
# a text's result would depend on its neighbours (a label flipped with the file it came in). Alone, the
# same text always gets the same answer; on 1,000 clothing reviews batch 1 gave 216 texts/s, 4 gave 267
# and 32 gave 233 (padding), so the price is small.
BATCH = 1
DIMENSION = 384


@dataclass
class Read:
    """Piece vectors of a batch of texts: batches of windows, padded."""

    states: list[np.ndarray]  # per batch: (windows, pieces, 384) float32
    masks: list[np.ndarray]  # per batch: (windows, pieces) bool, True for real pieces
    offsets: list[np.ndarray]  # per batch: (windows, pieces, 2) character spans in the window's text
    text_of: list[np.ndarray]  # per batch: (windows,) index of the window's text
    n_texts: int

    def pooled(self) -> np.ndarray:
        """Mean piece vector of each text (special pieces included, as in training), L2-normalised."""
        sums = np.zeros((self.n_texts, DIMENSION), np.float64)
        counts = np.zeros(self.n_texts)
        for s, m, t in zip(self.states, self.masks, self.text_of, strict=True):
            np.add.at(sums, t, (s * m[..., None]).sum(1))
            np.add.at(counts, t, m.sum(1))
        return _normalise(sums / np.maximum(counts, 1)[:, None])

    def spans(self, spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean vector of the pieces inside each (start, end) character span of each text, L2-normalised;
        returns the vectors and, per vector, its text index. A span with no piece gets the text's mean."""
        whole = self.pooled()
        owner = np.array([i for i, s in enumerate(spans) for _ in s], dtype=np.int64)
        flat = [span for s in spans for span in s]
        first = np.cumsum([0] + [len(s) for s in spans])
        sums = np.zeros((len(flat), DIMENSION), np.float64)
        counts = np.zeros(len(flat))
        for s, m, o, t in zip(self.states, self.masks, self.offsets, self.text_of, strict=True):
            for w in range(len(t)):
                i = int(t[w])
                if first[i] == first[i + 1]:
                    continue
                real = m[w] & (o[w, :, 1] > o[w, :, 0])
                for k in range(first[i], first[i + 1]):
                    lo, hi = flat[k]
                    inside = real & (o[w, :, 0] >= lo) & (o[w, :, 1] <= hi)
                    if inside.any():
                        sums[k] += s[w][inside].sum(0)
                        counts[k] += inside.sum()
        out = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], whole[owner] if len(flat) else 0)
        return _normalise(out), owner


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.where(norms == 0, 1.0, norms), dtype=np.float32)


class Reader:
    """The int8 encoder in an ONNX Runtime session and the model's own tokenizer."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from heedful.listen.embed import model_path

        options = ort.SessionOptions()
        options.intra_op_num_threads = (
            threads or int(os.environ.get("HEEDFUL_THREADS", "0") or 0) or (os.cpu_count() or 1)
        )
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_PIECES, stride=STRIDE)
        self.tokenizer = tokenizer
        pairs = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        pairs.no_padding()
        pairs.enable_truncation(max_length=MAX_PIECES, strategy="only_first")
        self.pair_tokenizer = pairs

    def read(self, texts: list[str], batch_size: int = BATCH) -> Read:
        """Piece vectors of every text (an empty text is read as its special pieces alone)."""
        windows: list[tuple[int, Any]] = []
        for i, enc in enumerate(self.tokenizer.encode_batch([t or "" for t in texts])):
            windows.append((i, enc))
            windows.extend((i, extra) for extra in enc.overflowing)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1].ids))
        states, masks, offsets, text_of = [], [], [], []
        for start in range(0, len(order), batch_size):
            chunk = [windows[w] for w in order[start : start + batch_size]]
            width = max(len(e.ids) for _, e in chunk)
            ids = np.zeros((len(chunk), width), np.int64)
            mask = np.zeros((len(chunk), width), np.int64)
            spans = np.zeros((len(chunk), width, 2), np.int32)
            for r, (_, e) in enumerate(chunk):
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = 1
                spans[r, :n] = e.offsets
            out = self._run(ids, mask, np.zeros_like(ids))
            states.append(np.asarray(out, np.float32))
            masks.append(mask.astype(bool))
            offsets.append(spans)
            text_of.append(np.array([i for i, _ in chunk], dtype=np.int64))
        return Read(states, masks, offsets, text_of, len(texts))

    def _run(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return np.asarray(self.session.run(None, feed)[0], np.float32)

    def first_of_pairs(self, texts: list[str], themes: list[str], batch_size: int = BATCH) -> np.ndarray:
        """The first piece's vector of each pair "text [SEP] theme" (a long text is cut to fit)."""
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        encoded = self.pair_tokenizer.encode_batch(list(zip([t or "" for t in texts], themes, strict=True)))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        out = np.zeros((len(texts), DIMENSION), np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encoded[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            types = np.zeros((len(rows), width), np.int64)
            for r, i in enumerate(rows):
                e = encoded[i]
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
                types[r, : len(e.ids)] = e.type_ids
            out[rows] = self._run(ids, mask, types)[:, 0]
        return out

    def embed(self, texts: list[str]) -> np.ndarray:
        """One L2-normalised vector per text (mean of its pieces)."""
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        return self.read(texts).pooled()


_LOCK = threading.Lock()
_READER: Reader | None = None


def load_reader() -> Reader:
    """The packaged encoder, loaded once per process."""
    global _READER
    with _LOCK:
        if _READER is None:
            from heedful.errors import NotFittedError

            path = resources.files("heedful.listen").joinpath("models", ENCODER_FILE)
            if not path.is_file():
                raise NotFittedError(f"No listening encoder at {path}; run scripts/train_listening.py.")
            with resources.as_file(path) as file:
                _READER = Reader(Path(file))
        return _READER
