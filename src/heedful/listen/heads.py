"""The listening model's heads, in numpy (trained with the encoder by `scripts/train_listening.py`,
whose torch modules they mirror):

- whole text: the first piece's vector ([CLS]) of the text read alone -> negative / neutral / positive;
- a theme in a sentence: the first piece's vector of the pair "sentence [SEP] theme label" -> absent /
  negative / neutral / positive. A theme is named by its label, so a user's own themes work too.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

import numpy as np
from scipy.special import softmax

from heedful.listen.reader import Read

HEADS_FILE = "listen_heads.npz"
THEME_CLASSES: tuple[str, ...] = ("absent", "negative", "neutral", "positive")


def _softmax(x: np.ndarray) -> np.ndarray:
    return np.asarray(softmax(x, axis=-1))


class Heads:
    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        self.w = {k: np.asarray(arrays[k], np.float32) for k in ("overall_w", "overall_b", "pair_w", "pair_b")}

    def overall_from_first(self, first: np.ndarray) -> np.ndarray:
        """(n, 3) negative, neutral, positive from first-piece vectors."""
        return _softmax(np.asarray(first, np.float32) @ self.w["overall_w"].T + self.w["overall_b"])

    def overall_proba(self, read: Read) -> np.ndarray:
        """(texts, 3) for each whole text; a text read in several windows: the mean of its windows' logits."""
        sums = np.zeros((read.n_texts, 3), np.float64)
        counts = np.zeros(read.n_texts)
        for s, t in zip(read.states, read.text_of.tolist(), strict=True):
            sums[t] += (s[:1] @ self.w["overall_w"].T + self.w["overall_b"])[0]
            counts[t] += 1
        return _softmax(sums / np.maximum(counts, 1)[:, None])

    def pair_proba(self, first: np.ndarray) -> np.ndarray:
        """(pairs, 4) absent, negative, neutral, positive from the first-piece vectors of (sentence, theme) pairs."""
        return _softmax(np.asarray(first, np.float32) @ self.w["pair_w"].T + self.w["pair_b"])


_HEADS: Heads | None = None


def load_heads() -> Heads:
    global _HEADS
    if _HEADS is None:
        path = resources.files("heedful.listen").joinpath("models", HEADS_FILE)
        with resources.as_file(path) as file, np.load(file) as arrays:
            _HEADS = Heads({k: arrays[k] for k in arrays.files})
    return _HEADS
