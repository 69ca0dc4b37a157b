"""Statistical building blocks every area shares, backed by statsmodels and SciPy.

Intervals and tests that several areas report (a share of positive feedback, a survey's top-box
share, a referral conversion rate) are computed here once, so the same share gets the same interval
wherever it is shown.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from scipy import stats as _scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint, proportions_ztest


@overload
def wilson_interval(successes: float, n: float, level: float = 0.95) -> tuple[float, float]: ...
@overload
def wilson_interval(successes: np.ndarray, n: np.ndarray | float, level: float = 0.95) -> tuple[Any, Any]: ...
@overload
def wilson_interval(successes: float, n: np.ndarray, level: float = 0.95) -> tuple[Any, Any]: ...


def wilson_interval(successes: Any, n: Any, level: float = 0.95) -> tuple[Any, Any]:
    """Wilson score interval for a proportion (statsmodels), vectorised; n = 0 gives NaN.

    Scalars in, floats out; arrays in, arrays out."""
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    empty = m <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        low, high = proportion_confint(k, np.where(empty, 1.0, m), alpha=1 - level, method="wilson")
    low = np.where(empty, np.nan, low)
    high = np.where(empty, np.nan, high)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def two_proportion_greater(x1: float, n1: float, x0: float, n0: float) -> tuple[float, float]:
    """z and one-sided p for H1: x1/n1 > x0/n0 (pooled two-proportion z-test); (0, 1) when undefined."""
    if n1 <= 0 or n0 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x0) / (n1 + n0)
    if pooled <= 0 or pooled >= 1:  # no variance: nothing to test
        return 0.0, 1.0
    z, p = proportions_ztest(np.array([x1, x0]), np.array([n1, n0]), alternative="larger")
    return float(z), float(p)


def benjamini_hochberg(p: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), via scipy.stats.false_discovery_control."""
    arr = np.asarray(p, dtype=float)
    if arr.size == 0:
        return arr
    return np.asarray(_scipy_stats.false_discovery_control(arr, method="bh"), dtype=float)


def holm(p: Any) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate), via statsmodels."""
    arr = np.asarray(p, dtype=float)
    if arr.size == 0:
        return arr
    return np.asarray(multipletests(arr, method="holm")[1], dtype=float)
