"""Evaluation measures for risk scores: fast AUC with a bootstrap interval, Brier score, reliability."""

from __future__ import annotations

import numpy as np
import pandas as pd


def auc(scores: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve (ties count one half); NaN when only one class is present."""
    order = np.argsort(scores, kind="mergesort")
    return _auc_sorted(np.asarray(scores)[order], np.asarray(y)[order], None if weights is None else weights[order])


def _auc_sorted(s: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> float:
    w = np.ones(len(s)) if w is None else w.astype(float)
    pos = w * (y == 1)
    neg = w * (y != 1)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return float("nan")
    # Group equal scores: a positive beats the negatives below its group and ties half of its own.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos_g = np.add.reduceat(pos, starts)
    neg_g = np.add.reduceat(neg, starts)
    neg_below = np.cumsum(neg_g) - neg_g
    return float(np.sum(pos_g * (neg_below + 0.5 * neg_g)) / (total_pos * total_neg))


def bootstrap_auc_ci(
    scores: np.ndarray, y: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile interval of the AUC over customers resampled with replacement (Poisson bootstrap)."""
    if n_boot <= 0:
        return (float("nan"), float("nan"))
    order = np.argsort(scores, kind="mergesort")
    s, yy = np.asarray(scores)[order], np.asarray(y)[order]
    rng = np.random.default_rng(seed)
    draws = np.array([_auc_sorted(s, yy, rng.poisson(1.0, len(s))) for _ in range(n_boot)])
    draws = draws[np.isfinite(draws)]
    alpha = (1 - level) / 2
    return (float(np.quantile(draws, alpha)), float(np.quantile(draws, 1 - alpha)))


def brier(p: np.ndarray, y: np.ndarray) -> float:
    """Mean squared difference between predicted probability and outcome (lower is better)."""
    return float(np.mean((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2))


def reliability_table(p: np.ndarray, y: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Predicted vs observed churn rate in equal-count bins of predicted risk."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    order = np.argsort(p, kind="mergesort")
    rows = []
    for i, idx in enumerate(np.array_split(order, min(bins, max(len(p), 1)))):
        if len(idx) == 0:
            continue
        rows.append(
            {
                "bin": i + 1,
                "lower": float(p[idx].min()),
                "upper": float(p[idx].max()),
                "n": len(idx),
                "mean_predicted": float(p[idx].mean()),
                "observed_rate": float(y[idx].mean()),
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |predicted − observed| over equal-count bins."""
    table = reliability_table(p, y, bins)
    if table.empty:
        return float("nan")
    gap = (table["mean_predicted"] - table["observed_rate"]).abs()
    return float(np.sum(gap * table["n"]) / table["n"].sum())
