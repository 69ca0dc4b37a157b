"""Customer lifetime value: expected purchases, P(alive), expected spend and discounted CLV per customer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.value._special import Array, as_array
from heedful.value.summary import UNIT_DAYS, unit_days

if TYPE_CHECKING:
    from heedful.value.btyd import TransactionModel
    from heedful.value.gammagamma import GammaGamma


def discounted_clv(
    model: TransactionModel,
    x: Array,
    t_x: Array,
    T: Array,
    spend: Array,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    time_unit: str = "W",
) -> Array:
    """Σ_m (E[purchases by month m] − E[purchases by month m−1]) · spend / (1 + d)^m for m = 1..horizon.

    Customers with the same (x, t_x, T) share one evaluation, which keeps this fast on millions.
    """
    if horizon_months < 1:
        raise InputError("The CLV horizon must be at least one month.")
    if discount_rate < 0:
        raise InputError("The discount rate cannot be negative.")
    month = UNIT_DAYS["M"] / unit_days(time_unit)
    rows = np.column_stack([x, t_x, T])
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    ux, ut, uT = unique[:, 0], unique[:, 1], unique[:, 2]
    factors = np.zeros((horizon_months, len(unique)))
    previous = np.zeros(len(unique))
    for m in range(1, horizon_months + 1):
        cumulative = model._conditional_purchases(m * month, ux, ut, uT)
        factors[m - 1] = (cumulative - previous) / (1.0 + discount_rate) ** m
        previous = cumulative
    per_purchase = factors.sum(axis=0)
    return as_array(per_purchase[inverse.ravel()] * as_array(spend))


def clv_table(
    transactions: TransactionModel,
    spend: GammaGamma | None,
    summary: pd.DataFrame,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    time_unit: str = "W",
) -> pd.DataFrame:
    """Per customer: p_alive, expected_purchases (over the horizon), expected_spend and clv, highest CLV first.

    Without a spend model the customer's own mean repeat spend (or the overall mean) is used.
    """
    horizon = horizon_months * UNIT_DAYS["M"] / unit_days(time_unit)
    x, t_x, T = (as_array(summary[c]) for c in ("frequency", "recency", "T"))
    if spend is not None:
        expected_spend = as_array(spend.expected_spend(summary))
    else:
        m = np.nan_to_num(as_array(summary.get("monetary_value", pd.Series(np.nan, index=summary.index))))
        fallback = float(np.mean(m[x > 0])) if np.any(x > 0) else 0.0
        expected_spend = np.where(x > 0, m, fallback)
    out = pd.DataFrame(index=summary.index)
    for col in ("frequency", "recency", "T", "monetary_value"):
        if col in summary.columns:
            out[col] = summary[col]
    out["p_alive"] = transactions._p_alive(x, t_x, T)
    out["expected_purchases"] = transactions._conditional_purchases(horizon, x, t_x, T)
    out["expected_spend"] = expected_spend
    out["clv"] = discounted_clv(transactions, x, t_x, T, expected_spend, horizon_months, discount_rate, time_unit)
    return out.sort_values("clv", ascending=False)
