"""Holdout evaluation: predicted vs actual repeat purchases (and spend) per customer, and tracking curves."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heedful.value._compute import as_array
from heedful.value.btyd import TransactionModel
from heedful.value.columns import EPOCH
from heedful.value.gammagamma import GammaGamma


def evaluate_holdout(
    model: TransactionModel | GammaGamma,
    summary: pd.DataFrame,
    tracking: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Compare predictions for the holdout period with what customers actually did.

    `summary` must come from `transaction_summary(..., calibration_end=...)`.
    Transaction models: totals and mean absolute error of repeat purchases per customer.
    Gamma-Gamma: the same for mean spend per transaction, on customers who bought in both periods.
    """
    if "frequency_holdout" not in summary.columns:
        return {}
    if isinstance(model, GammaGamma):
        both = summary[(summary["frequency"] > 0) & (summary["frequency_holdout"] > 0)]
        predicted = as_array(model.expected_spend(both))
        actual = as_array(both["monetary_value_holdout"])
        return {
            "n_customers": len(both),
            "actual_mean_spend": float(actual.mean()) if len(both) else None,
            "predicted_mean_spend": float(predicted.mean()) if len(both) else None,
            "mae": float(np.abs(predicted - actual).mean()) if len(both) else None,
        }
    duration = float(summary["duration_holdout"].iloc[0])
    predicted = as_array(model.predict_purchases(duration, summary))
    actual = as_array(summary["frequency_holdout"])
    out: dict[str, Any] = {
        "n_customers": len(summary),
        "duration": duration,
        "actual_total": float(actual.sum()),
        "predicted_total": float(predicted.sum()),
        "mae": float(np.abs(predicted - actual).mean()),
        "by_calibration_frequency": calibration_vs_holdout(model, summary).to_dict(orient="records"),
    }
    out["interval_coverage"] = interval_coverage(model, summary, duration)
    if tracking is not None:
        out["tracking"] = tracking.to_dict(orient="records")
    return out


def interval_coverage(
    model: TransactionModel, summary: pd.DataFrame, duration: float, level: float = 0.9, max_customers: int = 20_000
) -> dict[str, Any]:
    """How often each customer's `level` prediction interval of holdout purchases holds what they bought.

    A calibrated model's 90% intervals hold about 90% of customers (a little more: counts are whole
    numbers, so an interval's own level is at least 90%). Far less means the model is overconfident.
    Over `max_customers` customers, a seeded sample of that size is checked.
    """
    sample = summary if len(summary) <= max_customers else summary.sample(max_customers, random_state=0)
    intervals = model.purchase_intervals(duration, sample, level=level)
    actual = as_array(sample["frequency_holdout"])
    inside = (actual >= intervals["lower"].to_numpy()) & (actual <= intervals["upper"].to_numpy())
    return {
        "level": level,
        "coverage": float(inside.mean()) if len(inside) else None,
        "customers": len(sample),
        "below": float((actual < intervals["lower"].to_numpy()).mean()) if len(inside) else None,
        "above": float((actual > intervals["upper"].to_numpy()).mean()) if len(inside) else None,
    }


def calibration_vs_holdout(model: TransactionModel, summary: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Mean actual and predicted holdout purchases by calibration frequency (capped at `max_frequency`+)."""
    duration = float(summary["duration_holdout"].iloc[0])
    frame = pd.DataFrame(
        {
            "frequency": np.minimum(as_array(summary["frequency"]), max_frequency).astype(int),
            "actual": as_array(summary["frequency_holdout"]),
            "predicted": as_array(model.predict_purchases(duration, summary)),
        }
    )
    grouped = frame.groupby("frequency").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    return grouped.reset_index()


def tracking_curve(
    model: TransactionModel,
    repeat_counts: pd.DataFrame,
    births: pd.DataFrame,
    *,
    time_unit_days: float,
    start_day: int | None = None,
    end_day: int | None = None,
    calibration_end_day: int | None = None,
) -> pd.DataFrame:
    """Actual vs expected repeat transactions per period (of one time unit) for the whole customer base.

    Expected repeat purchases by day τ are Σ_j n_j · E[X((τ − j) / unit)] over acquisition days j.
    """
    first = int(births["day"].min()) if start_day is None else start_day
    last = int(max(repeat_counts["day"].max() if len(repeat_counts) else first, births["day"].max()))
    last = last if end_day is None else end_day
    step = time_unit_days
    n_periods = max(1, int(np.ceil((last - first + 1) / step)))
    edges = first + step * np.arange(1, n_periods + 1)  # end of each period (exclusive), in days
    birth_days = births["day"].to_numpy(dtype=np.float64)
    birth_n = births["n"].to_numpy(dtype=np.float64)
    lags = np.clip(edges[:, None] - birth_days[None, :], 0, None)  # time each customer has had by the period end
    unique_lags, inverse = np.unique(lags, return_inverse=True)
    expected = as_array(model.expected_purchases_new_customer(unique_lags / time_unit_days))[
        inverse.reshape(lags.shape)
    ]
    cumulative_expected = (expected * birth_n[None, :]).sum(axis=1)
    period_of = np.floor((repeat_counts["day"].to_numpy(dtype=np.float64) - first) / step).astype(int)
    keep = (period_of >= 0) & (period_of < n_periods)
    actual = np.bincount(
        period_of[keep], weights=repeat_counts["n"].to_numpy(dtype=np.float64)[keep], minlength=n_periods
    )
    frame = pd.DataFrame(
        {
            "period": np.arange(1, n_periods + 1),
            "start": [
                str(pd.Timestamp(EPOCH) + pd.Timedelta(days=float(first + step * i)))[:10] for i in range(n_periods)
            ],
            "actual": actual,
            "predicted": np.diff(np.concatenate([[0.0], cumulative_expected])),
        }
    )
    frame["cumulative_actual"] = frame["actual"].cumsum()
    frame["cumulative_predicted"] = cumulative_expected
    if calibration_end_day is not None:
        frame["holdout"] = first + step * (frame["period"] - 1) > calibration_end_day
    return frame
