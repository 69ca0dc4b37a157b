"""Time to churn: Kaplan–Meier curves by segment and Cox proportional-hazards ratios (lifelines)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.retain.churn import binary_target


def _durations(frame: pd.DataFrame, duration: str, event: str) -> tuple[np.ndarray, np.ndarray]:
    for col in (duration, event):
        if col not in frame.columns:
            raise InputError(f"Column {col!r} is not in the data (columns: {list(frame.columns)[:20]}).")
    t = pd.to_numeric(frame[duration], errors="coerce").to_numpy(dtype=float)
    if np.isnan(t).any() or (t < 0).any():
        raise InputError(f"Durations in {duration!r} must be numbers ≥ 0 with no blanks.")
    return t, binary_target(frame[event]).astype(int)


def kaplan_meier_by_segment(
    frame: pd.DataFrame, duration: str, event: str, segment: str | None = None, alpha: float = 0.05
) -> dict[str, Any]:
    """Survival (still a customer) over time per segment, with pointwise intervals and a log-rank test.

    Returns `curves` (segment, time, survival, lower, upper, at_risk), `medians` (segment, n,
    events, median_time) and `logrank_p` (any difference between segments; None for one segment).
    """
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import multivariate_logrank_test

    t, e = _durations(frame, duration, event)
    groups = frame[segment].astype(str).fillna("missing").to_numpy() if segment else np.full(len(t), "all")
    curves, medians = [], []
    for name in sorted(set(groups)):
        mask = groups == name
        km = KaplanMeierFitter(alpha=alpha).fit(t[mask], e[mask], label=str(name))
        ci = km.confidence_interval_survival_function_
        table = pd.DataFrame(
            {
                "segment": name,
                "time": km.survival_function_.index.to_numpy(),
                "survival": km.survival_function_.iloc[:, 0].to_numpy(),
                "lower": ci.iloc[:, 0].to_numpy(),
                "upper": ci.iloc[:, 1].to_numpy(),
                "at_risk": km.event_table["at_risk"].reindex(km.survival_function_.index).to_numpy(),
            }
        )
        curves.append(table)
        median = km.median_survival_time_
        medians.append(
            {
                "segment": name,
                "n": int(mask.sum()),
                "events": int(e[mask].sum()),
                "median_time": float(median) if np.isfinite(median) else None,
            }
        )
    p_value = None
    if segment and len(set(groups)) > 1:
        p_value = float(multivariate_logrank_test(t, groups, e).p_value)
    return {"curves": pd.concat(curves, ignore_index=True), "medians": pd.DataFrame(medians), "logrank_p": p_value}


def cox_hazard_ratios(
    frame: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    penalizer: float = 0.01,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Hazard ratio of churn per covariate (text columns one-hot, first level as reference), with intervals.

    A hazard ratio above 1 means customers with more of it (or in that level) leave sooner.
    """
    from lifelines import CoxPHFitter

    t, e = _durations(frame, duration, event)
    missing = [c for c in covariates if c not in frame.columns]
    if missing:
        raise InputError(f"Covariates {missing} are not in the data.")
    if not covariates:
        raise InputError("Name at least one covariate for the Cox model.")
    parts = []
    for col in covariates:
        values = frame[col]
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().mean() >= 0.95 and values.nunique() > 2:
            parts.append(numeric.fillna(numeric.median()).rename(col).to_frame())
        else:
            dummies = pd.get_dummies(values.astype(str), prefix=col, prefix_sep=" = ", drop_first=True, dtype=float)
            parts.append(dummies)
    design = pd.concat(parts, axis=1)
    design = design.loc[:, design.std() > 0]
    design["_duration"] = np.maximum(t, 1e-9)
    design["_event"] = e
    cph = CoxPHFitter(penalizer=penalizer, alpha=alpha).fit(design, "_duration", "_event")
    s = cph.summary
    lo = f"exp(coef) lower {100 * (1 - alpha):.0f}%"
    hi = f"exp(coef) upper {100 * (1 - alpha):.0f}%"
    return pd.DataFrame(
        {
            "covariate": s.index.astype(str),
            "hazard_ratio": s["exp(coef)"].to_numpy(),
            "lower": s[lo].to_numpy(),
            "upper": s[hi].to_numpy(),
            "p": s["p"].to_numpy(),
        }
    ).sort_values("hazard_ratio", ascending=False, ignore_index=True)


def retail_durations(
    orders: pd.DataFrame, end: pd.Timestamp | str | None = None, inactive_days: int = 90
) -> pd.DataFrame:
    """Time as a customer for retail data: churned when no purchase in the last `inactive_days` before `end`.

    Churned customers' duration runs from first to last purchase; active ones are censored at `end`.
    """
    buys = orders[orders["customer_id"].notna()].copy()
    if "is_return" in buys.columns:
        buys = buys[~buys["is_return"].astype("boolean").fillna(False).astype(bool)]
    buys["customer_id"] = buys["customer_id"].astype(str)
    buys["ordered_at"] = pd.to_datetime(buys["ordered_at"])
    stop = pd.Timestamp(end) if end is not None else buys["ordered_at"].max()
    g = buys[buys["ordered_at"] <= stop].groupby("customer_id")["ordered_at"]
    first, last = g.min(), g.max()
    churned = (stop - last) > pd.Timedelta(days=inactive_days)
    until = last.where(churned, stop)
    return pd.DataFrame(
        {"duration_days": (until - first) / pd.Timedelta(days=1), "churned": churned.astype(int)}
    ).rename_axis("customer_id")
