"""Calibration of churn scores: raw booster probabilities mapped to honest ones (isotonic or Platt)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from heedful.estimators import BaseEstimator, check_fitted

CalibrationMethod = Literal["isotonic", "platt", "none"]


class Calibrator(BaseEstimator):
    """Maps raw model probabilities to calibrated ones: isotonic regression or Platt scaling ("none": as is).

    `fit` sets the isotonic steps `x_`, `y_` and the Platt line `a_`, `b_` (unused ones keep neutral values).
    """

    x_: list[float]
    y_: list[float]
    a_: float
    b_: float

    def __init__(self, method: CalibrationMethod = "isotonic") -> None:
        self.method = method

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        self.x_, self.y_, self.a_, self.b_ = [], [], 1.0, 0.0
        if self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
            self.x_ = [float(v) for v in iso.X_thresholds_]
            self.y_ = [float(v) for v in iso.y_thresholds_]
        elif self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6).fit(_logit(raw).reshape(-1, 1), y)
            self.a_, self.b_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        check_fitted(self, "a_")
        raw = np.asarray(raw, dtype=float)
        if self.method == "isotonic" and self.x_:
            # Isotonic steps at the ends rest on few customers: never claim certainty.
            return np.clip(np.interp(raw, self.x_, self.y_), 0.001, 0.999)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.a_ * _logit(raw) + self.b_)))
        return raw

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "a_")
        return {"method": self.method, "x": self.x_, "y": self.y_, "a": self.a_, "b": self.b_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        cal = cls(d["method"])
        cal.x_, cal.y_, cal.a_, cal.b_ = d["x"], d["y"], d["a"], d["b"]
        return cal


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
