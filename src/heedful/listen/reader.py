"""heedful's listening encoder on ONNX Runtime: reads texts (and "sentence [SEP] theme" pairs).

The encoder is the packaged all-MiniLM-L6-v2, fine-tuned by `scripts/train_listening.py` and stored
with int8 weights (`models/listen_encoder.onnx`). Texts longer than MAX_PIECES word pieces are read
in overlapping windows. `Read` keeps, per window, the piece vectors and each piece's character span
in its text, so a sentence or a theme can be pooled from one pass without reading the text again.

Every window and every pair is read on its own: the int8 encoder quantises its activations per call
(dynamic quantisation), so in a batch a text's result would depend on its neighbours (a label flipped
with the file it came in). Alone, the same text always gets the same answer. The cores are used by
reading several texts at once, one per thread (ONNX Runtime releases the GIL), each run on one core:
on 1,000 clothing reviews and 2 busy cores (load average 3), 2 threads of one-core runs read 145 and 102
texts/s in two turns where one run at a time on 2 cores read 50 and 68, since no run waits for a second core. Padded batches would
need activation scales that do not depend on the batch; `scripts/quantize_listening.py` measured the
options on one core: static int8 (calibrated) 105 texts per CPU-second against 109 for this model read
one text at a time, with 3.5% of the whole-text labels changed; fp32 (the int8 weights dequantised) 47
and 8-bit MatMulNBits 60, both over the 40 MB budget; batches of 16 were no faster for any of them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

ENCODER_FILE = "listen_encoder.onnx"
MAX_PIECES = 256  # word pieces per window (the encoder's trained length)
STRIDE = 32  # pieces shared by consecutive windows of a long text
DIMENSION = 384
# ONNX Runtime fuses each residual add and layer norm into SkipLayerNormalization, whose CPU kernel (ONNX
# Runtime 1.32) took 30% of the encoder's time on an AVX-512 Xeon (150 us a call for 77 pieces; the plain
# LayerNormalization and Add it replaces take 25 us): without that fusion the default path reads 19% more
# texts per second (bench/bench_listen_speed.py; 207 -> 248 items/s there). The results differ in the last
# float bits, which the int8 quantisation carries on: on the evaluation category F1 0.883 -> 0.884,
# polarity end to end 0.777 -> 0.775, with gold categories 0.850 -> 0.849, the multi-aspect proxy unchanged
# (0.585), clothing balanced accuracy 0.898 -> 0.898 (docs/listening.md, "A seventh host").
DISABLED_OPTIMIZERS: list[str] = ["SkipLayerNormFusion"]

T = TypeVar("T")


@dataclass
class Read:
    """Piece vectors of some texts, one entry per window (a text has one window unless it is long)."""

    states: list[np.ndarray]  # per window: (pieces, 384) float32, special pieces included
    offsets: list[np.ndarray]  # per window: (pieces, 2) character spans in the window's text ((0, 0): special)
    text_of: np.ndarray  # (windows,) index of the window's text
    n_texts: int

    def pooled(self) -> np.ndarray:
        """Mean piece vector of each text (special pieces included, as in training), L2-normalised."""
        sums = np.zeros((self.n_texts, DIMENSION), np.float64)
        counts = np.zeros(self.n_texts)
        for s, t in zip(self.states, self.text_of.tolist(), strict=True):
            sums[t] += s.sum(0)
            counts[t] += len(s)
        return _normalise(sums / np.maximum(counts, 1)[:, None])

    def spans(self, spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, np.ndarray]:
        """Mean vector of the pieces inside each (start, end) character span of each text, L2-normalised;
        returns the vectors and, per vector, its text index. A span with no piece gets the text's mean."""
        whole = self.pooled()
        owner = np.array([i for i, s in enumerate(spans) for _ in s], dtype=np.int64)
        first = np.cumsum([0] + [len(s) for s in spans])
        bounds = np.array([span for s in spans for span in s], dtype=np.int64).reshape(-1, 2)
        sums = np.zeros((len(bounds), DIMENSION), np.float64)
        counts = np.zeros(len(bounds))
        for s, o, i in zip(self.states, self.offsets, self.text_of.tolist(), strict=True):
            lo, hi = first[i], first[i + 1]
            if lo == hi:
                continue
            real = o[:, 1] > o[:, 0]
            inside = real & (o[None, :, 0] >= bounds[lo:hi, :1]) & (o[None, :, 1] <= bounds[lo:hi, 1:])
            sums[lo:hi] += inside.astype(np.float64) @ s.astype(np.float64)
            counts[lo:hi] += inside.sum(1)
        out = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], whole[owner] if len(bounds) else 0)
        return _normalise(out), owner


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.asarray(x / np.where(norms == 0, 1.0, norms), dtype=np.float32)


def thread_count(threads: int | None = None) -> int:
    """Threads to read with: `threads`, else $HEEDFUL_THREADS, else the number of cores."""
    return max(1, threads or int(os.environ.get("HEEDFUL_THREADS", "0") or 0) or (os.cpu_count() or 1))


class Reader:
    """The int8 encoder in an ONNX Runtime session and the model's own tokenizer."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from heedful.listen.embed import model_path

        self.threads = thread_count(threads)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one core per run; runs go side by side (see the module's doc)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=DISABLED_OPTIMIZERS
        )
        self._pool = ThreadPoolExecutor(self.threads, "heedful-listen") if self.threads > 1 else None
        tokenizer = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=MAX_PIECES, stride=STRIDE)
        self.tokenizer = tokenizer
        pairs = Tokenizer.from_file(str(Path(model_path()) / "tokenizer.json"))
        pairs.no_padding()
        pairs.enable_truncation(max_length=MAX_PIECES, strategy="only_first")
        self.pair_tokenizer = pairs

    def _each(self, fn: Callable[[T], np.ndarray], items: Iterable[T]) -> list[np.ndarray]:
        """fn over the items, side by side on the reader's threads (in order)."""
        if self._pool is None:
            return [fn(x) for x in items]
        return list(self._pool.map(fn, items))

    def _run(self, encoding: Any, pair: bool = False) -> np.ndarray:
        """(pieces, 384) piece vectors of one encoded text or pair, read alone."""
        ids = np.array([encoding.ids], np.int64)
        types = np.array([encoding.type_ids], np.int64) if pair else np.zeros_like(ids)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": types}
        return np.asarray(self.session.run(None, feed)[0][0], np.float32)

    def read(self, texts: list[str]) -> Read:
        """Piece vectors of every text (an empty text is read as its special pieces alone)."""
        windows: list[tuple[int, Any]] = []
        for i, enc in enumerate(self.tokenizer.encode_batch([t or "" for t in texts])):
            windows.append((i, enc))
            windows.extend((i, extra) for extra in enc.overflowing)
        # longest first, so that no thread is left with a long window at the end
        order = sorted(range(len(windows)), key=lambda w: -len(windows[w][1].ids))
        read = self._each(lambda w: self._run(windows[w][1]), order)
        states: list[np.ndarray] = [np.zeros(0)] * len(windows)
        for w, s in zip(order, read, strict=True):
            states[w] = s
        offsets = [np.array(e.offsets, dtype=np.int32).reshape(-1, 2) for _, e in windows]
        return Read(states, offsets, np.array([i for i, _ in windows], dtype=np.int64), len(texts))

    def first_of_pairs(self, texts: list[str], themes: list[str]) -> np.ndarray:
        """The first piece's vector of each pair "text [SEP] theme" (a long text is cut to fit); a pair
        asked twice is read once."""
        if not texts:
            return np.zeros((0, DIMENSION), np.float32)
        pairs = list(zip([t or "" for t in texts], themes, strict=True))
        unique = list(dict.fromkeys(pairs))
        encoded = self.pair_tokenizer.encode_batch(unique)
        order = sorted(range(len(unique)), key=lambda i: -len(encoded[i].ids))
        read = self._each(lambda i: self._run(encoded[i], pair=True)[0], order)
        first = np.zeros((len(unique), DIMENSION), np.float32)
        first[order] = np.stack(read)
        index = {p: n for n, p in enumerate(unique)}
        return first[[index[p] for p in pairs]]

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
