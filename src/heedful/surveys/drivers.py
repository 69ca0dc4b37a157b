"""Key-driver analysis: which ratings move an outcome such as likelihood to recommend.

Two views, reported side by side:
- Johnson's relative weights (Johnson 2000, Multivariate Behavioral Research 35(1)): the share of the
  explained variance (R²) owed to each driver, robust to correlated drivers (which satisfaction ratings
  always are), with percentile bootstrap intervals;
- standardised regression coefficients with OLS standard errors and 95% intervals.
Rows with any missing value among the outcome and drivers are left out (listwise).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from heedful.errors import InputError
from heedful.surveys._base import Estimator


def relative_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Johnson's relative weights: one raw weight per column of x; they sum to R²."""
    xs = (x - x.mean(0)) / x.std(0, ddof=1)
    ys = (y - y.mean()) / y.std(ddof=1)
    n = len(y)
    rxx = xs.T @ xs / (n - 1)
    rxy = xs.T @ ys / (n - 1)
    eigval, eigvec = np.linalg.eigh(rxx)
    eigval = np.clip(eigval, 1e-12, None)
    lam = eigvec @ np.diag(np.sqrt(eigval)) @ eigvec.T  # correlations of x with their orthogonal counterparts
    beta = np.linalg.solve(lam, rxy)
    return np.asarray((lam**2) @ (beta**2))


class KeyDrivers(Estimator):
    """Relative importance of driver ratings for an outcome.

    `fit(frame, outcome="nps")` -> self. `summary`: per driver, relative weight (% of R²) with a
    bootstrap 95% interval, the standardised coefficient with its interval, the driver's mean rating
    (performance, for importance/performance maps) and its correlation with the outcome. `r2_` is
    the model's R².
    """

    def __init__(self, n_bootstrap: int = 200, confidence: float = 0.95, seed: int = 0) -> None:
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.seed = seed

    def fit(self, frame: pd.DataFrame, outcome: str, drivers: list[str] | None = None) -> KeyDrivers:
        if outcome not in frame.columns:
            raise InputError(f"Outcome column {outcome!r} not found; columns are {list(frame.columns)}.")
        drivers = drivers or [c for c in frame.columns if c != outcome]
        missing = [d for d in drivers if d not in frame.columns]
        if missing:
            raise InputError(f"Driver columns {missing} not found.")
        data = frame[[outcome, *drivers]].apply(pd.to_numeric, errors="coerce").dropna()
        n, k = len(data), len(drivers)
        if n < k + 3:
            raise InputError(f"Key-driver analysis needs at least {k + 3} complete answers for {k} drivers; got {n}.")
        constant = [d for d in drivers if data[d].std() == 0]
        if constant or data[outcome].std() == 0:
            raise InputError(f"Columns without variation cannot be drivers or outcome: {constant or [outcome]}.")
        x = data[drivers].to_numpy(float)
        y = data[outcome].to_numpy(float)
        raw = relative_weights(x, y)
        r2 = float(raw.sum())
        rng = np.random.default_rng(self.seed)
        boot = np.empty((self.n_bootstrap, k))
        for b in range(self.n_bootstrap):
            idx = rng.integers(0, n, n)
            xb, yb = x[idx], y[idx]
            if np.any(xb.std(0) == 0) or yb.std() == 0:
                boot[b] = np.nan
                continue
            w = relative_weights(xb, yb)
            boot[b] = w / w.sum()
        alpha = (1 - self.confidence) / 2
        rw_low, rw_high = np.nanquantile(boot, [alpha, 1 - alpha], axis=0)

        xs = (x - x.mean(0)) / x.std(0, ddof=1)
        ys = (y - y.mean()) / y.std(ddof=1)
        design = np.column_stack([np.ones(n), xs])
        coef, *_ = np.linalg.lstsq(design, ys, rcond=None)
        resid = ys - design @ coef
        sigma2 = float(resid @ resid) / (n - k - 1)
        cov = sigma2 * np.linalg.pinv(design.T @ design)
        se = np.sqrt(np.diag(cov))[1:]
        t = float(stats.t.ppf(1 - alpha, n - k - 1))
        beta = coef[1:]
        self.r2_ = r2
        self.n_ = n
        self.params_ = pd.Series(raw / r2, index=drivers, name="relative_weight")
        self._summary = pd.DataFrame(
            {
                "relative_weight": 100 * raw / r2,
                "relative_weight_low": 100 * rw_low,
                "relative_weight_high": 100 * rw_high,
                "beta": beta,
                "beta_se": se,
                "beta_low": beta - t * se,
                "beta_high": beta + t * se,
                "mean_rating": x.mean(0),
                "correlation": [float(np.corrcoef(x[:, j], y)[0, 1]) for j in range(k)],
            },
            index=pd.Index(drivers, name="driver"),
        ).sort_values("relative_weight", ascending=False)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        return self._summary

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"r2": self.r2_, "n": self.n_, "drivers": self._summary.reset_index().to_dict(orient="records")}
