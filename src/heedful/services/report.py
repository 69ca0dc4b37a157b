"""The customer-focus report's use cases: gather its figures from the store, build it, write it, and
keep this month's figures for next month's comparisons.

The store is read here, once (the journey tables, the report's other tables, which answers are NPS);
everything after is pure: `assemble_report` builds the headline figures and the sections
(`heedful.report.sections`) from tables in memory; `heedful.report.report` renders HTML / PDF.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.journey.alerts import detect_alerts
from heedful.journey.config import JourneyConfig
from heedful.journey.internal import split_audiences
from heedful.journey.metrics import JourneyData, nps_value, period_labels, previous_period
from heedful.journey.metrics import check_period as check_period
from heedful.journey.periods import Coverage, coverage, first_days
from heedful.journey.scorecard import Scorecard, build_scorecard
from heedful.report.report import CustomerFocusReport, render_html, write_pdf
from heedful.report.sections import (
    NO_DATA,
    advocacy_section,
    closed_loop_section,
    customers_section,
    departments_section,
    internal_section,
    rather_not_hear_section,
    tradeoffs_section,
    voice_section,
)
from heedful.services.customers import business_currency, value_horizon
from heedful.services.journey import load_config, load_journey_data, period_coverage, resolve_period, save_metric_values
from heedful.services.listen import theme_labels
from heedful.services.retain import value_at_risk
from heedful.services.surveys import answers_of_type
from heedful.store import Store
from heedful.store import journey_repo as repo
from heedful.value import DEFAULT_HORIZON_MONTHS

# ---------------------------------------------------------------- gathering


def build_report(
    store: Store, period: str | None, *, config: JourneyConfig | None = None, data: JourneyData | None = None
) -> CustomerFocusReport:
    """Read what the report needs from the store (`data`: the journey tables, if already loaded for
    this period) and build every section for `period` (YYYY-MM; None: the last complete month)."""
    period = resolve_period(store, period)
    config = config or load_config(store)
    data = data if data is not None else load_journey_data(store, period, config=config)
    return assemble_report(
        config,
        data,
        period,
        extras=repo.report_tables(store),
        previous_at_risk=repo.previous_headline(store, "at_risk_value", period),
        at_risk=_value_at_risk(store),
        currency=business_currency(store),
        horizon_months=value_horizon(store),
        closed_loop=_closed_loop(store),
        nps_answers=answers_of_type(store, "nps", known_customers=False)[["response_id", "question_id"]],
        coverage=period_coverage(store, period),
    )


def assemble_report(
    config: JourneyConfig,
    data: JourneyData,
    period: str,
    *,
    extras: dict[str, pd.DataFrame] | None = None,
    previous_at_risk: tuple[float, str] | None = None,
    at_risk: tuple[float, int] | None = None,
    nps_answers: pd.DataFrame | None = None,
    coverage: Coverage | None = None,
    currency: str | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    closed_loop: dict[str, Any] | None = None,
) -> CustomerFocusReport:
    """Build the report from tables already in memory (pure: no store access). `extras`: referrals,
    rewards, surveys, tradeoff_answers; `nps_answers`: which answers are NPS (response_id, question_id);
    `coverage`: how much of the period the data covers (a partial month is compared with the same
    days of the month before); `horizon_months`: the months the stored CLV covers."""
    extras = extras or {}
    covered = coverage or _whole(period)
    audiences = split_audiences(data)
    external = audiences["external"]
    scorecard = build_scorecard(config, external, period, quotes=2, customers=5, coverage=covered)
    alerts = detect_alerts(
        config,
        external,
        period,
        previous_at_risk_value=previous_at_risk[0] if previous_at_risk else None,
        previous_at_risk_label=previous_at_risk[1] if previous_at_risk else "the last recorded figure",
        at_risk=at_risk,
        theme_names=theme_labels(),
        series={(n.need.id, m.spec.id): m.series for n in scorecard.needs for m in n.metrics},
        coverage=covered,
    )
    sections = [
        voice_section(external, period, theme_labels()),
        customers_section(external),
        tradeoffs_section(extras.get("surveys", pd.DataFrame()), extras.get("tradeoff_answers", pd.DataFrame())),
        departments_section(scorecard),
        advocacy_section(extras.get("referrals", pd.DataFrame()), extras.get("rewards", pd.DataFrame()), period),
        rather_not_hear_section(scorecard, alerts),
        closed_loop_section(closed_loop),
        internal_section(data, period, audiences),
    ]
    return CustomerFocusReport(
        period=period,
        generated_at=datetime.now(UTC).replace(tzinfo=None),
        headline=headline_figures(
            external,
            period,
            scorecard,
            nps_answers,
            coverage=covered,
            at_risk=at_risk,
            currency=currency,
            horizon_months=horizon_months,
        ),
        sections=sections,
        horizon_months=horizon_months,
        scorecard=scorecard,
        alerts=alerts,
        coverage=covered,
    )


def _closed_loop(store: Store) -> dict[str, Any] | None:
    """`services.cases.closed_loop_figures`, or None where no case was ever opened."""
    if "cases" not in store.list_tables() or store.count("cases") == 0:
        return None
    from heedful.services.cases import closed_loop_figures

    return closed_loop_figures(store)


def _value_at_risk(store: Store) -> tuple[float, int] | None:
    """(value at risk, customers at 50% risk or more) as `services.retain.value_at_risk` gives it; None if unscored."""
    figure = value_at_risk(store)
    return None if figure["total"] is None else (float(figure["total"]), int(figure["high_risk_customers"]))


def _whole(period: str) -> Coverage:
    return coverage(period, None)


# ---------------------------------------------------------------- headline


def headline_figures(
    data: JourneyData,
    period: str,
    scorecard: Scorecard,
    nps_answers: pd.DataFrame | None = None,
    *,
    coverage: Coverage | None = None,
    at_risk: tuple[float, int] | None = None,
    currency: str | None = None,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
) -> list[dict[str, Any]]:
    """The headline numbers, each with its change since last month: customers, active buyers, revenue,
    feedback, positive share, NPS (of the answers `nps_answers` names: response_id, question_id, as
    `services.surveys.answers_of_type` decides), value at risk and needs on target.

    When `coverage` says the period is partial, each change is against the same number of days of the
    month before ("vs the first 9 days of 2011-11"), never against the whole month."""
    unit = f" {currency}" if currency else ""  # money figures name their currency
    prev = previous_period(period)
    covered = coverage or _whole(period)
    versus = covered.versus
    earlier = first_days(data, [prev], covered.days) if covered.partial else data  # what "before" is read from
    items: list[dict[str, Any]] = []
    customers = data.customers
    n_customers = int((customers["kind"] == "customer").sum()) if not customers.empty else 0
    items.append(
        {"label": "Customers", "value": n_customers or None, "shown": f"{n_customers:,}" if n_customers else NO_DATA}
    )

    orders = _sales(data.orders)
    if not orders.empty:
        month = period_labels(orders["ordered_at"])
        now = orders[(month == period).to_numpy()]
        before = _sales(earlier.orders)
        before = before[(period_labels(before["ordered_at"]) == prev).to_numpy()]
        buyers, buyers_prev = now["customer_id"].nunique(), before["customer_id"].nunique()
        revenue, revenue_prev = float(now["amount"].sum()), float(before["amount"].sum())
        items.append(
            _with_change("Active buyers", buyers, buyers_prev, f"{buyers:,}", higher_is_better=True, versus=versus)
        )
        items.append(
            _with_change(
                "Revenue", revenue, revenue_prev, f"{revenue:,.0f}{unit}", higher_is_better=True, versus=versus
            )
        )
    else:
        items.append({"label": "Revenue", "value": None, "shown": NO_DATA})

    fb_now = (data.feedback_period == period).to_numpy()
    fb_prev = (earlier.feedback_period == prev).to_numpy()
    n_fb = int(fb_now.sum())
    if n_fb:
        pos = float((data.feedback.loc[fb_now, "sentiment"] == "positive").mean())
        pos_prev = float((earlier.feedback.loc[fb_prev, "sentiment"] == "positive").mean()) if fb_prev.any() else None
        items.append({"label": "Feedback items", "value": n_fb, "shown": f"{n_fb:,}"})
        items.append(
            _with_change(
                "Positive feedback", pos, pos_prev, f"{pos:.0%}", higher_is_better=True, pct=True, versus=versus
            )
        )
    else:
        items.append({"label": "Feedback items", "value": None, "shown": NO_DATA})

    a = data.answers
    nps_rows = _is_nps(a, nps_answers)
    now_scores = pd.to_numeric(a.loc[nps_rows & (data.answers_period == period).to_numpy(), "value_num"])
    b = earlier.answers
    prev_rows = _is_nps(b, nps_answers) & (earlier.answers_period == prev).to_numpy()
    prev_scores = pd.to_numeric(b.loc[prev_rows, "value_num"])
    nps, low, high, n = nps_value(now_scores)
    if nps is not None:
        nps_prev = nps_value(prev_scores)[0]
        item = _with_change("NPS", nps, nps_prev, f"{nps:.0f}", higher_is_better=True, points=True, versus=versus)
        item.update(low=low, high=high, n=n, detail=f"95% interval {low:.0f} to {high:.0f}, n = {n}")
        items.append(item)
    else:
        items.append({"label": "NPS", "value": None, "shown": NO_DATA})

    if at_risk is None:  # `services.retain.value_at_risk`: Σ CLV × churn risk of the scored customers
        items.append({"label": "Value at risk", "value": None, "shown": NO_DATA})
    else:
        value, count = at_risk
        items.append(
            {
                "label": "Value at risk",
                "value": value,
                "shown": f"{value:,.2f}{unit}",
                "detail": f"CLV × churn risk, {horizon_months} months; {count:,} customers at 50% risk or more",
            }
        )

    statuses = [n.status for n in scorecard.needs]
    measured = [s for s in statuses if s not in ("no_data", "not_enough_data")]
    if measured:
        met = sum(1 for s in measured if s == "met")
        items.append(
            {
                "label": "Needs on target",
                "value": met,
                "shown": f"{met} of {len(measured)}",
                "detail": f"{statuses.count('missed')} missed, {statuses.count('at_risk')} at risk",
            }
        )
    else:
        items.append({"label": "Needs on target", "value": None, "shown": NO_DATA})
    return items


def _sales(orders: pd.DataFrame) -> pd.DataFrame:
    return orders[~orders["is_return"].fillna(False).astype(bool)]


def _is_nps(answers: pd.DataFrame, nps_answers: pd.DataFrame | None) -> np.ndarray:
    """Which rows of `answers` are NPS answers: those whose (response_id, question_id) `nps_answers` lists."""
    if nps_answers is None or nps_answers.empty or answers.empty:
        return np.zeros(len(answers), dtype=bool)
    keys = pd.MultiIndex.from_frame(nps_answers[["response_id", "question_id"]].astype(str))
    rows = pd.MultiIndex.from_frame(answers[["response_id", "question_id"]].astype(str))
    return np.asarray(rows.isin(keys))


def _with_change(
    label: str,
    value: float,
    previous: float | None,
    shown: str,
    *,
    higher_is_better: bool,
    pct: bool = False,
    points: bool = False,
    versus: str = "last month",
) -> dict[str, Any]:
    item: dict[str, Any] = {"label": label, "value": value, "shown": shown}
    if previous is None or (isinstance(previous, float) and not math.isfinite(previous)):
        return item
    delta = value - previous
    if pct or points:  # shares and scores change by points, not by a percentage of themselves
        item["change"] = f"{delta * (100 if pct else 1):+.1f} pts vs {versus}"
    elif previous:
        item["change"] = f"{delta / abs(previous):+.0%} vs {versus}"
    else:
        item["change"] = f"{delta:+,.0f} vs {versus}"
    item["good"] = None if delta == 0 else (delta > 0) == higher_is_better
    return item


# ---------------------------------------------------------------- writing


def write_report(store: Store, period: str | None, out: Path, *, record_history: bool = True) -> CustomerFocusReport:
    """Build the report for `period` (None: the last complete month) and write it as HTML or PDF (by the
    extension of `out`)."""
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError(f"Report output {out} must end in .html or .pdf.")
    if not out.parent.exists():
        raise InputError(f"Folder {out.parent} does not exist.")
    report = build_report(store, period)
    if suffix == ".pdf":
        write_pdf(render_html(report, for_print=True), out)
    else:
        out.write_text(render_html(report), encoding="utf-8")
    if record_history:
        record_report_history(store, report)
    return report


def record_report_history(store: Store, report: CustomerFocusReport) -> None:
    """Keep this period's metric values and at-risk value, so next month's trends and alerts can compare."""
    if report.scorecard is not None:
        save_metric_values(store, report.scorecard)
    at_risk = next((h for h in report.headline if h["label"] == "Value at risk"), None)
    if at_risk and at_risk.get("value") is not None:
        repo.record_headline(store, "at_risk_value", report.period, float(at_risk["value"]), 0)
