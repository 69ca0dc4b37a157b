"""Customer lifetime value: expected purchases, P(alive), expected spend and discounted CLV per customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.value._compute import (
    Array,
    Order,
    as_array,
    column_values,
    descending_order,
    distinct_rows,
    float_block_in_background,
    side_by_side,
    small_product,
    table_in_order,
)
from heedful.value.columns import unit_days
from heedful.value.summary_sql import UNIT_DAYS

if TYPE_CHECKING:
    from heedful.value.btyd import TransactionModel
    from heedful.value.gammagamma import GammaGamma


M = TypeVar("M")


def fit_clv_models(
    summary: pd.DataFrame,
    transactions: TransactionModel | Callable[[pd.DataFrame], M],
    spend: GammaGamma | None = None,
) -> tuple[Any, GammaGamma | None]:
    """Fit the transaction model and (if given) the spend model on `summary`; returns both, fitted.

    `transactions` is a model, or a function that fits one on a summary (e.g. with a fallback) and
    returns what it likes. The two fits are independent, so they run side by side: their
    single-threaded parts (the optimizer, grouping the customers) overlap on a second core. An error
    in either is raised here.
    """
    from heedful.value.base import ValueModel

    fit: Callable[[pd.DataFrame], Any] = transactions.fit if isinstance(transactions, ValueModel) else transactions
    if spend is None:
        return fit(summary), None
    return side_by_side(lambda: fit(summary), lambda: spend.fit(summary))


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
    codes, (ux, ut, uT) = model._distinct_histories(x, t_x, T)
    per_purchase, _, _ = _discount_factors(model, ux, ut, uT, horizon_months, discount_rate, time_unit)
    return as_array(per_purchase[codes] * as_array(spend))


def _discount_factors(
    model: TransactionModel, x: Array, t_x: Array, T: Array, horizon_months: int, discount_rate: float, time_unit: str
) -> tuple[Array, Array, Array]:
    """(discounted expected purchases over the horizon, undiscounted ones, P(alive)) per row; times spend gives CLV."""
    if horizon_months < 1:
        raise InputError("The CLV horizon must be at least one month.")
    if discount_rate < 0:
        raise InputError("The discount rate cannot be negative.")
    months = np.arange(1, horizon_months + 1, dtype=np.float64)
    ends = (months * UNIT_DAYS["M"] / unit_days(time_unit))[:, None]
    # purchases = (purchases if alive, a function of x and T) × P(alive), and discounting is linear:
    # discount the first factor per distinct (x, T), for every month end at once, then scale by P(alive)
    codes, (ux, uT) = distinct_rows(x, T)
    cumulative = np.atleast_2d(model._purchases_if_alive(ends, ux, uT))
    per_month = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1.0 + discount_rate) ** -months
    alive = model._p_alive(x, t_x, T)
    discounted = small_product(discount, per_month)  # months × distinct (x, T)
    return as_array(discounted[codes] * alive), as_array(cumulative[-1][codes] * alive), alive


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
    x, t_x, T = (as_array(summary[c]) for c in ("frequency", "recency", "T"))
    kept = [c for c in ("frequency", "recency", "T", "monetary_value") if c in summary.columns]
    # an all-float table is one 8 × customers block: have its pages faulted in on the pool meanwhile
    all_float = all(summary[c].dtype == np.float64 for c in kept)
    output = float_block_in_background(len(kept) + 4, len(summary)) if all_float else None
    if spend is not None:
        expected_spend = as_array(spend.expected_spend(summary))
    else:
        m = np.nan_to_num(as_array(summary.get("monetary_value", pd.Series(np.nan, index=summary.index))))
        fallback = float(np.mean(m[x > 0])) if np.any(x > 0) else 0.0
        expected_spend = np.where(x > 0, m, fallback)
    # customers with the same history share every prediction: compute once per distinct (x, t_x, T)
    codes, (ux, ut, uT) = transactions._distinct_histories(x, t_x, T)
    factors, purchases, alive = _discount_factors(transactions, ux, ut, uT, horizon_months, discount_rate, time_unit)
    clv = factors[codes] * expected_spend
    # build the table directly in its final order (highest CLV first) instead of sorting a built one:
    # each column is gathered once, the per-history columns straight from their distinct values
    order = descending_order(clv)
    history = codes[order]
    gathers: list[tuple[str, Any, Order]] = [
        *((c, column_values(summary[c]), order) for c in kept),
        ("p_alive", alive, history),
        ("expected_purchases", purchases, history),
        ("expected_spend", expected_spend, order),
        ("clv", clv, order),
    ]
    return table_in_order(gathers, summary.index, order, None if output is None else output())
