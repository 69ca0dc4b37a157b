"""Shared pieces of the survey estimators: the fitted-state guard and normal quantiles."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted

Z95 = float(stats.norm.ppf(0.975))


def z_value(level: float) -> float:
    """Two-sided normal quantile for a confidence level such as 0.95."""
    if not 0 < level < 1:
        raise InputError(f"Confidence level must be between 0 and 1, got {level}.")
    return float(stats.norm.ppf(0.5 + level / 2))


class Estimator(BaseEstimator):
    """scikit-learn estimator: hyper-parameters in __init__, fitted state in attributes ending in `_`."""

    params_: pd.Series

    def _check_fitted(self) -> None:
        check_fitted(self, "params_")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({args})"


def numeric_answers(values: Any, low: float, high: float, what: str) -> np.ndarray:
    """Answers as a float array without missing values, checked to lie on the scale."""
    arr = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").dropna().to_numpy(float)
    if arr.size == 0:
        raise InputError(f"No {what} answers to analyse.")
    bad = arr[(arr < low) | (arr > high)]
    if bad.size:
        raise InputError(f"{what} answers must lie between {low:g} and {high:g}; found {bad[0]:g}.")
    return arr
