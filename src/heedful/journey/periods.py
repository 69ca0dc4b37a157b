"""Comparable periods: a month whose data ends before its last day is partial, and is never compared
with a full one.

The one place that decides it. `coverage(period, data_end)` says whether `period` (YYYY-MM) is partial
given the data's last timestamp (the latest order, feedback item or survey answer), and how many days
it covers; `last_complete_period(data_end)` is the month every default picks (scorecard, alerts,
report, the Overview). When someone asks for a partial month anyway, the month before is cut to the
same number of days (`first_days`) and the output says so ("compared with the first 9 days of
2011-11"). Pure: timestamps and frames in, answers out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

import pandas as pd

from heedful.journey.metrics import JourneyData, period_labels, previous_period

Moment: TypeAlias = pd.Timestamp | datetime | date | str | None


def _day(moment: Moment) -> pd.Timestamp | None:
    if moment is None:
        return None
    ts = pd.Timestamp(moment)
    if pd.isna(ts):
        return None
    return (ts.tz_convert(None) if ts.tzinfo is not None else ts).normalize()


@dataclass(frozen=True)
class Coverage:
    """How much of one month the data covers."""

    period: str
    days: int
    days_in_period: int
    data_end: pd.Timestamp | None = None

    @property
    def partial(self) -> bool:
        return self.days < self.days_in_period

    @property
    def previous(self) -> str:
        return previous_period(self.period)

    @property
    def versus(self) -> str:
        """What the period is compared with: 'last month', or 'the first 9 days of 2011-11'."""
        if not self.partial:
            return "last month"
        return f"the first {self.days} day{'s' if self.days != 1 else ''} of {self.previous}"

    @property
    def comparison(self) -> str:
        """The comparison method in words, for outputs that show a change."""
        if not self.partial:
            return f"compared with the whole of {self.previous}"
        return f"compared with {self.versus} (the data ends on {self.end_shown})"

    @property
    def end_shown(self) -> str:
        return f"{self.data_end:%d %b %Y}" if self.data_end is not None else "–"

    @property
    def label(self) -> str:
        """'Nov 2011', or 'Dec 2011 (partial, 9 days)' — how charts name the month."""
        name = pd.Period(self.period, freq="M").strftime("%b %Y")
        return f"{name} (partial, {self.days} day{'s' if self.days != 1 else ''})" if self.partial else name

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "partial": self.partial,
            "days_covered": self.days,
            "days_in_period": self.days_in_period,
            "data_end": self.data_end.date().isoformat() if self.data_end is not None else None,
            "comparison": self.comparison,
        }


def coverage(period: str, data_end: Moment) -> Coverage:
    """How many days of `period` the data (ending at `data_end`) covers; a month is complete when the
    data reaches its last day, and every month is complete when there is no data."""
    p = pd.Period(period, freq="M")
    length = int(p.days_in_month)
    end = _day(data_end)
    if end is None or end >= p.end_time.normalize():
        return Coverage(period, length, length, end)
    covered = max(0, (end - p.start_time.normalize()).days + 1)
    return Coverage(period, covered, length, end)


def last_complete_period(data_end: Moment) -> str | None:
    """The latest month the data covers to its last day (None when there is no data)."""
    end = _day(data_end)
    if end is None:
        return None
    month = end.to_period("M")
    return str(month if end >= month.end_time.normalize() else month - 1)


def default_period(data_start: Moment, data_end: Moment) -> str | None:
    """The month defaults pick: the last complete one, or the (partial) latest month when the data
    holds no complete month at all."""
    end, start = _day(data_end), _day(data_start)
    complete = last_complete_period(end)
    if complete is None or end is None or start is None:
        return complete
    return str(end.to_period("M")) if pd.Period(complete, freq="M") < start.to_period("M") else complete


def first_days(data: JourneyData, periods: Iterable[str], days: int) -> JourneyData:
    """`data` with the rows of `periods` dated after their `days`-th day left out (feedback, answers,
    orders), so those months can be compared with a partial month of `days` days. Operations figures
    are monthly totals and cannot be cut: they are left as they are."""
    keep_periods = set(periods)

    def cut(frame: pd.DataFrame, column: str) -> pd.DataFrame:
        if frame.empty:
            return frame
        when = pd.to_datetime(frame[column], errors="coerce")
        inside = period_labels(when).astype(str).isin(keep_periods).to_numpy()
        late = inside & (when.dt.day.fillna(0).to_numpy() > days)
        return frame[~late] if late.any() else frame

    return JourneyData(
        feedback=cut(data.feedback, "created_at"),
        answers=cut(data.answers, "answered_at"),
        orders=cut(data.orders, "ordered_at"),
        customer_value=data.customer_value,
        operations=data.operations,
        customers=data.customers,
    )
