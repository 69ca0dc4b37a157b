"""Does peer matching work? Randomised holdout, outcomes after the match, and the difference with intervals."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.stats import wilson_interval


def in_holdout(customer_id: str, fraction: float, salt: str = "peer-matching") -> bool:
    """Deterministic randomisation: a hash of the id (and a salt per programme) picks the holdout.

    The same customer lands in the same arm on every run, and nobody can choose their arm.
    """
    if not 0.0 <= fraction < 1.0:
        raise InputError("The holdout fraction must be at least 0 and below 1 (e.g. 0.2).")
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def assign_arms(customer_ids: Iterable[str], fraction: float, salt: str = "peer-matching") -> pd.Series:
    """`matched` or `holdout` per customer id (index) by `in_holdout`."""
    ids = [str(c) for c in customer_ids]
    return pd.Series(["holdout" if in_holdout(c, fraction, salt) else "matched" for c in ids], index=ids, dtype=object)


def measure_outcomes(
    matches: pd.DataFrame, orders: pd.DataFrame, *, window_days: int = 90, as_of: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Per matched or held-out customer: ordered again within `window_days` after the match, and spend.

    matches: customer_id, arm, created_at. orders: order lines (customer_id, ordered_at, amount, is_return).
    `observed` is false while the window has not fully passed by `as_of` (default: the latest order given).
    """
    out = matches[["customer_id", "arm", "created_at"]].copy()
    out["created_at"] = pd.to_datetime(out["created_at"])
    end = out["created_at"] + pd.Timedelta(days=window_days)
    if orders.empty:
        out["retained"], out["spend"] = False, 0.0
        out["observed"] = end <= as_of if as_of is not None else False
        return out
    lines = orders[orders["customer_id"].isin(out["customer_id"])].copy()
    if "is_return" in lines:
        lines = lines[~lines["is_return"].astype(bool)]
    lines["ordered_at"] = pd.to_datetime(lines["ordered_at"])
    joined = out.reset_index().merge(lines[["customer_id", "ordered_at", "amount"]], on="customer_id")
    inside = joined[
        (joined["ordered_at"] > joined["created_at"])
        & (joined["ordered_at"] <= joined["created_at"] + pd.Timedelta(days=window_days))
    ]
    spend = inside.groupby("index")["amount"].sum()
    out["spend"] = spend.reindex(out.index).fillna(0.0).to_numpy()
    out["retained"] = out.index.isin(spend.index)
    latest = pd.Timestamp(as_of) if as_of is not None else pd.to_datetime(orders["ordered_at"]).max()
    out["observed"] = end <= latest
    return out


def newcombe_difference(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """p1 - p2 with Newcombe's hybrid score interval (method 10): good coverage even for small groups."""
    if n1 == 0 or n2 == 0:
        return (float("nan"), float("nan"), float("nan"))
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    diff = p1 - p2
    low = diff - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = diff + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (float(diff), float(low), float(high))


def bootstrap_mean_difference(
    a: np.ndarray, b: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """mean(a) - mean(b) with a percentile bootstrap interval (spend is skewed: no normality assumed)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0:
        return (float("nan"), float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means_a = a[rng.integers(0, a.size, size=(n_boot, a.size))].mean(axis=1)
    means_b = b[rng.integers(0, b.size, size=(n_boot, b.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    diffs = means_a - means_b
    return (float(a.mean() - b.mean()), float(np.quantile(diffs, alpha)), float(np.quantile(diffs, 1 - alpha)))


def programme_effect(outcomes: pd.DataFrame, *, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Matched vs holdout: retention (Newcombe interval) and spend per customer (bootstrap interval).

    Only customers whose outcome window has passed (`observed`) count, so recent matches do not
    dilute the comparison. An interval that contains 0 means no effect has been shown yet.
    """
    done = outcomes[outcomes["observed"]] if "observed" in outcomes else outcomes
    arms: dict[str, Any] = {}
    for arm in ("matched", "holdout"):
        part = done[done["arm"] == arm]
        arms[arm] = {
            "customers": len(part),
            "retained": int(part["retained"].sum()),
            "retention": float(part["retained"].mean()) if len(part) else None,
            "spend_per_customer": float(part["spend"].mean()) if len(part) else None,
        }
    m, h = done[done["arm"] == "matched"], done[done["arm"] == "holdout"]
    diff, low, high = newcombe_difference(
        int(m["retained"].sum()), len(m), int(h["retained"].sum()), len(h), confidence
    )
    s_diff, s_low, s_high = bootstrap_mean_difference(
        m["spend"].to_numpy(), h["spend"].to_numpy(), confidence=confidence, seed=seed
    )
    return {
        "confidence": confidence,
        "pending": int(len(outcomes) - len(done)),
        "arms": arms,
        "retention_difference": {"estimate": diff, "low": low, "high": high, "method": "Newcombe hybrid score"},
        "spend_difference": {"estimate": s_diff, "low": s_low, "high": s_high, "method": "percentile bootstrap"},
        "conclusive": bool(np.isfinite(low) and (low > 0 or high < 0)),
    }
