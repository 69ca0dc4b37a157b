"""The sentiment head: multinomial logistic regression on sentence embeddings, shipped as a small .npz.

Trained by `scripts/train_sentiment.py` (UCI sentiment-labelled sentences + SemEval-2014 restaurant
train polarities); one head per embedding backend. Classes: negative, neutral, positive.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

from heedful.errors import NotFittedError

CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
HEAD_FILE = "sentiment_head.npz"


class SentimentHead:
    """Polarity classifier over embeddings (scikit-learn contract: `fit` returns self, state ends in `_`)."""

    def __init__(self, C: float = 4.0, max_iter: int = 200) -> None:
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: np.ndarray, y: list[str] | np.ndarray, sample_weight: np.ndarray | None = None) -> SentimentHead:
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(y)
        unknown = set(labels) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown sentiment labels {sorted(unknown)}; use {CLASSES}")
        model = LogisticRegression(C=self.C, solver="newton-cholesky", max_iter=self.max_iter)
        model.fit(X, labels, sample_weight=sample_weight)
        # Keep a fixed class order so scores and files do not depend on which labels were present.
        coef = np.zeros((len(CLASSES), X.shape[1]), dtype=np.float64)
        intercept = np.full(len(CLASSES), -30.0)
        for row, cls in enumerate(model.classes_):
            coef[CLASSES.index(cls)] = model.coef_[row] if len(model.classes_) > 2 else 0.0
            intercept[CLASSES.index(cls)] = model.intercept_[row] if len(model.classes_) > 2 else 0.0
        if len(model.classes_) == 2:  # binary LR has one row: class 1 vs class 0
            pos, neg = CLASSES.index(model.classes_[1]), CLASSES.index(model.classes_[0])
            coef[pos], intercept[pos] = model.coef_[0], model.intercept_[0]
            coef[neg], intercept[neg] = 0.0, 0.0
        self.coef_ = coef
        self.intercept_ = intercept
        self.classes_ = np.array(CLASSES)
        return self

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("SentimentHead is not fitted: call fit() or load_sentiment_head().")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities, columns in `classes_` order (negative, neutral, positive)."""
        self._check()
        logits = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        self._check()
        return {f"{prefix}_coef": self.coef_.astype(np.float32), f"{prefix}_intercept": self.intercept_}

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str) -> SentimentHead:
        head = cls()
        head.coef_ = np.asarray(arrays[f"{prefix}_coef"], dtype=np.float64)
        head.intercept_ = np.asarray(arrays[f"{prefix}_intercept"], dtype=np.float64)
        head.classes_ = np.array(CLASSES)
        return head


def score(proba: np.ndarray) -> np.ndarray:
    """Sentiment score in [-1, 1]: P(positive) - P(negative)."""
    return proba[:, CLASSES.index("positive")] - proba[:, CLASSES.index("negative")]


_HEADS: dict[str, SentimentHead] = {}


def load_sentiment_head(backend: str = "transformer") -> SentimentHead:
    """The head shipped in `heedful/listen/models/`, for the given embedding backend (cached)."""
    if backend not in _HEADS:
        path = resources.files("heedful.listen").joinpath("models", HEAD_FILE)
        with resources.as_file(path) as file, np.load(file) as arrays:
            if f"{backend}_coef" not in arrays:
                raise NotFittedError(f"No sentiment head for backend {backend!r}; run scripts/train_sentiment.py.")
            _HEADS[backend] = SentimentHead.from_arrays(arrays, backend)
    return _HEADS[backend]
