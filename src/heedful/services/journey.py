"""Journey use cases over the store: the needs configuration, scorecards, alerts and operations figures.

`store.journey_repo` reads and writes the rows; this module turns them into the journey domain's
objects (a `JourneyConfig`, `JourneyData`, a `Scorecard`, `Alert`s) and back, and runs the use cases
the CLI, the web app and the report share.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from heedful.errors import ConfigError, InputError
from heedful.ingest.sources import read_frame
from heedful.journey.alerts import Alert, detect_alerts, digest_payload, digest_text
from heedful.journey.config import Department, JourneyConfig, MetricSpec, Need, Stage, default_config
from heedful.journey.config import metric_text as metric_text  # how every output shows a metric
from heedful.journey.delivery import DeliverySettings, deliver, email_departments
from heedful.journey.internal import AUDIENCES, split_audiences, suppress_scorecard
from heedful.journey.metrics import JourneyData, check_period, empty_frame, period_bounds, period_range
from heedful.journey.periods import Coverage, coverage, default_period
from heedful.journey.scorecard import Scorecard, build_scorecard
from heedful.services.listen import theme_labels
from heedful.services.retain import value_at_risk
from heedful.store import Store
from heedful.store import journey_repo as repo
from heedful.store.journey_repo import latest_period as latest_period
from heedful.store.journey_repo import load_alerts as load_alerts
from heedful.store.journey_repo import mark_sent as mark_sent
from heedful.store.journey_repo import previous_headline as previous_headline
from heedful.store.journey_repo import record_headline as record_headline

# ---------------------------------------------------------------- configuration


def load_config(store: Store) -> JourneyConfig:
    """The stored journey configuration.

    Stages and departments are the stored ones (the defaults while none is stored); needs are the
    stored ones, or, until a needs file has been imported, the shipped default needs whose stage
    and department exist.
    """
    default = default_config()
    stage_rows, dept_rows, need_rows = repo.config_rows(store)
    stages = (
        [Stage(id=r.stage_id, name=r.name, position=int(r.position)) for r in stage_rows.itertuples()]
        if not stage_rows.empty
        else default.stages
    )
    departments = (
        [
            Department(id=r.department_id, name=r.name, email=r.email if isinstance(r.email, str) else None)
            for r in dept_rows.itertuples()
        ]
        if not dept_rows.empty
        else default.departments
    )
    if need_rows.empty:
        stage_ids, dept_ids = {s.id for s in stages}, {d.id for d in departments}
        needs = [n for n in default.needs if n.stage in stage_ids and n.department in dept_ids]
    else:
        needs = [
            Need(
                id=r.need_id,
                label=r.label,
                stage=r.stage_id,
                department=r.department_id,
                metrics=[MetricSpec.model_validate(m) for m in json.loads(r.metrics)],
            )
            for r in need_rows.itertuples()
        ]
    try:
        return JourneyConfig(stages=stages, departments=departments, needs=needs)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"The stored journey configuration is inconsistent ({problem}). Restore the stage or department, "
            "or import a corrected needs file with `heedful journey needs import`."
        ) from exc


def save_config(store: Store, config: JourneyConfig) -> dict[str, int]:
    """Replace stages, departments and needs with `config`, in one transaction."""
    stages = pd.DataFrame(
        [{"stage_id": s.id, "name": s.name, "position": i} for i, s in enumerate(config.ordered_stages(), start=1)]
    )
    departments = pd.DataFrame([{"department_id": d.id, "name": d.name, "email": d.email} for d in config.departments])
    needs = pd.DataFrame(
        [
            {
                "need_id": n.id,
                "label": n.label,
                "stage_id": n.stage,
                "department_id": n.department,
                "metrics": json.dumps([m.model_dump(mode="json", exclude_none=True) for m in n.metrics]),
            }
            for n in config.needs
        ],
        columns=["need_id", "label", "stage_id", "department_id", "metrics"],
    )
    repo.replace_config(store, stages, departments, needs)
    return {"stages": len(stages), "departments": len(departments), "needs": len(needs)}


# ---------------------------------------------------------------- the data metrics read


def load_journey_data(
    store: Store, period: str | None = None, months: int = 13, config: JourneyConfig | None = None
) -> JourneyData:
    """Feedback (with enrichment), survey answers, orders by customer-month, value, operations and
    customers; feedback and answers restricted to the `months` months ending with `period`, texts only
    from `period` itself. Listening's departments and stages are read as those of `config` (the stored
    one when None)."""
    since = until = texts_from = daily_from = None
    if period is not None:
        since = (pd.Period(period, freq="M") - (months - 1)).start_time.to_pydatetime()
        start, end = period_bounds(period)
        until, texts_from = end.to_pydatetime(), start.to_pydatetime()
        # orders per day from the month before `period`: a partial period is compared with its first days
        daily_from = period_bounds(str(pd.Period(period, freq="M") - 1))[0].to_pydatetime()
    # answers of completed responses only, as the survey results count them (one NPS, one CSAT everywhere)
    tables = repo.journey_tables(store, since, until, texts_from, daily_from, completed_only=True)
    feedback = _typed(tables["feedback"], "feedback")
    if feedback is not None:
        feedback = (config or load_config(store)).harmonise_feedback(feedback)
    return JourneyData(
        feedback=feedback,
        answers=_typed(tables["answers"], "answers"),
        orders=_typed(tables["orders"], "orders"),
        customer_value=tables["customer_value"] if not tables["customer_value"].empty else None,
        operations=tables["operations"] if not tables["operations"].empty else None,
        customers=tables["customers"] if not tables["customers"].empty else None,
    )


def _typed(frame: pd.DataFrame, name: str) -> pd.DataFrame | None:
    if frame.empty:
        return empty_frame(name)
    for col in ("created_at", "answered_at", "ordered_at"):
        if col in frame:
            frame[col] = pd.to_datetime(frame[col])
    for col in ("value_num", "amount", "rating", "sentiment_score"):
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def resolve_period(store: Store, period: str | None) -> str:
    """`period` checked (YYYY-MM), or the last complete month of data (`journey.periods.default_period`:
    a month the data does not cover to its last day is never the default); InputError when there is none."""
    if period:
        return check_period(period)
    latest = default_period(*repo.data_span(store))
    if latest is None:
        raise InputError("There is no data yet: import orders, feedback or survey answers first (`heedful import`).")
    return latest


def period_coverage(store: Store, period: str) -> Coverage:
    """Whether `period` is partial (the store's data ends before its last day) and how many days it covers."""
    return coverage(period, repo.data_span(store)[1])


# ---------------------------------------------------------------- scorecards


def scorecard_for(
    store: Store,
    period: str,
    department: str | None = None,
    audience: str = "external",
    data: JourneyData | None = None,
) -> Scorecard:
    """Load config and data (unless given), and score the needs for one audience (internal ones with
    anonymity rules)."""
    if audience not in AUDIENCES:
        raise InputError(f"Audience {audience!r} must be one of {', '.join(AUDIENCES)}.")
    config = load_config(store)
    if department is not None and department not in {d.id for d in config.departments}:
        known = ", ".join(d.id for d in config.departments)
        raise InputError(f"Unknown department {department!r}; known: {known}.")
    part = split_audiences(data if data is not None else load_journey_data(store, period, config=config))[audience]
    card = build_scorecard(
        config, part, period, department=department, audience=audience, coverage=period_coverage(store, period)
    )
    return suppress_scorecard(card, part) if audience != "external" else card


def save_metric_values(store: Store, scorecard: Scorecard) -> int:
    """Record every metric's value for the scorecard's period (replacing an earlier run's)."""
    rows = [
        {
            "need_id": need.need.id,
            "metric_id": m.spec.id,
            "period": scorecard.period,
            "audience": scorecard.audience,
            "value": m.value,
            "low": m.low,
            "high": m.high,
            "n": m.n,
            "target": m.spec.target,
            "status": m.status,
        }
        for need in scorecard.needs
        for m in need.metrics
    ]
    return repo.save_metric_rows(store, rows)


# ---------------------------------------------------------------- alerts


def save_alerts(store: Store, alerts: list[Alert]) -> int:
    """Store new alerts; an alert already raised (same kind, subject, period) is kept as it was. The new ones
    are queued for their subscribers ("alert raised"), in the same transaction."""
    from heedful.services import notifications  # it reads the journey configuration from here

    with store.transaction():
        fresh = notifications.new_alerts(store, alerts)
        stored = repo.insert_alert_rows(store, [a.to_dict() for a in alerts])
        notifications.alerts_raised(store, fresh)
    return stored


def alert_periods(store: Store, since: date, period: str | None = None) -> list[str]:
    """The months from `since` to `period` (default: the last complete month of data), oldest first."""
    last = resolve_period(store, period)
    first = pd.Period(since, freq="M")
    span = (pd.Period(last, freq="M") - first).n + 1
    if span < 1:
        raise InputError(
            f"--since {since} is after the last complete month of data ({last}); "
            f"to include a later, partial month, name it with --period."
        )
    return period_range(last, span)


def run_alerts(store: Store, periods: list[str]) -> list[Alert]:
    """Detect alerts for each period and every audience, store the new ones, return them all."""
    config = load_config(store)
    found: list[Alert] = []
    data = split_audiences(load_journey_data(store, periods[-1], months=len(periods) + 4, config=config))
    data_end = repo.data_span(store)[1]
    figure = value_at_risk(store)
    at_risk = None if figure["total"] is None else (float(figure["total"]), int(figure["high_risk_customers"]))
    for period in periods:
        covered = coverage(period, data_end)  # a partial month is tested against the same days before it
        for audience, audience_data in data.items():
            previous = repo.previous_headline(store, "at_risk_value", period) if audience == "external" else None
            alerts = detect_alerts(
                config,
                audience_data,
                period,
                audience=audience,
                previous_at_risk_value=previous[0] if previous else None,
                previous_at_risk_label=previous[1] if previous else "the last recorded figure",
                at_risk=at_risk,
                theme_names=theme_labels(),
                coverage=covered,
            )
            if audience != "external":  # internal audiences: only need / theme alerts, never per-person value
                alerts = [a for a in alerts if a.kind in ("need_worsened", "emerging_negative_theme")]
            found.extend(alerts)
    save_alerts(store, found)
    return found


def send_alerts(store: Store, alerts: list[Alert], periods: list[str], settings: DeliverySettings) -> list[str]:
    """Send the digest of the alerts not sent yet (SMTP / webhook), and each department with an e-mail
    address its own; mark them sent. Returns the channels used ("smtp", "webhook", "smtp:<department>")."""
    label = periods_label(periods)
    stored = repo.load_alerts(store, since=periods[0])
    unsent_ids = set(stored.loc[stored["sent_at"].isna(), "alert_id"]) if not stored.empty else set()
    unsent = [a for a in alerts if a.alert_id in unsent_ids]
    if not unsent:
        return []
    sent = deliver(
        settings,
        f"heedful: {len(unsent)} journey alert(s) for {label}",
        digest_text(unsent, label),
        digest_payload(unsent, label),
    )
    addresses = {d.id: d.email for d in load_config(store).departments if d.email}
    by_department: dict[str, list[Alert]] = {}
    for alert in unsent:
        if alert.department_id:
            by_department.setdefault(alert.department_id, []).append(alert)
    emailed = email_departments(
        settings,
        {
            dept: (f"heedful: {len(items)} journey alert(s) for {dept}, {label}", digest_text(items, label))
            for dept, items in by_department.items()
        },
        addresses,
    )
    sent += [f"smtp:{dept}" for dept in emailed]
    repo.mark_sent(store, [a.alert_id for a in unsent])
    return sent


def periods_label(periods: list[str]) -> str:
    """'2026-10', or '2026-08 to 2026-10' for several months."""
    return periods[0] if len(periods) == 1 else f"{periods[0]} to {periods[-1]}"


# ---------------------------------------------------------------- operations

OPERATIONS_COLUMNS = ("metric", "period", "numerator", "denominator", "value", "segment", "department_id")


def import_operations(store: Store, path: Path, import_id: str | None = None) -> dict[str, Any]:
    """Read an operations file (metric, period, numerator, denominator | value, [segment, department_id])
    and upsert it; every bad line is reported with its number and nothing is stored then."""
    frame = read_frame(path)
    header = [str(h).strip() for h in frame.columns]
    missing = {"metric", "period"} - set(header)
    if missing:
        raise InputError(
            f"{path.name} line 1: missing column(s) {', '.join(sorted(missing))}; expected {', '.join(OPERATIONS_COLUMNS)}"
        )
    frame.columns = header
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for line, raw in enumerate(frame.to_dict(orient="records"), start=2):
        rec = {str(k): ("" if v is None else str(v)).strip() for k, v in raw.items()}
        try:
            rows.append(_operations_row(rec, path.name, line, import_id))
        except ValueError as exc:
            errors.append(f"{path.name} line {line}: {exc}")
    if errors:
        raise InputError("; ".join(errors[:20]) + (f"; … {len(errors) - 20} more" if len(errors) > 20 else ""))
    stored = repo.upsert_operations(store, pd.DataFrame(rows))
    return {"rows": len(rows), "stored": stored, "metrics": sorted({r["metric"] for r in rows})}


def _operations_row(rec: dict[str, str], file: str, line: int, import_id: str | None) -> dict[str, Any]:
    if not rec.get("metric"):
        raise ValueError("metric is empty")
    try:
        start = pd.Period(rec.get("period", ""), freq="M").start_time.date()
    except Exception as exc:
        raise ValueError(f"period {rec.get('period')!r} is not a month (use 2026-10 or 2026-10-01)") from exc

    def num(name: str) -> float | None:
        text = rec.get(name, "")
        if text == "":
            return None
        try:
            return float(text)
        except ValueError as exc:
            raise ValueError(f"{name} {text!r} is not a number") from exc

    numerator, denominator, value = num("numerator"), num("denominator"), num("value")
    if value is None and (numerator is None or denominator is None):
        raise ValueError("give numerator and denominator, or value")
    if denominator is not None and denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator is not None and denominator is not None and not 0 <= numerator <= denominator:
        raise ValueError("numerator must be between 0 and the denominator")
    return {
        "metric": rec["metric"],
        "period_start": start,
        "segment": rec.get("segment", ""),
        "numerator": numerator,
        "denominator": denominator,
        "value": value,
        "department_id": rec.get("department_id") or None,
        "source": "operations",
        "source_file": file,
        "source_line": line,
        "import_id": import_id,
    }


# ---------------------------------------------------------------- demo


def demo_step(store: Store) -> dict[str, object]:
    """Score the default needs on the demo data, raise alerts for the last complete month, and return headline figures."""
    try:
        period = resolve_period(store, None)
    except InputError:
        return {"journey": "no data"}
    if store.count("journey_stages") == 0:
        save_config(store, load_config(store))
    card = scorecard_for(store, period)
    save_metric_values(store, card)
    alerts = run_alerts(store, [period])
    statuses = [n.status for n in card.needs]
    return {
        "period": period,
        "needs": len(statuses),
        "needs_met": statuses.count("met"),
        "needs_at_risk": statuses.count("at_risk"),
        "needs_missed": statuses.count("missed"),
        "needs_not_enough_data": statuses.count("not_enough_data"),
        "needs_without_data": statuses.count("no_data"),
        "partial": card.coverage.partial if card.coverage else False,
        "alerts": len(alerts),
    }
