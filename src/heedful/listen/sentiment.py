"""The sentiment head: multinomial logistic regression on sentence embeddings plus word uni/bigrams.

Trained by `scripts/train_sentiment.py` (UCI sentiment-labelled sentences + SemEval-2014 restaurant
train polarities, sentence- and clause-level); one head per embedding backend, shipped as a small .npz
(no pickle). Classes: negative, neutral, positive.

Word features are TF-IDF weighted uni- and bigrams over a vocabulary learned from the training texts
(sublinear term frequency, smoothed idf, rows L2-normalised). They carry what a mean-pooled embedding
blurs ("not good", "a bit small"); on SemEval-2014 they raised category-polarity accuracy by about
2.5 points (docs/listening.md).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from itertools import pairwise
from typing import Any

import numpy as np

from heedful.errors import NotFittedError
from heedful.estimators import BaseEstimator, check_fitted

CLASSES: tuple[str, ...] = ("negative", "neutral", "positive")
HEAD_FILE = "sentiment_head.npz"
TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]"  # single letters and ! ? count ("a 5", "not it!")
_TOKEN = re.compile(TOKEN_PATTERN)


class SentimentHead(BaseEstimator):
    """Polarity classifier over embeddings and (optionally) word n-grams.

    scikit-learn contract: `fit` returns self, fitted state ends in `_`. With `word_features`, `fit` and
    `predict_proba` also take the texts the embedding rows came from.
    """

    def __init__(self, C: float = 4.0, max_iter: int = 2000, word_features: bool = True, min_df: int = 3) -> None:
        self.C = C
        self.max_iter = max_iter
        self.word_features = word_features
        self.min_df = min_df

    def fit(
        self,
        X: np.ndarray,
        y: list[str] | np.ndarray,
        texts: Sequence[str] | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> SentimentHead:
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(y)
        unknown = set(labels) - set(CLASSES)
        if unknown:
            raise ValueError(f"unknown sentiment labels {sorted(unknown)}; use {CLASSES}")
        X = np.asarray(X, dtype=np.float64)
        self._index: dict[str, int] | None = None  # the word index of an earlier fit
        if self.word_features:
            if texts is None or len(texts) != len(X):
                raise ValueError("word_features=True needs the texts of the embedding rows")
            counts = CountVectorizer(ngram_range=(1, 2), min_df=self.min_df, token_pattern=TOKEN_PATTERN).fit(texts)
            self.vocabulary_ = counts.get_feature_names_out().astype(str)
            df = np.asarray((counts.transform(texts) > 0).sum(axis=0)).ravel()
            self.idf_ = np.log((1 + len(texts)) / (1 + df)) + 1.0  # scikit-learn's smoothed idf
            features: Any = self._features(X, texts)
        else:
            self.vocabulary_ = np.array([], dtype=str)
            self.idf_ = np.zeros(0)
            features = X
        model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        model.fit(features, labels, sample_weight=sample_weight)
        # Keep a fixed class order so scores and files do not depend on which labels were present.
        width = features.shape[1]
        coef = np.zeros((len(CLASSES), width), dtype=np.float64)
        intercept = np.full(len(CLASSES), -30.0)
        if len(model.classes_) == 2:  # binary LR has one row: class 1 vs class 0
            pos, neg = CLASSES.index(model.classes_[1]), CLASSES.index(model.classes_[0])
            coef[pos], intercept[pos] = model.coef_[0], model.intercept_[0]
            coef[neg], intercept[neg] = 0.0, 0.0
        else:
            for row, cls in enumerate(model.classes_):
                coef[CLASSES.index(cls)], intercept[CLASSES.index(cls)] = model.coef_[row], model.intercept_[row]
        self.coef_ = coef[:, : X.shape[1]]
        self.word_coef_ = coef[:, X.shape[1] :]
        self.intercept_ = intercept
        self.classes_ = np.array(CLASSES)
        return self

    def _check(self) -> None:
        check_fitted(self, "coef_", how="call fit() or load_sentiment_head()")

    @property
    def uses_words(self) -> bool:
        return len(getattr(self, "vocabulary_", ())) > 0

    def word_matrix(self, texts: Sequence[str]) -> Any:
        """Sparse TF-IDF rows (sublinear tf, L2-normalised) over the head's vocabulary."""
        from sklearn.feature_extraction.text import CountVectorizer
        from sklearn.preprocessing import normalize

        if not hasattr(self, "_counter"):
            self._counter = CountVectorizer(
                ngram_range=(1, 2), token_pattern=TOKEN_PATTERN, vocabulary=self.vocabulary_.tolist()
            )
        m = self._counter.transform(texts).astype(np.float64)
        m.data = 1.0 + np.log(m.data)
        return normalize(m.multiply(self.idf_).tocsr())

    def word_logits(self, texts: Sequence[str]) -> np.ndarray:
        """(texts, classes): the word features' share of the logits, `word_matrix(texts) @ word_coef_.T`
        computed without scikit-learn or SciPy. Importing scikit-learn's text module loads SciPy's statistics
        too — 0.6 s here, 1.2 s on a slower host, more than the `--fast` path spends classifying 2,000
        reviews — for a vocabulary lookup. The same analyser as `CountVectorizer(ngram_range=(1, 2),
        token_pattern=TOKEN_PATTERN)`: lower case, the pattern's tokens, then each pair of neighbours joined
        by a space (tests compare the two on thousands of texts)."""
        index = self._word_index()
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for row, text in enumerate(texts):
            tokens = _TOKEN.findall(text.lower())
            seen: dict[int, int] = {}
            for gram in (*tokens, *map(" ".join, pairwise(tokens))):
                j = index.get(gram)
                if j is not None:
                    seen[j] = seen.get(j, 0) + 1
            rows.extend([row] * len(seen))
            columns.extend(seen)
            counts.extend(seen.values())
        out = np.zeros((len(texts), len(CLASSES)))
        if not rows:
            return out
        at, cols = np.asarray(rows), np.asarray(columns)
        weight = (1.0 + np.log(np.asarray(counts, dtype=np.float64))) * self.idf_[cols]
        norm = np.sqrt(np.bincount(at, weights=weight**2, minlength=len(texts)))
        weight /= norm[at]
        np.add.at(out, at, weight[:, None] * self.word_coef_.T[cols])
        return out

    def _word_index(self) -> dict[str, int]:
        index = getattr(self, "_index", None)
        if index is None:
            index = self._index = {word: j for j, word in enumerate(self.vocabulary_.tolist())}
        return index

    def _features(self, X: np.ndarray, texts: Sequence[str]) -> Any:
        from scipy import sparse

        return sparse.hstack([sparse.csr_matrix(X), self.word_matrix(texts)]).tocsr()

    def predict_proba(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Probabilities, columns in `classes_` order (negative, neutral, positive)."""
        self._check()
        logits = np.asarray(X, dtype=np.float64) @ self.coef_.T + self.intercept_
        if self.uses_words:
            if texts is None or len(texts) != len(logits):
                raise ValueError("this sentiment head uses word features: pass the texts of the rows")
            logits += self.word_logits(texts)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        self._check()
        return self.classes_[self.predict_proba(X, texts).argmax(axis=1)]

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        self._check()
        return {
            f"{prefix}_coef": self.coef_.astype(np.float32),
            f"{prefix}_intercept": self.intercept_,
            f"{prefix}_word_coef": self.word_coef_.astype(np.float32),
            f"{prefix}_vocabulary": np.asarray(self.vocabulary_, dtype=str),
            f"{prefix}_idf": self.idf_.astype(np.float32),
        }

    @classmethod
    def from_arrays(cls, arrays: Any, prefix: str) -> SentimentHead:
        head = cls()
        head.coef_ = np.asarray(arrays[f"{prefix}_coef"], dtype=np.float64)
        head.intercept_ = np.asarray(arrays[f"{prefix}_intercept"], dtype=np.float64)
        head.word_coef_ = np.asarray(arrays.get(f"{prefix}_word_coef", np.zeros((len(CLASSES), 0))), dtype=np.float64)
        head.vocabulary_ = np.asarray(arrays.get(f"{prefix}_vocabulary", np.array([], dtype=str)), dtype=str)
        head.idf_ = np.asarray(arrays.get(f"{prefix}_idf", np.zeros(0)), dtype=np.float64)
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
