"""Store I/O for journey accountability: the needs configuration, the tables metrics read,
metric history, alerts and imported operations figures."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from heedful.errors import ConfigError, InputError
from heedful.journey.alerts import Alert
from heedful.journey.config import Department, JourneyConfig, MetricSpec, Need, Stage, default_config
from heedful.journey.metrics import JourneyData, empty_frame, period_bounds
from heedful.journey.scorecard import Scorecard
from heedful.store.backend import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- configuration


def load_config(store: Store) -> JourneyConfig:
    """The stored journey configuration.

    Stages and departments are the stored ones (the defaults while none is stored); needs are the
    stored ones, or, until a needs file has been imported, the shipped default needs whose stage
    and department exist.
    """
    default = default_config()
    stage_rows = store.query("SELECT stage_id, name, position FROM journey_stages ORDER BY position, stage_id")
    dept_rows = store.query("SELECT department_id, name, email FROM departments ORDER BY department_id")
    need_rows = store.query(
        "SELECT n.need_id, n.label, n.stage_id, n.department_id, n.metrics FROM needs n "
        "LEFT JOIN journey_stages s ON s.stage_id = n.stage_id ORDER BY s.position, n.need_id"
    )
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
    with store.transaction():
        store.execute("DELETE FROM needs")
        store.replace_all("journey_stages", stages)
        store.replace_all("departments", departments.astype({"email": "object"}))
        store.replace_all("needs", needs)
    return {"stages": len(stages), "departments": len(departments), "needs": len(needs)}


# ---------------------------------------------------------------- the data metrics read


def load_journey_data(
    store: Store, period: str | None = None, months: int = 13, config: JourneyConfig | None = None
) -> JourneyData:
    """Feedback (with enrichment), survey answers, orders by customer-month, value, operations and
    customers; feedback and answers restricted to the `months` months ending with `period`.
    Listening's departments and stages are read as those of `config` (the stored one when None)."""
    since: datetime | None = None
    until: datetime | None = None
    if period is not None:
        since = (pd.Period(period, freq="M") - (months - 1)).start_time.to_pydatetime()
        until = period_bounds(period)[1].to_pydatetime()
    window = " AND f.created_at >= ? AND f.created_at < ?" if since else ""
    params: list[Any] = [since, until] if since else []
    # Texts are only ever quoted from the period itself: earlier months load without them, which
    # keeps a year of millions of items light.
    text_from: list[Any] = [period_bounds(period)[0].to_pydatetime()] if period else []
    when = "CASE WHEN f.created_at >= ? THEN {} END" if period else "{}"
    feedback = store.query(
        "SELECT f.feedback_id, f.created_at, f.customer_id, f.author_kind, "
        f"{when.format('substr(f.text, 1, 400)')} AS text, "
        f"{when.format('substr(e.redacted_text, 1, 400)')} AS redacted_text, f.rating, "
        "e.sentiment, e.sentiment_score, e.themes, e.theme_sentiments, e.department, e.journey_stage "
        f"FROM feedback f JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE 1=1{window}",
        text_from + text_from + params,
    )
    a_window = " AND coalesce(r.completed_at, a.answered_at) >= ? AND coalesce(r.completed_at, a.answered_at) < ?"
    answers = store.query(
        "SELECT a.response_id, r.slug, a.question_id, a.value_num, "
        "coalesce(r.completed_at, a.answered_at) AS answered_at, r.customer_id, "
        "CASE WHEN s.audience IN ('staff', 'partner') THEN s.audience "
        "     WHEN c.kind IN ('staff', 'partner') THEN c.kind ELSE 'customer' END AS audience "
        "FROM answers a JOIN responses r ON r.response_id = a.response_id "
        "LEFT JOIN surveys s ON s.survey_id = r.survey_id "
        "LEFT JOIN customers c ON c.customer_id = r.customer_id "
        f"WHERE a.value_num IS NOT NULL{a_window if since else ''}",
        params,
    )
    # One row per customer and month is all the repeat rate and the report need from orders.
    orders = store.query(
        "SELECT customer_id, min(order_id) AS order_id, date_trunc('month', ordered_at) AS ordered_at, "
        "sum(amount) AS amount, count(DISTINCT order_id) AS orders, false AS is_return "
        "FROM orders WHERE NOT is_return AND customer_id IS NOT NULL "
        "GROUP BY customer_id, date_trunc('month', ordered_at)"
    )
    customer_value = store.query("SELECT customer_id, clv, churn_risk, segment, p_alive FROM customer_value")
    operations = store.query(
        "SELECT metric, period_start, segment, numerator, denominator, value, department_id FROM operations"
    )
    customers = store.query("SELECT customer_id, kind, name FROM customers")
    typed_feedback = _typed(feedback, "feedback")
    if typed_feedback is not None:
        typed_feedback = (config or load_config(store)).harmonise_feedback(typed_feedback)
    return JourneyData(
        feedback=typed_feedback,
        answers=_typed(answers, "answers"),
        orders=_typed(orders, "orders"),
        customer_value=customer_value if not customer_value.empty else None,
        operations=operations if not operations.empty else None,
        customers=customers if not customers.empty else None,
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


def latest_period(store: Store) -> str | None:
    """The most recent month with feedback, answers or orders."""
    rows = store.fetchall(
        "SELECT max(t) FROM (SELECT max(created_at) AS t FROM feedback UNION ALL "
        "SELECT max(answered_at) FROM answers UNION ALL SELECT max(ordered_at) FROM orders) x"
    )
    value = rows[0][0] if rows else None
    return str(pd.Timestamp(value).to_period("M")) if value is not None else None


# ---------------------------------------------------------------- metric history


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
            "computed_at": _now(),
        }
        for need in scorecard.needs
        for m in need.metrics
    ]
    return store.upsert("metric_values", pd.DataFrame(rows)) if rows else 0


def record_headline(
    store: Store, metric_id: str, period: str, value: float, n: int, audience: str = "external"
) -> None:
    row = {
        "need_id": "_headline",
        "metric_id": metric_id,
        "period": period,
        "audience": audience,
        "value": value,
        "low": None,
        "high": None,
        "n": n,
        "target": None,
        "status": None,
        "computed_at": _now(),
    }
    store.upsert(
        "metric_values",
        pd.DataFrame([row]).astype({"low": "float", "high": "float", "target": "float", "status": "object"}),
    )


def previous_headline(
    store: Store, metric_id: str, before_period: str, audience: str = "external"
) -> tuple[float, str] | None:
    """The last recorded headline figure for a period before `before_period`."""
    rows = store.fetchall(
        "SELECT value, period FROM metric_values WHERE need_id = '_headline' AND metric_id = ? AND audience = ? "
        "AND period < ? AND value IS NOT NULL ORDER BY period DESC LIMIT 1",
        [metric_id, audience, before_period],
    )
    return (float(rows[0][0]), str(rows[0][1])) if rows else None


# ---------------------------------------------------------------- alerts


def save_alerts(store: Store, alerts: Iterable[Alert]) -> int:
    """Store new alerts; an alert already raised (same kind, subject, period) is kept as it was."""
    rows = [{**a.to_dict(), "created_at": _now(), "sent_at": None} for a in alerts]
    if not rows:
        return 0
    frame = pd.DataFrame(rows).astype({"sent_at": "datetime64[ns]"})
    return store.insert_new("alerts", frame)


def load_alerts(store: Store, since: date | str | None = None, audience: str | None = None) -> pd.DataFrame:
    """Alerts raised on or after `since` (a date or 'YYYY-MM'), newest first."""
    sql = "SELECT * FROM alerts WHERE 1=1"
    params: list[Any] = []
    if since is not None:
        sql += " AND period >= ?"
        params.append(str(since)[:7])
    if audience is not None:
        sql += " AND audience = ?"
        params.append(audience)
    return store.query(sql + " ORDER BY period DESC, severity, created_at DESC", params)


def mark_sent(store: Store, alert_ids: list[str]) -> None:
    with store.transaction():
        for alert_id in alert_ids:
            store.execute("UPDATE alerts SET sent_at = ? WHERE alert_id = ?", [_now(), alert_id])


# ---------------------------------------------------------------- operations


OPERATIONS_COLUMNS = ("metric", "period", "numerator", "denominator", "value", "segment", "department_id")


def import_operations(store: Store, path: Path, import_id: str | None = None) -> dict[str, Any]:
    """Read an operations CSV (metric, period, numerator, denominator | value, [segment, department_id])
    and upsert it; every bad line is reported with its number and nothing is stored then."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = {"metric", "period"} - set(header)
        if missing:
            raise InputError(
                f"{path.name} line 1: missing column(s) {', '.join(sorted(missing))}; expected {', '.join(OPERATIONS_COLUMNS)}"
            )
        for line, raw in enumerate(reader, start=2):
            rec = {k.strip(): (v or "").strip() for k, v in raw.items() if k}
            try:
                rows.append(_operations_row(rec, path.name, line, import_id))
            except ValueError as exc:
                errors.append(f"{path.name} line {line}: {exc}")
    if errors:
        raise InputError("; ".join(errors[:20]) + (f"; … {len(errors) - 20} more" if len(errors) > 20 else ""))
    stored = store.upsert("operations", pd.DataFrame(rows)) if rows else 0
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


def count_rows(store: Store, tables: Iterable[str]) -> dict[str, int]:
    existing = set(store.list_tables())
    return {t: store.count(t) if t in existing else 0 for t in tables}
