"""Journey metrics computed from heedful's tables: a value with a 95% interval, its n, and a monthly series.

Pure: every function takes DataFrames (gathered by `store.journey_repo`) and returns DataFrames or
small result objects. Proportions get Wilson intervals, NPS the adjusted Wald interval of
`heedful.stats.nps_interval` (the one the survey pages show), means a t interval.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from heedful.errors import InputError
from heedful.journey.config import PROPORTION_KINDS, MetricSpec
from heedful.stats import nps_interval, two_proportion_p, wilson_interval
from heedful.themes import SEPARATOR as THEME_SEPARATOR
from heedful.themes import mention_polarity

SERIES_COLUMNS = ["period", "n", "value", "low", "high", "se"]
Status = Literal["met", "at_risk", "missed", "not_enough_data", "no_data"]

EXTERNAL_KINDS = ("customer", "prospect")

_EMPTY_COLUMNS: dict[str, list[str]] = {
    "feedback": [
        "feedback_id",
        "created_at",
        "customer_id",
        "author_kind",
        "text",
        "redacted_text",
        "rating",
        "sentiment",
        "sentiment_score",
        "themes",
        "theme_sentiments",
        "department",
        "journey_stage",
    ],
    "answers": ["response_id", "slug", "question_id", "value_num", "answered_at", "customer_id", "audience"],
    "orders": ["customer_id", "order_id", "ordered_at", "amount", "is_return"],
    "customer_value": ["customer_id", "clv", "churn_risk", "segment", "p_alive"],
    "operations": ["metric", "period_start", "segment", "numerator", "denominator", "value"],
    "customers": ["customer_id", "kind", "name"],
}


def empty_frame(name: str) -> pd.DataFrame:
    """An empty table with the columns journey functions expect for `name`."""
    return pd.DataFrame({c: pd.Series(dtype="object") for c in _EMPTY_COLUMNS[name]})


def period_labels(times: pd.Series) -> pd.Series:
    """Month labels ('2026-10') of timestamps, as a categorical (fast to compare and group on large
    tables); missing times give missing labels."""
    ts = pd.to_datetime(times, errors="coerce")
    valid = ts.notna().to_numpy()
    month = np.full(len(ts), -1, dtype=np.int64)
    month[valid] = (
        ts.dt.year.to_numpy()[valid].astype(np.int64) * 12 + ts.dt.month.to_numpy()[valid].astype(np.int64) - 1
    )
    uniq, inverse = np.unique(month[valid], return_inverse=True)
    codes = np.full(len(ts), -1, dtype=np.int64)
    codes[valid] = inverse
    categories = [f"{u // 12:04d}-{u % 12 + 1:02d}" for u in uniq]
    index = times.index if isinstance(times, pd.Series) else None
    return pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=index)


def check_period(period: str) -> str:
    """`period` if it is a month written YYYY-MM; InputError otherwise."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period or ""):
        raise InputError(f"Period {period!r} must be a month written YYYY-MM, e.g. 2026-10.")
    return period


def previous_period(period: str, k: int = 1) -> str:
    return str(pd.Period(period, freq="M") - k)


def period_range(end: str, length: int) -> list[str]:
    """The `length` months ending with `end`, oldest first."""
    last = pd.Period(end, freq="M")
    return [str(last - i) for i in range(length - 1, -1, -1)]


def period_bounds(period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[start, end) timestamps of a month label."""
    p = pd.Period(period, freq="M")
    return p.start_time, (p + 1).start_time


class JourneyData:
    """The tables journey metrics read, as DataFrames, with derived columns computed once.

    feedback: feedback joined with feedback_enriched; answers: answers with their response's
    survey slug, respondent and audience; orders; customer_value; operations; customers.
    Missing tables are empty frames.
    """

    def __init__(
        self,
        feedback: pd.DataFrame | None = None,
        answers: pd.DataFrame | None = None,
        orders: pd.DataFrame | None = None,
        customer_value: pd.DataFrame | None = None,
        operations: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None,
    ) -> None:
        self.feedback = _or_empty(feedback, "feedback")
        self.answers = _or_empty(answers, "answers")
        self.orders = _or_empty(orders, "orders")
        self.customer_value = _or_empty(customer_value, "customer_value")
        self.operations = _or_empty(operations, "operations")
        self.customers = _or_empty(customers, "customers")
        # set by `internal.split_audiences`: the per-audience views, computed once per data set
        self.audiences: dict[str, JourneyData] | None = None

    def subset(self, feedback_mask: pd.Series | None = None, answers_mask: pd.Series | None = None) -> JourneyData:
        """A view with feedback / answers filtered (used to keep audiences apart)."""
        return JourneyData(
            feedback=self.feedback[feedback_mask] if feedback_mask is not None else self.feedback,
            answers=self.answers[answers_mask] if answers_mask is not None else self.answers,
            orders=self.orders,
            customer_value=self.customer_value,
            operations=self.operations,
            customers=self.customers,
        )

    @cached_property
    def feedback_period(self) -> pd.Series:
        return period_labels(self.feedback["created_at"])

    @cached_property
    def answers_period(self) -> pd.Series:
        return period_labels(self.answers["answered_at"])

    @cached_property
    def _value_index(self) -> pd.DataFrame:
        cv = self.customer_value
        return cv.drop_duplicates("customer_id").set_index("customer_id", drop=False)

    def value_of(self, customer_ids: pd.Index) -> pd.DataFrame:
        """customer_value rows of these customers (hash lookups: cheap on millions of customers)."""
        index = self._value_index
        return index.loc[index.index.intersection(customer_ids)].reset_index(drop=True)

    @cached_property
    def theme_rows(self) -> dict[str, np.ndarray]:
        """Positions in `theme_mentions` of each theme's mentions (one pass instead of a scan per metric)."""
        return {str(k): v for k, v in self.theme_mentions.groupby("theme", sort=False).indices.items()}

    def mentions_of(self, theme: str | None) -> pd.DataFrame:
        """The rows of `theme_mentions` about one theme."""
        positions = self.theme_rows.get(str(theme), np.empty(0, dtype=np.int64))
        return self.theme_mentions.iloc[positions]

    @cached_property
    def main_theme(self) -> pd.Series:
        """The first (main) theme of every feedback row, aligned with `feedback` ('' when none)."""
        mentions = self.theme_mentions.drop_duplicates("row")
        out = np.full(len(self.feedback), "", dtype=object)
        out[mentions["row"].to_numpy(dtype=np.int64)] = mentions["theme"].to_numpy()
        return pd.Series(out, index=self.feedback.index)

    @cached_property
    def theme_mentions(self) -> pd.DataFrame:
        """One row per (feedback item, theme) with the sentiment about that theme and the period."""
        fb = self.feedback
        if fb.empty:
            return pd.DataFrame(
                {
                    "row": pd.Series(dtype="int64"),
                    **{c: pd.Series(dtype="object") for c in ("feedback_id", "theme", "theme_sentiment", "period")},
                }
            )
        # heedful.themes' encoding, decoded by Arrow's compute kernels in C++: this runs over millions of items.
        themes = pa.array(fb["themes"].to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        lists = pc.split_pattern(pc.fill_null(themes, ""), THEME_SEPARATOR)
        theme = pc.utf8_trim_whitespace(pc.list_flatten(lists))
        rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
        keep = pc.greater(pc.utf8_length(theme), 0).to_numpy(zero_copy_only=False)
        rows, theme = rows[keep], theme.filter(pa.array(keep))
        theme_names = theme.to_numpy(zero_copy_only=False)
        sentiment = mention_polarity(
            theme_names,
            fb["theme_sentiments"].to_numpy(dtype=object)[rows],
            fb["sentiment"].to_numpy(dtype=object)[rows],
        )
        mentions = pd.DataFrame(
            {
                "row": rows,
                "feedback_id": fb["feedback_id"].to_numpy()[rows],
                "theme": theme_names,
                "period": self.feedback_period.reset_index(drop=True).iloc[rows].array,
                "theme_sentiment": sentiment,
            }
        )
        return mentions


def _positions(frame: pd.DataFrame, labels: np.ndarray) -> np.ndarray:
    """Positional indices of index labels (frames may carry a filtered, non-contiguous index)."""
    if isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1:
        return labels.astype(np.int64)
    return np.asarray(frame.index.get_indexer(labels))


def _or_empty(frame: pd.DataFrame | None, name: str) -> pd.DataFrame:
    if frame is None:
        return empty_frame(name)
    missing = [c for c in _EMPTY_COLUMNS[name] if c not in frame.columns]
    if missing:
        frame = frame.copy()
        for c in missing:
            frame[c] = None
    return frame


# ---------------------------------------------------------------- intervals


def proportion_series(periods: pd.Series, success: pd.Series) -> pd.DataFrame:
    """Per period: n, share of successes, Wilson interval and standard error."""
    frame = pd.DataFrame({"period": _labels(periods), "success": success.to_numpy().astype(float)})
    frame = frame[frame["period"].notna()]
    g = frame.groupby("period", sort=True, observed=True)["success"].agg(["sum", "count"]).reset_index()
    return _proportion_frame(g["period"].astype(str), g["sum"].to_numpy(), g["count"].to_numpy())


def _labels(periods: pd.Series) -> pd.Series:
    """Period labels without their index, keeping a categorical dtype (grouping stays fast)."""
    if isinstance(periods, pd.Series):
        return periods.reset_index(drop=True)
    return pd.Series(periods)


def _proportion_frame(periods: pd.Series, k: np.ndarray, n: np.ndarray) -> pd.DataFrame:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        se = np.sqrt(p * (1 - p) / n)
    low, high = wilson_interval(k, n)
    return pd.DataFrame(
        {"period": periods.to_numpy(), "n": n.astype(int), "value": p, "low": low, "high": high, "se": se}
    )


def mean_series(periods: pd.Series, values: pd.Series) -> pd.DataFrame:
    """Per period: n, mean, t interval and standard error of the mean."""
    frame = pd.DataFrame({"period": _labels(periods), "v": pd.to_numeric(values, errors="coerce").to_numpy()})
    frame = frame[frame["period"].notna() & frame["v"].notna()]
    g = frame.groupby("period", sort=True, observed=True)["v"].agg(["mean", "std", "count"]).reset_index()
    g["period"] = g["period"].astype(str)
    n = g["count"].to_numpy().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = g["std"].to_numpy() / np.sqrt(n)
        t = stats.t.ppf(0.975, np.maximum(n - 1, 1))
    half = np.where(n >= 2, t * se, np.nan)
    return pd.DataFrame(
        {
            "period": g["period"].to_numpy(),
            "n": n.astype(int),
            "value": g["mean"].to_numpy(),
            "low": g["mean"].to_numpy() - half,
            "high": g["mean"].to_numpy() + half,
            "se": np.where(n >= 2, se, np.nan),
        }
    )


def nps_series(periods: pd.Series, scores: pd.Series) -> pd.DataFrame:
    """Per period: NPS (-100..100) with its 95% interval (`heedful.stats.nps_interval`, as every page shows).

    Each respondent scores +1 (9-10), 0 (7-8) or -1 (0-6); NPS is 100 × their mean. `se` is the standard
    error of that mean, sqrt((p + d - (p - d)²) / n) for promoter share p and detractor share d, which
    the change tests compare.
    """
    v = pd.to_numeric(scores, errors="coerce")
    frame = pd.DataFrame({"period": _labels(periods), "v": v.to_numpy()})
    frame = frame[frame["period"].notna() & frame["v"].between(0, 10)]
    frame["promoter"] = (frame["v"] >= 9).astype(float)
    frame["detractor"] = (frame["v"] <= 6).astype(float)
    g = frame.groupby("period", sort=True, observed=True).agg(
        n=("v", "count"), promoters=("promoter", "sum"), detractors=("detractor", "sum")
    )
    g = g.reset_index()
    g["period"] = g["period"].astype(str)
    n = g["n"].to_numpy().astype(float)
    promoters, detractors = g["promoters"].to_numpy(), g["detractors"].to_numpy()
    p = promoters / n
    d = detractors / n
    nps = 100 * (p - d)
    se = 100 * np.sqrt(np.maximum(p + d - (p - d) ** 2, 0) / n)
    low, high = nps_interval(promoters, n - promoters - detractors, detractors)
    return pd.DataFrame(
        {"period": g["period"].to_numpy(), "n": n.astype(int), "value": nps, "low": low, "high": high, "se": se}
    )


def nps_value(scores: pd.Series) -> tuple[float | None, float | None, float | None, int]:
    """NPS, its 95% interval and n of a set of 0-10 answers (no periods)."""
    s = nps_series(pd.Series(["all"] * len(scores)), scores.reset_index(drop=True))
    if s.empty:
        return None, None, None, 0
    row = s.iloc[0]
    return float(row["value"]), float(row["low"]), float(row["high"]), int(row["n"])


# ---------------------------------------------------------------- metric kinds


def metric_series(spec: MetricSpec, data: JourneyData, snapshot_period: str | None = None) -> pd.DataFrame:
    """The monthly series of one metric (columns: period, n, value, low, high, se), oldest first."""
    fn = _KIND_FUNCTIONS[spec.kind]
    out = fn(spec, data, snapshot_period)
    return out[SERIES_COLUMNS].sort_values("period").reset_index(drop=True) if not out.empty else _empty_series()


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object" if c == "period" else "float") for c in SERIES_COLUMNS})


def _theme_positive_share(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    m = data.mentions_of(spec.theme)
    if spec.stage or spec.department:
        rows = data.feedback.iloc[m["row"].to_numpy()] if not m.empty else data.feedback.iloc[[]]
        keep = _feedback_filter(rows, spec).to_numpy()
        m = m[keep]
    return proportion_series(m["period"], m["theme_sentiment"] == "positive")


def _feedback_filter(fb: pd.DataFrame, spec: MetricSpec) -> pd.Series:
    keep = pd.Series(True, index=fb.index)
    if spec.stage:
        keep &= fb["journey_stage"] == spec.stage
    if spec.department:
        keep &= fb["department"] == spec.department
    return keep


def _feedback_positive_share(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    fb = data.feedback
    keep = _feedback_filter(fb, spec)
    return proportion_series(data.feedback_period[keep], fb.loc[keep, "sentiment"] == "positive")


def _answers_of(spec: MetricSpec, data: JourneyData) -> tuple[pd.Series, pd.Series]:
    a = data.answers
    keep = a["question_id"] == spec.question
    if spec.survey:
        keep &= a["slug"] == spec.survey
    return data.answers_period[keep], a.loc[keep, "value_num"]


def _nps(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    return nps_series(*_answers_of(spec, data))


def _csat(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    periods, values = _answers_of(spec, data)
    v = pd.to_numeric(values, errors="coerce")
    ok = v.notna()
    threshold = spec.threshold if spec.threshold is not None else 4.0
    return proportion_series(periods[ok], v[ok] >= threshold)


def _survey_mean(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    return mean_series(*_answers_of(spec, data))


def _operations_rows(spec: MetricSpec, data: JourneyData) -> tuple[pd.DataFrame, pd.Series]:
    ops = data.operations
    rows = ops[ops["metric"] == spec.operations_metric]
    if spec.department:
        rows = rows[rows.get("department_id", pd.Series(None, index=rows.index)) == spec.department]
    return rows, period_labels(rows["period_start"])


def _operations_ratio(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    rows, periods = _operations_rows(spec, data)
    frame = pd.DataFrame(
        {
            "period": _labels(periods),
            "num": pd.to_numeric(rows["numerator"], errors="coerce").to_numpy(),
            "den": pd.to_numeric(rows["denominator"], errors="coerce").to_numpy(),
        }
    ).dropna()
    frame = frame[frame["den"] > 0]
    g = frame.groupby("period", sort=True, observed=True)[["num", "den"]].sum().reset_index()
    return _proportion_frame(g["period"].astype(str), g["num"].to_numpy(), g["den"].to_numpy())


def _operations_value(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    rows, periods = _operations_rows(spec, data)
    return mean_series(periods, rows["value"])


def _repeat_rate(spec: MetricSpec, data: JourneyData, _: str | None) -> pd.DataFrame:
    o = data.orders
    if o.empty:
        return _empty_series()
    o = o[(~o["is_return"].fillna(False).astype(bool)) & o["customer_id"].notna()]
    when = pd.to_datetime(o["ordered_at"])
    month = (when.dt.year * 12 + when.dt.month).to_numpy()  # integer months: fast on millions of rows
    customer, _uniques = pd.factorize(o["customer_id"])
    first = pd.Series(month).groupby(customer).transform("min").to_numpy()
    buyers = pd.DataFrame({"customer": customer, "month": month, "returning": first < month})
    per_buyer = buyers.groupby(["month", "customer"], sort=False)["returning"].max().reset_index()
    labels = pd.Series([f"{(m - 1) // 12:04d}-{(m - 1) % 12 + 1:02d}" for m in per_buyer["month"].unique()])
    label_of = dict(zip(per_buyer["month"].unique(), labels, strict=True))
    return proportion_series(per_buyer["month"].map(label_of), per_buyer["returning"])


def _churn_risk_share(spec: MetricSpec, data: JourneyData, snapshot_period: str | None) -> pd.DataFrame:
    # customer_value is a snapshot: it describes "now", labelled with the period being reported.
    risk = pd.to_numeric(data.customer_value["churn_risk"], errors="coerce").dropna()
    if risk.empty:
        return _empty_series()
    threshold = spec.threshold if spec.threshold is not None else 0.5
    label = snapshot_period or str(pd.Timestamp.now().to_period("M"))
    return proportion_series(pd.Series([label] * len(risk)), risk >= threshold)


_KIND_FUNCTIONS = {
    "theme_positive_share": _theme_positive_share,
    "feedback_positive_share": _feedback_positive_share,
    "nps": _nps,
    "csat": _csat,
    "ces": _survey_mean,
    "survey_mean": _survey_mean,
    "operations_ratio": _operations_ratio,
    "operations_value": _operations_value,
    "repeat_rate": _repeat_rate,
    "churn_risk_share": _churn_risk_share,
}


# ---------------------------------------------------------------- results


@dataclass
class MetricResult:
    """One metric of one need for one period."""

    spec: MetricSpec
    period: str
    value: float | None
    low: float | None
    high: float | None
    n: int
    status: Status
    previous: float | None = None
    change: float | None = None
    change_p_value: float | None = None
    trend: str = "unknown"
    series: pd.DataFrame = field(default_factory=_empty_series)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric_id": self.spec.id,
            "label": self.spec.title,
            "kind": self.spec.kind,
            "period": self.period,
            "value": self.value,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "target": self.spec.target,
            "direction": self.spec.better,
            "status": self.status,
            "previous": self.previous,
            "change": self.change,
            "change_p_value": self.change_p_value,
            "trend": self.trend,
            "series": [
                {k: _clean(r[k]) for k in SERIES_COLUMNS if k != "se"} for r in self.series.to_dict(orient="records")
            ],
        }


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(float(v)) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def status_of(
    value: float | None, low: float | None, high: float | None, target: float, better: str, n: int = 0, min_n: int = 0
) -> Status:
    """met: the value reaches the target; at_risk: it does not, but the interval still reaches it;
    missed: the whole interval is on the wrong side; not_enough_data: n < `min_n`; no_data: nothing."""
    if value is None or not math.isfinite(value):
        return "no_data"
    if n < min_n:
        return "not_enough_data"
    reaches = value >= target if better == "higher" else value <= target
    if reaches:
        return "met"
    bound = high if better == "higher" else low
    if bound is not None and math.isfinite(bound):
        still_possible = bound >= target if better == "higher" else bound <= target
        if still_possible:
            return "at_risk"
    return "missed"


def difference_se(
    kind: str, before: pd.Series | dict[str, float], after: pd.Series | dict[str, float]
) -> tuple[float, float, float] | None:
    """(value before, value after, standard error of the difference) of two series rows: pooled for
    proportions, from each row's `se` otherwise; None when either side has no usable figure."""
    n1, n2 = float(before["n"]), float(after["n"])
    v1, v2 = float(before["value"]), float(after["value"])
    if n1 < 1 or n2 < 1 or not (math.isfinite(v1) and math.isfinite(v2)):
        return None
    if kind in PROPORTION_KINDS:
        pooled = (v1 * n1 + v2 * n2) / (n1 + n2)
        return v1, v2, math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    s1, s2 = float(before["se"]), float(after["se"])
    if not (math.isfinite(s1) and math.isfinite(s2)):
        return None
    return v1, v2, math.sqrt(s1**2 + s2**2)


def change_test(kind: str, before: pd.Series, after: pd.Series) -> float | None:
    """Two-sided p-value that the metric changed between two series rows (a share: `stats.two_proportion_p`,
    exact where the answers are few; otherwise a z-test from each row's standard error)."""
    diff = difference_se(kind, before, after)
    if diff is None:
        return None
    v1, v2, se = diff
    if kind in PROPORTION_KINDS:
        n1, n2 = float(before["n"]), float(after["n"])
        return two_proportion_p(v2 * n2, n2, v1 * n1, n1)
    if se <= 0:
        return 1.0 if v1 == v2 else 0.0
    return float(2 * stats.norm.sf(abs((v2 - v1) / se)))


def evaluate_metric(
    spec: MetricSpec,
    data: JourneyData,
    period: str,
    history: int = 12,
    series: pd.DataFrame | None = None,
    before: pd.DataFrame | None = None,
) -> MetricResult:
    """Value, interval, status and trend vs the previous period (read from `before` when given)."""
    full = series if series is not None else metric_series(spec, data, snapshot_period=period)
    window = set(period_range(period, history))
    shown = full[full["period"].isin(window)].reset_index(drop=True)
    current = full[full["period"] == period]
    if current.empty or int(current.iloc[0]["n"]) == 0:
        return MetricResult(spec, period, None, None, None, 0, "no_data", series=shown)
    row = current.iloc[0]
    value, low, high = (_clean(row["value"]), _clean(row["low"]), _clean(row["high"]))
    result = MetricResult(
        spec,
        period,
        value,
        low,
        high,
        int(row["n"]),
        status_of(value, low, high, spec.target, spec.better, int(row["n"]), spec.min_n),
        series=shown,
    )
    earlier = full if before is None else before
    earlier = earlier[earlier["period"] == previous_period(period)]
    if not earlier.empty:
        prev = earlier.iloc[0]
        result.previous = _clean(prev["value"])
        if result.previous is not None and value is not None:
            result.change = value - result.previous
        result.change_p_value = change_test(spec.kind, prev, row)
        if result.change_p_value is not None and result.change is not None:
            if result.change_p_value >= 0.05 or result.change == 0:
                result.trend = "stable"
            else:
                better = result.change > 0 if spec.better == "higher" else result.change < 0
                result.trend = "improving" if better else "worsening"
    return result
