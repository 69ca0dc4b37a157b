"""Customer lifetime value: expected purchases, P(alive), expected spend and discounted CLV per customer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.value._special import (
    Array,
    as_array,
    distinct_rows,
    in_background,
    one_blas_thread,
    parallel_map,
    touched_block,
)
from heedful.value.summary import UNIT_DAYS, unit_days

if TYPE_CHECKING:
    from heedful.value.btyd import TransactionModel
    from heedful.value.gammagamma import GammaGamma


M = TypeVar("M", bound="TransactionModel")


def fit_clv_models(
    summary: pd.DataFrame, transactions: M, spend: GammaGamma | None = None
) -> tuple[M, GammaGamma | None]:
    """Fit the transaction model and (if given) the spend model on `summary`; returns both, fitted.

    The two fits are independent, so they run side by side: their single-threaded parts (the
    optimizer, grouping the customers) overlap on a second core. An error in either is raised here.
    """
    if spend is None:
        return transactions.fit(summary), None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="heedful-fit") as side:
        spend_fit = side.submit(spend.fit, summary)
        transactions.fit(summary)  # should it fail, leaving the block still waits for the spend fit
        return transactions, spend_fit.result()


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
    with one_blas_thread():  # a 12 × distinct-(x, T) product: waking BLAS threads costs more than it saves
        discounted = discount @ per_month
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
    output = in_background(lambda: touched_block(len(kept) + 4, len(summary))) if all_float else None
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
    gathers: list[tuple[str, Any, np.ndarray[Any, np.dtype[np.intp]]]] = [
        *((c, _column_values(summary[c]), order) for c in kept),
        ("p_alive", alive, history),
        ("expected_purchases", purchases, history),
        ("expected_spend", expected_spend, order),
        ("clv", clv, order),
    ]
    return _ordered_table(gathers, summary.index, order, None if output is None else output())


def _column_values(column: pd.Series) -> Any:
    """The column's NumPy array where it is float64 (the fast path below), else its pandas array."""
    return column.to_numpy() if column.dtype == np.float64 else column.array


def _ordered_table(
    gathers: list[tuple[str, Any, np.ndarray[Any, np.dtype[np.intp]]]],
    index: pd.Index,
    order: np.ndarray[Any, np.dtype[np.intp]],
    block: Array | None,
) -> pd.DataFrame:
    """A table of `values.take(rows)` per (name, values, rows), on `index.take(order)`; `block` (one row per
    column, one column per customer) receives the values where all are floats.

    All-float columns are gathered straight into one 2-D block, over the worker threads (NumPy's take
    releases the GIL, the index's does not: they overlap), so pandas neither copies nor consolidates.
    """
    names = [name for name, _, _ in gathers]
    if block is None or not all(getattr(values, "dtype", None) == np.float64 for _, values, _ in gathers):
        columns = {name: values.take(rows) for name, values, rows in gathers}
        return pd.DataFrame(columns, index=index.take(order))

    def gather_floats() -> None:
        for row, (_, values, rows) in enumerate(gathers):
            np.take(np.asarray(values, dtype=np.float64), rows, out=block[row])

    # two tasks of similar length: the index's take (object ids, holds the GIL) beside the float gathers
    tasks: list[Callable[[], Any]] = [lambda: index.take(order), gather_floats]
    taken_index, _ = parallel_map(lambda task: task(), tasks)
    return pd.DataFrame(block.T, columns=names, index=taken_index, copy=False)


def descending_order(values: Array) -> np.ndarray[Any, np.dtype[np.intp]]:
    """The row order of `DataFrame.sort_values(ascending=False)`, ties and NaN (last) included.

    pandas reverses the values, sorts them ascending (quicksort), and reverses the result; doing the
    same on the bare array gives the same order without building and then permuting a whole table.
    """
    missing = np.isnan(values)
    positions = np.arange(len(values), dtype=np.intp)
    if not missing.any():
        last = len(values) - 1
        return np.asarray(last - values[::-1].argsort(kind="quicksort")[::-1], dtype=np.intp)
    present, present_at = values[~missing][::-1], positions[~missing][::-1]
    order = present_at[present.argsort(kind="quicksort")][::-1]
    return np.concatenate([order, positions[missing]]).astype(np.intp, copy=False)
