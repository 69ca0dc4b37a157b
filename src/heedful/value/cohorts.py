"""Acquisition cohorts: retention and revenue by period since each customer's first purchase."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from heedful.errors import InputError
from heedful.value.summary import EPOCH, Columns, daily_transactions

PERIODS = ("D", "W", "M", "Q")


@dataclass(frozen=True)
class CohortResult:
    period: str
    sizes: pd.Series  # customers acquired per cohort
    active: pd.DataFrame  # cohort × periods since acquisition: customers who bought
    retention: pd.DataFrame  # active / cohort size
    revenue: pd.DataFrame  # net revenue

    def to_dict(self) -> dict[str, object]:
        def table(frame: pd.DataFrame) -> list[dict[str, object]]:
            out = frame.copy()
            out.columns = [str(c) for c in out.columns]
            return out.reset_index().to_dict(orient="records")

        return {
            "period": self.period,
            "sizes": {str(k): int(v) for k, v in self.sizes.items()},
            "retention": table(self.retention),
            "revenue": table(self.revenue),
        }


def _period_index(day: ir.IntegerValue, period: str) -> ir.IntegerValue:
    """Integer index of the calendar period containing `day` (days since 1970-01-01)."""
    if period == "D":
        return day
    if period == "W":
        return (day + 3) // 7  # weeks starting on Monday (1970-01-01 was a Thursday)
    as_date = ibis.date(EPOCH) + day.as_interval("D")
    if period == "M":
        return as_date.year() * 12 + as_date.month() - 1
    return as_date.year() * 4 + as_date.quarter() - 1


def _period_label(index: int, period: str) -> str:
    if period == "D":
        return str(pd.Timestamp(EPOCH) + pd.Timedelta(days=index))[:10]
    if period == "W":
        return str(pd.Timestamp(EPOCH) + pd.Timedelta(days=index * 7 - 3))[:10]
    if period == "M":
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    return f"{index // 4:04d}-Q{index % 4 + 1}"


def cohorts(orders: ir.Table | pd.DataFrame, *, period: str = "M", cols: Columns = Columns()) -> CohortResult:
    """Retention (share of the cohort buying in each period since acquisition) and net revenue tables."""
    period = period.upper()
    if period not in PERIODS:
        raise InputError(f"Unknown cohort period {period!r}; use one of {', '.join(PERIODS)}.")
    days = daily_transactions(orders, cols)
    days = days.mutate(p=_period_index(days.day, period))
    bought = days.n_purchases > 0
    first = days.filter(bought).group_by("customer_id").aggregate(cohort=days.filter(bought).p.min())
    joined = days.join(first, "customer_id")
    joined = joined.mutate(offset=joined.p - joined.cohort)
    cells = joined.group_by(["cohort", "offset"]).aggregate(
        active=ibis.ifelse(joined.n_purchases > 0, joined.customer_id, None).nunique(),
        revenue=(joined.purchase - joined.refund).sum(),
    )
    frame = cells.to_pandas()
    if frame.empty:
        raise InputError("No purchases found to build cohorts from.")
    frame["offset"] = frame["offset"].astype(int)
    offsets = range(int(frame["offset"].max()) + 1)  # every period, also those with no purchase at all
    active = frame.pivot_table(index="cohort", columns="offset", values="active", aggfunc="sum")
    active = active.reindex(columns=offsets).fillna(0)
    revenue = frame.pivot_table(index="cohort", columns="offset", values="revenue", aggfunc="sum")
    revenue = revenue.reindex(columns=offsets).fillna(0.0)
    # periods after the end of the data are unknown, not zero
    last = int((frame["cohort"] + frame["offset"]).max())
    observed = pd.DataFrame({o: [int(c) + o <= last for c in active.index] for o in active.columns}, index=active.index)
    active = active.where(observed)
    revenue = revenue.where(observed)
    sizes = active[0]
    retention = active.div(sizes, axis=0)
    labels = [_period_label(int(c), period) for c in active.index]
    for table in (active, revenue, retention):
        table.index = pd.Index(labels, name="cohort")
        table.columns.name = "periods_since_acquisition"
    sizes = sizes.set_axis(labels).astype(int)
    return CohortResult(period, sizes.rename("customers"), active, retention, revenue)
