"""The leakage guard: columns that carry the answer (near-perfect alone, identifiers, post-cut-off dates)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from heedful.retain.encoding import MAX_LEVELS, FeatureEncoder
from heedful.retain.metrics import auc


@dataclass
class Leak:
    """A column that looks like it carries the answer."""

    feature: str
    reason: str
    single_feature_auc: float | None = None


def single_feature_auc(values: np.ndarray, y: np.ndarray, categorical: bool) -> float:
    """How well one column alone separates churners (0.5 = not at all, 1 = perfectly), either direction."""
    v = np.asarray(values, dtype=float)
    if categorical:
        # In-sample churn rate per level: a column whose levels are pure separates perfectly.
        codes = np.where(np.isnan(v), -1, v).astype(np.int64) + 1
        rate = np.bincount(codes, weights=y, minlength=codes.max() + 1) / np.maximum(np.bincount(codes), 1)
        v = rate[codes]
        return float(max(auc(v, y), 1 - auc(v, y)))
    best = 0.5
    # Missing values placed below and above every number: a column filled only for churners leaks too.
    finite = v[np.isfinite(v)]
    if len(finite) == 0:
        return 0.5
    span = float(finite.max() - finite.min()) + 1.0
    for fill in (float(finite.min()) - span, float(finite.max()) + span):
        a = auc(np.where(np.isnan(v), fill, v), y)
        if a == a:
            best = max(best, a, 1 - a)
    return float(best)


def find_leaks(
    X: np.ndarray,
    y: np.ndarray,
    encoder: FeatureEncoder,
    threshold: float = 0.98,
    cutoff: pd.Timestamp | None = None,
) -> list[Leak]:
    """Columns that predict churn almost perfectly on their own, look like ids, or hold post-cut-off dates."""
    leaks: list[Leak] = []
    n = len(y)
    for j, spec in enumerate(encoder.specs_):
        col = X[:, j]
        if spec.kind == "categorical" and n >= 50:
            n_distinct = len(np.unique(col[~np.isnan(col)]))
            if n_distinct >= 0.5 * n or (
                spec.levels is not None and len(spec.levels) >= MAX_LEVELS and n_distinct >= 0.2 * n
            ):
                leaks.append(Leak(spec.name, "looks like an identifier (almost every value is distinct)"))
                continue
        if spec.kind == "datetime" and cutoff is not None:
            cutoff_days = (pd.Timestamp(cutoff) - pd.Timestamp("1970-01-01")).total_seconds() / 86400.0
            if np.nanmax(col) >= cutoff_days:
                leaks.append(Leak(spec.name, f"holds dates on or after the cut-off {pd.Timestamp(cutoff).date()}"))
                continue
        score = single_feature_auc(col, y, spec.kind == "categorical")
        if score > threshold:
            leaks.append(
                Leak(spec.name, f"predicts churn almost perfectly on its own (AUC {score:.3f} > {threshold})", score)
            )
    return leaks
