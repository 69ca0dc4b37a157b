"""Transactions -> per-customer summary (frequency, recency, T, monetary value), as Ibis queries.

The queries run on whatever backend holds the orders (DuckDB, PostgreSQL, Spark, …), so only one row
per customer ever reaches Python: one portable query (`summary_query`), or on DuckDB a faster route
of two (see "purchase days as bitmaps" below). Conventions follow the BTYD literature (Fader, Hardie & Lee 2005):

* all orders of a customer on one calendar day are one transaction;
* `frequency` counts repeat transactions (days with a purchase after the first one);
* `recency` is the time from the first to the last transaction and `T` the time from the first
  transaction to the end of the (calibration) period, both in `time_unit` (days / 7 for weeks);
* returns (rows flagged as returns, or with a negative amount) never count as transactions, and
  `monetary_value` — the mean value of the repeat transactions — is scaled down by the share of the
  customer's purchases that was refunded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from heedful.errors import InputError
from heedful.value import summary_sql
from heedful.value.columns import EPOCH, Columns, summary_frame, unit_days


def as_table(orders: ir.Table | pd.DataFrame) -> ir.Table:
    return ibis.memtable(orders) if isinstance(orders, pd.DataFrame) else orders


def _to_date(value: str | date | datetime | pd.Timestamp | None) -> date | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise InputError(f"Cannot read {value!r} as a date; use YYYY-MM-DD.") from exc


def order_lines(orders: ir.Table | pd.DataFrame, cols: Columns = Columns()) -> ir.Table:
    """One row per order line: `customer_id`, `day` (days since 1970-01-01), `purchase`, `refund`, `bought`.

    `bought` is false for returns (flagged, or a negative amount), which are no transactions.
    """
    t = as_table(orders)
    missing = [c for c in (cols.customer, cols.date, cols.amount) if c is not None and c not in t.columns]
    if missing:
        raise InputError(f"Column(s) {missing} not found; the data has {list(t.columns)}.")
    when: Any = t[cols.date]
    if when.type().is_string():
        when = when.as_timestamp(cols.date_format) if cols.date_format else when.cast("timestamp")
    elif not (when.type().is_timestamp() or when.type().is_date()):
        raise InputError(f"Column {cols.date!r} holds {when.type()}, not dates.")
    day = when.date().delta(ibis.date(EPOCH), unit="day").cast("int32")  # 4 bytes: smaller aggregate states
    amount: Any = t[cols.amount].cast("float64") if cols.amount else ibis.literal(0.0)
    flagged: Any = (
        t[cols.is_return].cast("boolean").fill_null(False)
        if cols.is_return and cols.is_return in t.columns
        else ibis.literal(False)
    )
    is_return = flagged | (amount < 0)
    return t.filter(t[cols.customer].notnull(), when.notnull()).select(
        customer_id=t[cols.customer],  # ids stay in their own type: grouping integers is faster than text
        day=day,
        purchase=ibis.ifelse(is_return, 0.0, amount.fill_null(0.0)),
        refund=ibis.ifelse(is_return, amount.abs().fill_null(0.0), 0.0),
        bought=~is_return,
    )


def daily_transactions(orders: ir.Table | pd.DataFrame, cols: Columns = Columns()) -> ir.Table:
    """One row per customer and day: `day` (days since 1970-01-01), `purchase`, `refund`, `n_purchases`."""
    lines = order_lines(orders, cols)
    return lines.group_by(["customer_id", "day"]).aggregate(
        purchase=lines.purchase.sum(),
        refund=lines.refund.sum(),
        n_purchases=ibis.ifelse(lines.bought, 1, 0).sum(),
    )


def shared_purchase_days(lines: ir.Table) -> ir.Table:
    """The (customer, day) pairs with more than one purchase line: `n` lines worth `value` in all.

    A customer's purchase days are then their purchase lines minus the surplus lines here, so the
    per-customer figures come from one pass over the order lines instead of a second aggregation
    of every (customer, day) group; only this pair count is high-cardinality, and its output is small.
    """
    bought = lines.filter(lines.bought)
    pairs = bought.group_by(["customer_id", "day"]).aggregate(n=bought.count(), value=bought.purchase.sum())
    return pairs.filter(pairs.n > 1)


def transaction_summary(
    orders: ir.Table | pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "ordered_at",
    amount_col: str | None = "amount",
    return_col: str | None = "is_return",
    date_format: str | None = None,
    time_unit: str = "W",
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
    net_spend: bool = False,
) -> pd.DataFrame:
    """Per-customer summary, indexed by `customer_id`.

    Columns: frequency, recency, T, monetary_value, first_purchase; with `calibration_end` also
    frequency_holdout, monetary_value_holdout and duration_holdout (customers acquired after the
    calibration end are left out, as in the literature); with `net_spend`, the customer's spend net
    of refunds up to the calibration end (what `rfm_from_summary` needs, from the same pass).
    """
    return summarise(
        orders,
        Columns(customer_col, date_col, amount_col, return_col, date_format),
        time_unit=time_unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
        net_spend=net_spend,
    )


def summarise(
    orders: ir.Table | pd.DataFrame,
    cols: Columns = Columns(),
    *,
    time_unit: str = "W",
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
    net_spend: bool = False,
) -> pd.DataFrame:
    """`transaction_summary` with the input columns given as one `Columns`."""
    table = _SummaryPlan.make(orders, cols, time_unit, calibration_end, observation_end, net_spend).run()
    return summary_frame(table)


@dataclass(frozen=True)
class _Span:
    """What one scan of the order lines says: first purchase day, last day, and on DuckDB the number of
    order lines (a bound on the customers that costs nothing, unlike counting them)."""

    first_purchase_day: int | None
    last_day: int | None
    lines: int | None


def _span(lines: ir.Table, duckdb: bool) -> _Span:
    """One plain scan of the order lines (no grouping) for the day range and, on DuckDB, the line count."""
    stats: dict[str, Any] = {"lo": lines.day.min(where=lines.bought), "hi": lines.day.max()}
    if duckdb:
        stats["lines"] = lines.count()
    row = lines.aggregate(**stats).to_pyarrow().to_pylist()[0]
    lo, hi = row["lo"], row["hi"]
    return _Span(
        None if lo is None else int(lo), None if hi is None else int(hi), int(row["lines"]) if duckdb else None
    )


def _end_days(span: _Span, calibration_end: date | None, observation_end: date | None) -> tuple[int, int]:
    """(end of calibration, end of observation) as day numbers; the data's last day where not given."""
    if observation_end is None:
        if span.last_day is None:
            raise InputError("No transactions with a customer and a date were found.")
        last_day = span.last_day
    else:
        last_day = (observation_end - EPOCH).days
    cal_day = (calibration_end - EPOCH).days if calibration_end else last_day
    if cal_day > last_day:
        raise InputError(f"The calibration end {calibration_end} is after the observation end.")
    return cal_day, last_day


# ------------------------------------------------------------------ DuckDB: purchase days as bitmaps
# Counting a customer's distinct purchase days is the expensive part of the summary: grouping every
# order line by (customer, day) builds a hash table as large as the data (9.8M groups for 10M lines).
# On DuckDB each customer instead gets a bitmap of the days they bought on (`bitstring_agg`, one bit
# per day of the data's range) inside the per-customer aggregation, and the purchase days are its
# set bits: about 40% less CPU. The first purchase day's value is its first line's value, except for
# customers with several purchase lines on a day, whose first day is summed by a second, small query
# (one query doing both costs more: DuckDB then materialises the per-customer result for both uses).
# The bitmaps cost range/8 bytes per customer, so the summary falls back to the (customer, day)
# grouping where they would not fit this budget.
BITMAP_BUDGET_BYTES = summary_sql.BITMAP_BUDGET_BYTES


@ibis.udf.agg.builtin(name="bitstring_agg")
def _day_bitmap(day: int, first: int, last: int) -> str:  # type: ignore[empty-body]
    """DuckDB: a bitstring with bit (day - first) set for every day seen."""


@ibis.udf.scalar.builtin(name="bit_count")
def _set_bits(bitmap: str) -> int:  # type: ignore[empty-body]
    """DuckDB: number of set bits."""


@ibis.udf.agg.builtin(name="arg_min")
def _value_at_min(value: float, key: int) -> float:  # type: ignore[empty-body]
    """DuckDB: `value` of the row with the smallest `key` (Ibis writes argmin as FIRST … ORDER BY, slower)."""


def _is_duckdb(table: ir.Table) -> bool:
    try:
        return bool(table._find_backend(use_default=True).name == "duckdb")
    except Exception:  # an unbound expression: let the portable query run
        return False


def _use_bitmaps(span: _Span, lines: ir.Table, cal_day: int, last_day: int) -> bool:
    first = span.first_purchase_day
    if span.lines is None or first is None or first > cal_day:
        return False  # not DuckDB, or no purchase in the calibration period (an empty summary)
    size = (last_day - first) // 8 + 1
    if span.lines * size <= BITMAP_BUDGET_BYTES:  # even one customer per line fits
        return True
    customers = lines.customer_id.approx_nunique().to_pyarrow().as_py()  # a scan with hashing: only if it matters
    return int(customers or 0) * size <= BITMAP_BUDGET_BYTES


def purchase_days(lines: ir.Table, first: int, last: int, where: ir.BooleanValue) -> ir.IntegerValue:
    """DuckDB aggregate: distinct days in [first, last] of the rows matching `where` (0 if none)."""
    return _set_bits(_day_bitmap(lines.day, ibis.literal(first), ibis.literal(last), where=where)).fill_null(0)


def summary_query(
    orders: ir.Table | pd.DataFrame,
    *,
    cols: Columns = Columns(),
    time_unit: str = "W",
    calibration_end: str | date | None = None,
    observation_end: str | date | None = None,
    net_spend: bool = False,
) -> ir.Table:
    """`transaction_summary` as one Ibis expression (one row per customer, not yet executed), for any
    backend. (`transaction_summary` itself takes a faster two-step route on DuckDB.)"""
    plan = _SummaryPlan.make(orders, cols, time_unit, calibration_end, observation_end, net_spend, bitmaps=False)
    return plan.figures(_per_customer_pairs(plan.lines, plan.cal_day))


@dataclass(frozen=True)
class _SummaryPlan:
    """What a summary needs to know before its query: the order lines, the period ends, the route."""

    lines: ir.Table
    span: _Span
    cal_day: int
    last_day: int
    unit: float
    holdout: bool
    net_spend: bool
    bitmaps: bool

    @classmethod
    def make(
        cls,
        orders: ir.Table | pd.DataFrame,
        cols: Columns,
        time_unit: str,
        calibration_end: str | date | None,
        observation_end: str | date | None,
        net_spend: bool,
        *,
        bitmaps: bool = True,
    ) -> _SummaryPlan:
        unit = unit_days(time_unit)
        cal_end, obs_end = _to_date(calibration_end), _to_date(observation_end)
        lines = order_lines(orders, cols)
        span = _span(lines, duckdb=bitmaps and _is_duckdb(lines))
        cal_day, last_day = _end_days(span, cal_end, obs_end)
        if span.last_day is None or last_day < span.last_day:
            lines = lines.filter(lines.day <= last_day)
        use = _use_bitmaps(span, lines, cal_day, last_day)  # False where the span has no line count (not DuckDB)
        return cls(lines, span, cal_day, last_day, unit, cal_end is not None, net_spend, use)

    def figures(self, agg: ir.Table, extra: tuple[str, ...] = ()) -> ir.Table:
        """The summary's columns from the per-customer figures of `_per_customer_pairs` / `_bitmaps`."""
        frequency = agg.days_cal - 1
        out = agg.mutate(
            frequency=frequency,
            recency=(agg.last_day - agg.first_day).cast("float64") / self.unit,
            T=(ibis.literal(self.cal_day) - agg.first_day).cast("float64") / self.unit,
            monetary_value=_monetary_value(frequency, agg.gross, agg.refunds, agg.first_value),
            frequency_holdout=agg.days_holdout,
            net_spend=agg.gross - agg.refunds,
        )
        columns: list[Any] = ["customer_id", "frequency", "recency", "T", "monetary_value", "first_day"]
        if self.net_spend:
            columns.append("net_spend")
        if self.holdout:
            out = out.mutate(
                monetary_value_holdout=ibis.ifelse(
                    out.frequency_holdout > 0,
                    ibis.greatest(out.value_holdout, ibis.literal(0.0)) / out.frequency_holdout,
                    0.0,
                ),
                duration_holdout=ibis.literal((self.last_day - self.cal_day) / self.unit),
            )
            columns += ["frequency_holdout", "monetary_value_holdout", "duration_holdout"]
        return out.select(*columns, *extra)

    def run(self) -> pa.Table:
        """The summary as Arrow, one row per customer in customer order."""
        if not self.bitmaps:
            return self.figures(_per_customer_pairs(self.lines, self.cal_day)).order_by("customer_id").to_pyarrow()
        assert self.span.first_purchase_day is not None
        agg = _per_customer_bitmaps(
            self.lines, self.span.first_purchase_day, self.cal_day, self.last_day, holdout=self.holdout
        )
        extra = ("several", "gross", "refunds")
        table = self.figures(agg, extra).order_by("customer_id").to_pyarrow()
        # monetary value is 0 without repeat purchases, whatever the first day was worth
        several = table["several"].to_numpy(zero_copy_only=False) & (table["frequency"].to_numpy() > 0)
        if several.any():
            table = table.set_column(
                table.column_names.index("monetary_value"), "monetary_value", self._first_day_fix(table, several)
            )
        return table.drop_columns(list(extra))

    def _first_day_fix(self, table: pa.Table, several: np.ndarray[Any, Any]) -> pa.Array:
        """Monetary value of customers with several purchase lines on a day, from the value of their
        whole first purchase day (the query used the first line's value): a second query joins only
        their (customer, first day) with the order lines — cheaper than one query with both."""
        rows = np.flatnonzero(several)
        firsts = pa.table(
            {
                "row": pa.array(rows, pa.int64()),
                "fid": table["customer_id"].take(rows),
                "fday": table["first_day"].take(rows),
                **{name: table[name].take(rows) for name in ("frequency", "gross", "refunds")},
            }
        )
        need = ibis.memtable(firsts)
        days = pc.min_max(firsts["fday"])  # only lines on those days can match: customers mostly arrive early
        lines = self.lines
        bought = lines.filter(lines.bought, lines.day.between(days["min"].as_py(), days["max"].as_py()))
        joined = bought.join(need, [bought.customer_id == need.fid, bought.day == need.fday])
        fixed = joined.group_by(["row", "frequency", "gross", "refunds"]).aggregate(value=joined.purchase.sum())
        fixed = fixed.select(
            "row", monetary_value=_monetary_value(fixed.frequency, fixed.gross, fixed.refunds, fixed.value)
        ).to_pyarrow()
        monetary = table["monetary_value"].to_numpy().copy()
        monetary[fixed["row"].to_numpy()] = fixed["monetary_value"].to_numpy()
        return pa.array(monetary, pa.float64())


def _monetary_value(frequency: Any, gross: Any, refunds: Any, first_value: Any) -> ir.FloatingValue:
    """Mean value of the repeat purchase days, scaled down by the share of purchases refunded."""
    zero = ibis.literal(0.0)
    kept = ibis.greatest(zero, 1.0 - refunds / ibis.greatest(gross, ibis.literal(1e-12)))
    return ibis.ifelse(frequency > 0, (gross - first_value) / frequency * kept, zero)


def _per_customer_pairs(lines: ir.Table, cal_day: int) -> ir.Table:
    """Per-customer figures on any backend: first_day, last_day, days_cal, days_holdout, gross, refunds,
    first_value (of the first purchase day), value_holdout. Purchase days are purchase lines minus the
    surplus lines of days with several, from a (customer, day) grouping of the purchase lines."""
    in_cal = lines.day <= cal_day
    zero = ibis.literal(0.0)
    per_customer = lines.group_by("customer_id").aggregate(
        first_day=lines.day.min(where=lines.bought),
        last_day=lines.day.max(where=lines.bought & in_cal),
        lines_cal=ibis.ifelse(lines.bought & in_cal, 1, 0).sum(),
        lines_holdout=ibis.ifelse(lines.bought & ~in_cal, 1, 0).sum(),
        gross=lines.purchase.sum(where=in_cal).fill_null(zero),
        first_line_value=lines.purchase.argmin(lines.day, where=lines.bought),
        refunds=lines.refund.sum(where=in_cal).fill_null(zero),
        value_holdout=(lines.purchase - lines.refund).sum(where=~in_cal).fill_null(zero),
    )
    per_customer = per_customer.filter(per_customer.first_day <= cal_day)
    shared = shared_purchase_days(lines)
    surplus = shared.group_by(shared.customer_id.name("sid")).aggregate(
        surplus_cal=(shared.n - 1).sum(where=shared.day <= cal_day),
        surplus_holdout=(shared.n - 1).sum(where=shared.day > cal_day),
        shared_first_day=shared.day.min(),
        shared_first_value=shared.value.argmin(shared.day),
    )
    agg = per_customer.left_join(surplus, per_customer.customer_id == surplus.sid)
    return agg.select(
        customer_id=agg.customer_id,
        first_day=agg.first_day,
        last_day=agg.last_day,
        days_cal=agg.lines_cal - agg.surplus_cal.fill_null(0),
        days_holdout=agg.lines_holdout - agg.surplus_holdout.fill_null(0),
        gross=agg.gross,
        refunds=agg.refunds,
        first_value=ibis.ifelse(agg.shared_first_day == agg.first_day, agg.shared_first_value, agg.first_line_value),
        value_holdout=agg.value_holdout,
    )


def _per_customer_bitmaps(lines: ir.Table, first: int, cal_day: int, last_day: int, *, holdout: bool) -> ir.Table:
    """`_per_customer_pairs` on DuckDB in one per-customer aggregation: purchase days from day bitmaps.

    `first_value` is the first purchase line's value: right unless the customer has several purchase
    lines on one day (`several`), which `_SummaryPlan` then corrects.
    """
    split = last_day > cal_day  # without a holdout period every line is in the calibration period
    in_cal = lines.day <= cal_day
    bought_cal = lines.bought & in_cal if split else lines.bought
    zero = ibis.literal(0.0)
    figures: dict[str, Any] = {
        "first_day": lines.day.min(where=lines.bought),
        "last_day": lines.day.max(where=bought_cal),
        "days_cal": purchase_days(lines, first, cal_day, bought_cal),
        "lines_cal": lines.count(where=bought_cal),
        "gross": lines.purchase.sum(where=in_cal if split else None).fill_null(zero),
        "refunds": lines.refund.sum(where=in_cal if split else None).fill_null(zero),
        "first_value": _value_at_min(lines.purchase, lines.day, where=lines.bought),
    }
    if holdout and split:
        figures["days_holdout"] = purchase_days(lines, cal_day + 1, last_day, lines.bought & ~in_cal)
        figures["value_holdout"] = (lines.purchase - lines.refund).sum(where=~in_cal).fill_null(zero)
    else:
        figures["days_holdout"] = ibis.literal(0)
        figures["value_holdout"] = zero
    per_customer = lines.group_by("customer_id").aggregate(**figures)
    per_customer = per_customer.filter(per_customer.first_day <= cal_day)
    return per_customer.mutate(several=per_customer.lines_cal > per_customer.days_cal)


def repeat_transactions_by_day(
    orders: ir.Table | pd.DataFrame,
    *,
    cols: Columns = Columns(),
    observation_end: str | date | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Inputs of a tracking curve: (repeat transactions per day, new customers per first-purchase day).

    Both frames have a `day` column (days since 1970-01-01) and a count `n`.
    """
    days = daily_transactions(orders, cols)
    obs = _to_date(observation_end)
    if obs is not None:
        days = days.filter(days.day <= (obs - EPOCH).days)
    purchases = days.filter(days.n_purchases > 0)
    first = purchases.group_by("customer_id").aggregate(first_day=purchases.day.min())
    joined = purchases.join(first, "customer_id")
    repeats = joined.filter(joined.day > joined.first_day)
    repeat_counts = repeats.group_by("day").aggregate(n=repeats.count()).to_pandas()
    births = first.group_by(first.first_day.name("day")).aggregate(n=first.count()).to_pandas()
    return repeat_counts.sort_values("day").reset_index(drop=True), births.sort_values("day").reset_index(drop=True)
