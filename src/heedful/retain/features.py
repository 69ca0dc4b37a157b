"""Churn features for non-contractual (retail) customers, computed only from data before a cut-off.

`retail_features(orders, cutoff)` gives one row per customer who bought before `cutoff`:
recency, frequency, monetary value, returns, purchase rhythm, BTYD P(alive) (from `heedful.value`
when available), recent negative feedback and the latest NPS answer. `churn_labels` marks who made
no purchase in the `horizon_days` after the cut-off. Nothing on or after the cut-off ever reaches a
feature: that is what makes a time-split evaluation honest.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError

ORDER_COLUMNS = ("customer_id", "order_id", "ordered_at", "amount")


def _purchases(orders: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ORDER_COLUMNS if c not in orders.columns]
    if missing:
        raise InputError(f"Orders need columns {list(ORDER_COLUMNS)}; missing {missing}.")
    frame = orders[orders["customer_id"].notna() & (orders["customer_id"].astype(str) != "")].copy()
    frame["customer_id"] = frame["customer_id"].astype(str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    if "is_return" not in frame.columns:
        frame["is_return"] = frame["amount"] < 0
    frame["is_return"] = frame["is_return"].astype("boolean").fillna(False).astype(bool)
    return frame


def churn_labels(orders: pd.DataFrame, cutoff: pd.Timestamp | str, horizon_days: int = 90) -> pd.Series:
    """1 for customers who bought before `cutoff` and made no purchase in the following `horizon_days`."""
    frame = _purchases(orders)
    cut = pd.Timestamp(cutoff)
    buys = frame[~frame["is_return"]]
    before = buys.loc[buys["ordered_at"] < cut, "customer_id"].unique()
    window = buys[(buys["ordered_at"] >= cut) & (buys["ordered_at"] < cut + pd.Timedelta(days=horizon_days))]
    came_back = set(window["customer_id"].unique())
    return pd.Series(
        [0 if c in came_back else 1 for c in before], index=pd.Index(before, name="customer_id"), name="churned"
    ).sort_index()


def retail_features(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    feedback: pd.DataFrame | None = None,
    nps: pd.DataFrame | None = None,
    p_alive: pd.Series | None = None,
    window_days: int = 90,
    use_btyd: bool = True,
) -> pd.DataFrame:
    """Behavioural, BTYD, feedback and survey features per customer, from data strictly before `cutoff`.

    feedback: customer_id, created_at, sentiment (positive/negative/…) or sentiment_score in [-1, 1].
    nps: customer_id, answered_at, score (0–10) of a would-you-recommend question.
    p_alive: a precomputed P(alive) per customer_id (otherwise MBG/NBD from `heedful.value`, `btyd_p_alive`).
    """
    cut = pd.Timestamp(cutoff)
    frame = _purchases(orders)
    frame = frame[frame["ordered_at"] < cut]
    buys = frame[~frame["is_return"]]
    if buys.empty:
        raise InputError(f"No purchases before the cut-off {cut.date()}.")
    per_order = (
        buys.groupby(["customer_id", "order_id"], sort=False)
        .agg(ordered_at=("ordered_at", "min"), amount=("amount", "sum"))
        .reset_index()
    )
    g = per_order.groupby("customer_id")
    first, last = g["ordered_at"].min(), g["ordered_at"].max()
    days = pd.Timedelta(days=1)
    feats = pd.DataFrame(
        {
            "recency_days": (cut - last) / days,
            "tenure_days": (cut - first) / days,
            "frequency": g.size().astype(float),
            "monetary_total": g["amount"].sum(),
            "monetary_mean": g["amount"].mean(),
        }
    )
    recent = per_order[per_order["ordered_at"] >= cut - pd.Timedelta(days=window_days)].groupby("customer_id")
    feats[f"orders_last_{window_days}d"] = recent.size().reindex(feats.index).fillna(0.0)
    feats[f"spend_last_{window_days}d"] = recent["amount"].sum().reindex(feats.index).fillna(0.0)
    # Purchase rhythm: a customer far past their usual gap is slipping away.
    span = (last - first) / days
    gap = span / (feats["frequency"] - 1).where(feats["frequency"] > 1)
    feats["mean_gap_days"] = gap
    feats["overdue_ratio"] = feats["recency_days"] / gap.where(gap > 0)
    feats["distinct_products"] = (
        buys.groupby("customer_id")["product_id"].nunique().reindex(feats.index).astype(float)
        if "product_id" in buys.columns
        else np.nan
    )
    returns = frame[frame["is_return"]].groupby("customer_id")["amount"].sum().abs()
    feats["return_share"] = (
        returns.reindex(feats.index).fillna(0.0) / feats["monetary_total"].abs().clip(lower=1e-9)
    ).clip(0, 5)
    if p_alive is not None:
        feats["p_alive"] = p_alive.reindex(feats.index).astype(float)
    elif use_btyd:
        btyd = btyd_p_alive(per_order, cut)
        if btyd is not None:
            feats["p_alive"] = btyd.reindex(feats.index)
    if feedback is not None:
        feats = feats.join(feedback_features(feedback, cut, window_days))
    if nps is not None:
        feats = feats.join(nps_features(nps, cut))
    feats.index.name = "customer_id"
    return feats.sort_index()


def monotone_directions(window_days: int = 90) -> dict[str, int]:
    """The features of `retail_features` whose effect on churn has a known direction, for
    `ChurnModel(monotone=...)`: +1, the risk never falls as the feature rises (days since the last order,
    how overdue the next order is, the share of negative feedback); -1, it never rises (orders and spend,
    recent ones too, P(alive), the would-recommend score). A reason then never reads "next order not yet
    due → risk up" because a small sample's trees said so. Tenure, order value, products, returns and the
    amount of feedback keep whatever shape the data give them."""
    return {
        "recency_days": 1,
        "overdue_ratio": 1,
        "frequency": -1,
        f"orders_last_{window_days}d": -1,
        f"spend_last_{window_days}d": -1,
        "p_alive": -1,
        f"negative_feedback_share_{window_days}d": 1,
        "nps_score": -1,
        "is_detractor": 1,
    }


def feedback_features(feedback: pd.DataFrame, cutoff: pd.Timestamp, window_days: int = 90) -> pd.DataFrame:
    """Share of a customer's feedback in the window before the cut-off that is negative, and its count."""
    fb = feedback[feedback["customer_id"].notna()].copy()
    fb["customer_id"] = fb["customer_id"].astype(str)
    fb["created_at"] = pd.to_datetime(fb["created_at"])
    fb = fb[(fb["created_at"] < cutoff) & (fb["created_at"] >= cutoff - pd.Timedelta(days=window_days))]
    if "sentiment" in fb.columns:
        negative = fb["sentiment"].astype(str).str.lower().eq("negative")
    elif "sentiment_score" in fb.columns:
        negative = fb["sentiment_score"].astype(float) < -0.05
    else:
        raise InputError("Feedback needs a `sentiment` or `sentiment_score` column.")
    fb["negative"] = negative.astype(float)
    g = fb.groupby("customer_id")
    return pd.DataFrame(
        {f"negative_feedback_share_{window_days}d": g["negative"].mean(), f"feedback_count_{window_days}d": g.size()}
    )


def nps_features(nps: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """The latest would-you-recommend score before the cut-off, and whether it makes a detractor (0–6)."""
    ans = nps[nps["customer_id"].notna()].copy()
    ans["customer_id"] = ans["customer_id"].astype(str)
    ans["answered_at"] = pd.to_datetime(ans["answered_at"])
    ans = ans[ans["answered_at"] < cutoff].sort_values("answered_at")
    latest = ans.groupby("customer_id")["score"].last().astype(float)
    return pd.DataFrame({"nps_score": latest, "is_detractor": (latest <= 6).astype(float)})


def btyd_p_alive(per_order: pd.DataFrame, cutoff: pd.Timestamp) -> pd.Series | None:
    """P(alive) at the cut-off from `heedful.value`'s default model (MBG/NBD, as the store's customer value),
    by MAP with weakly informative priors where maximum likelihood is not identified (BG/NBD kept every
    one-time buyer at 100%, and on Online Retail an unidentified fit put everyone near 100%: P(alive) alone
    ranked churners with AUC 0.35; this one 0.63, docs/retain.md); None where that is not available."""
    try:
        value: Any = importlib.import_module("heedful.value")
        btyd: Any = importlib.import_module("heedful.value.btyd")
    except (ImportError, AttributeError):
        return None
    daily = per_order.assign(day=per_order["ordered_at"].dt.floor("D"))
    g = daily.groupby("customer_id")["day"]
    first, last, n_days = g.min(), g.max(), g.nunique()
    weeks = pd.Timedelta(days=7)
    summary = pd.DataFrame(
        {
            "frequency": (n_days - 1).astype(float),
            "recency": (last - first) / weeks,
            "T": (cutoff.floor("D") - first) / weeks,
        }
    )
    try:
        _, model = btyd.fit_identified(value.MODELS[value.DEFAULT_MODEL], summary)
        if not model.converged_:
            return None
        values = model.p_alive(summary)
    except Exception:  # a BTYD fit that fails must not stop churn scoring
        return None
    return pd.Series(np.asarray(values, dtype=float), index=summary.index, name="p_alive")


def retail_churn_dataset(
    orders: pd.DataFrame,
    cutoff: pd.Timestamp | str,
    horizon_days: int = 90,
    **feature_kwargs: Any,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features before `cutoff` and the churn label over the next `horizon_days`, aligned by customer."""
    cut = pd.Timestamp(cutoff)
    last_seen = pd.to_datetime(orders["ordered_at"]).max()
    if cut + pd.Timedelta(days=horizon_days) > last_seen + pd.Timedelta(days=1):
        raise InputError(
            f"The cut-off {cut.date()} plus {horizon_days} days runs past the last order ({last_seen.date()}): "
            "labels would be wrong. Choose an earlier cut-off or a shorter horizon."
        )
    feats = retail_features(orders, cut, **feature_kwargs)
    labels = churn_labels(orders, cut, horizon_days).reindex(feats.index)
    return feats, labels.astype(int)
