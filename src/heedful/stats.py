"""Statistical building blocks every area shares, backed by statsmodels and SciPy.

Intervals and tests that several areas report (a share of positive feedback, a survey's top-box
share, a referral conversion rate) are computed here once, so the same share gets the same interval
wherever it is shown.
"""

from __future__ import annotations

from typing import Any, overload

import numpy as np
from scipy import stats as _scipy_stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint, proportions_ztest


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
    """z (pooled two-proportion z-test, for ranking) and one-sided p for H1: x1/n1 > x0/n0
    (`two_proportion_p`: exact where the counts are few); (0, 1) when undefined."""
    if n1 <= 0 or n0 <= 0:
        return 0.0, 1.0
    pooled = (x1 + x0) / (n1 + n0)
    if pooled <= 0 or pooled >= 1:  # no variance: nothing to test
        return 0.0, 1.0
    z, _ = proportions_ztest(np.array([x1, x0]), np.array([n1, n0]), alternative="larger")
    return float(z), two_proportion_p(x1, n1, x0, n0, "larger")


#: the pooled z-test's normal approximation is trusted where every expected count is at least this
MIN_EXPECTED = 5.0


def two_proportion_p(x1: float, n1: float, x0: float, n0: float, alternative: str = "two-sided") -> float:
    """p-value that the share x1/n1 differs from x0/n0 (`alternative` "two-sided"), or is larger ("larger") or
    smaller ("smaller"): the pooled z-test where every expected count is at least MIN_EXPECTED, else Fisher's
    exact test (SciPy), since the normal approximation claims far too much from a handful of answers (2 of 2,
    then 0 of 2: p = 0.046 by z, 0.33 exactly). 1 where either group is empty or there is no variance."""
    if n1 <= 0 or n0 <= 0:
        return 1.0
    pooled = (x1 + x0) / (n1 + n0)
    if pooled <= 0 or pooled >= 1:
        return 1.0
    k1, k0 = round(x1), round(x0)
    expected = min(pooled, 1 - pooled) * min(n1, n0)
    if expected < MIN_EXPECTED and abs(k1 - x1) < 1e-6 and abs(k0 - x0) < 1e-6 and n1 == round(n1) and n0 == round(n0):
        table = [[k1, round(n1) - k1], [k0, round(n0) - k0]]
        side = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}[alternative]
        return float(_scipy_stats.fisher_exact(table, alternative=side).pvalue)
    _, p = proportions_ztest(np.array([x1, x0]), np.array([n1, n0]), alternative=alternative)
    return float(p)


def difference_interval(x1: float, n1: float, x0: float, n0: float, level: float = 0.95) -> tuple[float, float]:
    """Interval for x1/n1 - x0/n0 (Newcombe's hybrid score interval, built from two Wilson intervals, so it
    behaves at small samples and near 0 or 1); (NaN, NaN) when either group is empty."""
    if n1 <= 0 or n0 <= 0:
        return float("nan"), float("nan")
    low, high = confint_proportions_2indep(x1, n1, x0, n0, method="newcomb", compare="diff", alpha=1 - level)
    return float(low), float(high)


def benjamini_hochberg(p: Any) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values), via scipy.stats.false_discovery_control."""
    arr = np.asarray(p, dtype=float)
    if arr.size == 0:
        return arr
    return np.asarray(_scipy_stats.false_discovery_control(arr, method="bh"), dtype=float)


def holm(p: Any) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error rate): the i-th smallest of m times (m - i + 1),
    made monotone, capped at 1 — statsmodels' `multipletests(method="holm")` values (tests/test_stats.py),
    computed here because that function runs a full `gc.collect()` on every call (0.1–0.5 s in a process
    with a large heap, such as the server running its alert checks)."""
    arr = np.asarray(p, dtype=float)
    if arr.size == 0:
        return arr
    order = np.argsort(arr, kind="stable")
    stepped = np.maximum.accumulate(arr[order] * np.arange(arr.size, 0, -1))
    out = np.empty_like(arr)
    out[order] = np.minimum(stepped, 1.0)
    return out


@overload
def nps_interval(promoters: float, passives: float, detractors: float, level: float = 0.95) -> tuple[float, float]: ...
@overload
def nps_interval(promoters: Any, passives: Any, detractors: Any, level: float = 0.95) -> tuple[Any, Any]: ...


def nps_interval(promoters: Any, passives: Any, detractors: Any, level: float = 0.95) -> tuple[Any, Any]:
    """The NPS interval every page shows: adjusted Wald (Rocks 2016), on the -100..100 scale.

    Add 3/4 of a respondent to promoters and to detractors (3 to n in all, the passives getting the other
    1.5) and use the trinomial variance of the difference of two shares, var = (p + d - (p - d)^2) / n.
    Rocks found it keeps close to nominal coverage down to small samples, where the plain Wald interval
    is too narrow. Counts in; vectorised like `wilson_interval`; n = 0 gives NaN.
    """
    _, low, high = _nps_adjusted_wald(promoters, passives, detractors, level)
    return low, high


def nps_interval_se(promoters: Any, passives: Any, detractors: Any) -> Any:
    """Standard error (-100..100 scale) of the adjusted estimate `nps_interval` is centred on."""
    return _nps_adjusted_wald(promoters, passives, detractors, 0.95)[0]


def _nps_adjusted_wald(promoters: Any, passives: Any, detractors: Any, level: float) -> tuple[Any, Any, Any]:
    pro = np.asarray(promoters, dtype=float)
    det = np.asarray(detractors, dtype=float)
    n = pro + np.asarray(passives, dtype=float) + det
    z = float(_scipy_stats.norm.ppf(0.5 + level / 2))
    n_adj = n + 3.0
    p_pro = (pro + 0.75) / n_adj
    p_det = (det + 0.75) / n_adj
    centre = p_pro - p_det
    se = np.sqrt(np.maximum(p_pro + p_det - centre**2, 0.0) / n_adj)
    empty = n <= 0
    low = np.where(empty, np.nan, 100 * np.maximum(-1.0, centre - z * se))
    high = np.where(empty, np.nan, 100 * np.minimum(1.0, centre + z * se))
    se = np.where(empty, np.nan, 100 * se)
    if low.ndim == 0:
        return float(se), float(low), float(high)
    return se, low, high
