"""Theme classifier over embeddings: few-shot (similarity to examples) or supervised (one-vs-rest LR).

scikit-learn contract: hyper-parameters in `__init__`, `fit(X, y) -> self` with `y` a list of theme-id
lists (one per row), fitted state in attributes ending in `_`. Thresholds are calibrated on the
training data (leave-one-out for few-shot, 3-fold cross-validation for supervised), not fixed by hand.

Supervised, with the examples' texts given to `fit(X, y, texts=...)`, each theme also gets a logistic
regression over TF-IDF word uni- and bigrams, and a theme's probability is the mean of both (weight
`lexical_weight` for the words). A sentence's mean vector dilutes a theme it names in passing ("the food
was great but the waiter forgot us"); its words ("waiter") do not. The texts must then be given to
`decision_function` / `predict` too. On the development part of the SemEval-2014 train split (theme
classifier alone): micro-F1 0.816 -> 0.823, recall 0.831 -> 0.856; themes found in its sentences naming
two polarities 0.767 -> 0.814 (`scripts/tune_listening.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from heedful.estimators import BaseEstimator, check_fitted

if TYPE_CHECKING:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

Mode = Literal["auto", "few_shot", "supervised"]


class ThemeClassifier(BaseEstimator):
    """Multi-label theme detector.

    mode: "auto" trains the supervised model when every theme has at least `min_supervised_examples`
    examples, else uses few-shot similarity. `at_least_one` forces the best theme when none passes its
    threshold (use it when the taxonomy has a catch-all theme).

    Few-shot: a text's score for a theme is the mean of its `top_k` cosine similarities to the theme's
    examples; a theme is detected when its score passes the threshold (leave-one-out F1 on the examples)
    and lies within `margin` of the text's best theme. `center` measures similarity after removing the
    examples' mean vector: the static fast path's vectors (means of word-piece vectors) share one
    direction that makes every text similar to every example (without it that path found 13.8 of the
    default taxonomy's 15 themes in the average clothing review). `threshold_offset` is added to the
    leave-one-out threshold (few-shot only).
    """

    def __init__(
        self,
        mode: Mode = "auto",
        min_supervised_examples: int = 25,
        C: float = 4.0,
        top_k: int = 3,
        margin: float = 0.1,
        at_least_one: bool = False,
        random_state: int = 0,
        lexical_weight: float = 0.5,
        center: bool = False,
        threshold_offset: float = 0.0,
    ) -> None:
        self.mode = mode
        self.min_supervised_examples = min_supervised_examples
        self.C = C
        self.top_k = top_k
        self.margin = margin
        self.at_least_one = at_least_one
        self.random_state = random_state
        self.lexical_weight = lexical_weight
        self.center = center
        self.threshold_offset = threshold_offset

    # ------------------------------------------------------------------ fitting
    def fit(self, X: np.ndarray, y: Sequence[Sequence[str]], texts: Sequence[str] | None = None) -> ThemeClassifier:
        """Fit on embeddings `X` and theme-id lists `y`; `texts` (the rows' texts) add word evidence to
        the supervised model (then pass texts when predicting too)."""
        X = np.asarray(X, dtype=np.float32)
        if len(X) != len(y) or (texts is not None and len(texts) != len(y)):
            raise ValueError("X, y and texts must have the same number of rows")
        self.classes_ = np.array(sorted({t for labels in y for t in labels}))
        if len(self.classes_) == 0:
            raise ValueError("no theme labels to learn from")
        Y = np.array([[c in set(labels) for c in self.classes_] for labels in y], dtype=bool)
        counts = Y.sum(axis=0)
        supervised = self.mode == "supervised" or (
            self.mode == "auto" and counts.min() >= self.min_supervised_examples and len(self.classes_) > 1
        )
        self.mode_ = "supervised" if supervised else "few_shot"
        self.vectorizer_: TfidfVectorizer | None = None
        if supervised:
            self._fit_supervised(X, Y, texts)
        else:
            self._fit_few_shot(X, Y)
        return self

    def _fit_supervised(self, X: np.ndarray, Y: np.ndarray, texts: Sequence[str] | None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.model_selection import StratifiedKFold

        words = None
        if texts is not None and self.lexical_weight > 0:
            self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
            words = self.vectorizer_.fit_transform([t or "" for t in texts])
        coefs, intercepts, thresholds, word_coefs, word_intercepts = [], [], [], [], []
        w = self.lexical_weight if words is not None else 0.0
        for j in range(Y.shape[1]):
            y = Y[:, j]
            model = self._lr(X).fit(X, y)
            coefs.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
            held_out = np.zeros(len(y))
            folds = StratifiedKFold(3, shuffle=True, random_state=self.random_state).split(X, y)
            for train, test in folds:
                p = self._lr(X).fit(X[train], y[train]).predict_proba(X[test])[:, 1]
                if words is not None:
                    q = self._lr(words).fit(words[train], y[train]).predict_proba(words[test])[:, 1]
                    p = (1 - w) * p + w * q
                held_out[test] = p
            if words is not None:
                lexical = self._lr(words).fit(words, y)
                word_coefs.append(lexical.coef_[0])
                word_intercepts.append(lexical.intercept_[0])
            thresholds.append(_best_f1_threshold(held_out, y))
        self.coef_ = np.array(coefs, dtype=np.float32)
        self.intercept_ = np.array(intercepts, dtype=np.float32)
        self.thresholds_ = np.array(thresholds)
        if words is not None:
            self.word_coef_ = np.array(word_coefs, dtype=np.float32)
            self.word_intercept_ = np.array(word_intercepts, dtype=np.float32)

    def _lr(self, X: object) -> LogisticRegression:
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        solver = "liblinear" if sparse.issparse(X) else "newton-cholesky"
        return LogisticRegression(C=self.C, solver=solver, max_iter=500)

    def _fit_few_shot(self, X: np.ndarray, Y: np.ndarray) -> None:
        self.center_ = np.asarray(X, dtype=np.float32).mean(axis=0) if self.center else np.zeros(X.shape[1], np.float32)
        self.examples_ = _unit(X - self.center_)
        self.example_labels_ = Y
        # Leave-one-out: score each example against the others, pick the threshold with best F1.
        sims = self.examples_ @ self.examples_.T
        np.fill_diagonal(sims, -np.inf)
        loo = self._pool(sims)
        threshold = _best_f1_threshold(loo.ravel(), Y.ravel()) + self.threshold_offset
        self.thresholds_ = np.full(Y.shape[1], threshold)

    def _pool(self, sims: np.ndarray) -> np.ndarray:
        """Per theme: mean of the `top_k` highest similarities to that theme's examples."""
        out = np.empty((sims.shape[0], self.example_labels_.shape[1]), dtype=np.float32)
        for j in range(self.example_labels_.shape[1]):
            cols = sims[:, self.example_labels_[:, j]]
            k = min(self.top_k, cols.shape[1])
            top = -np.sort(-cols, axis=1)[:, :k]
            top = np.where(np.isfinite(top), top, np.nan)
            out[:, j] = np.nan_to_num(np.nanmean(top, axis=1), nan=-1.0) if k else -1.0
        return out

    # ------------------------------------------------------------------ predicting
    def _check(self) -> None:
        check_fitted(self, "thresholds_")

    def decision_function(self, X: np.ndarray, texts: Sequence[str] | None = None) -> np.ndarray:
        """Scores per theme (probabilities when supervised, pooled cosine similarity when few-shot);
        `texts` (the rows' texts) are needed when the model was fitted with texts."""
        self._check()
        X = np.asarray(X, dtype=np.float32)
        if self.mode_ == "few_shot":
            return self._pool((_unit(X - self.center_) if self.center else X) @ self.examples_.T)
        proba = _sigmoid(X @ self.coef_.T + self.intercept_)
        if self.vectorizer_ is None:
            return proba
        if texts is None or len(texts) != len(X):
            raise ValueError("this theme model reads words too: pass the rows' texts")
        words = self.vectorizer_.transform([t or "" for t in texts])
        lexical = _sigmoid(np.asarray(words @ self.word_coef_.T) + self.word_intercept_)
        return np.asarray((1 - self.lexical_weight) * proba + self.lexical_weight * lexical, dtype=np.float32)

    predict_proba = decision_function

    def predict_indicator(
        self, X: np.ndarray, scores: np.ndarray | None = None, texts: Sequence[str] | None = None
    ) -> np.ndarray:
        """Boolean (n, themes) matrix of detected themes."""
        s = self.decision_function(X, texts) if scores is None else scores
        hits = s >= self.thresholds_
        if self.mode_ == "few_shot":  # similarity is relative: keep only themes close to the best one
            hits &= s >= s.max(axis=1, keepdims=True) - self.margin
        if self.at_least_one and len(s):
            empty = ~hits.any(axis=1)
            hits[empty, s[empty].argmax(axis=1)] = True
        return hits

    def predict(self, X: np.ndarray, texts: Sequence[str] | None = None) -> list[list[str]]:
        hits = self.predict_indicator(X, texts=texts)
        return [list(self.classes_[row]) for row in hits]


def _unit(X: np.ndarray) -> np.ndarray:
    return np.asarray(X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12), dtype=np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float32)


def _best_f1_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The cut-off on `scores` that maximises F1 against boolean `truth`."""
    order = np.argsort(-scores)
    s, t = scores[order], truth[order].astype(float)
    tp = np.cumsum(t)
    fp = np.cumsum(1 - t)
    positives = t.sum()
    if positives == 0:
        return float(s[0] + 1e-6) if len(s) else 0.5
    f1 = 2 * tp / (tp + fp + positives)
    best = int(np.argmax(f1))
    # Cut halfway to the next score so ties and tiny shifts do not flip decisions.
    nxt = s[best + 1] if best + 1 < len(s) else s[best] - 1e-3
    return float((s[best] + nxt) / 2)
