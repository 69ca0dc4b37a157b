"""Store I/O for journey accountability: the rows of the needs configuration, the tables metrics read,
metric history, alerts and imported operations figures.

Frames and records in and out; turning them into a configuration, journey data or alerts is
`heedful.services.journey`'s work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from heedful.store.backend import Store


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- configuration


def config_rows(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The stored stages (in order), departments and needs (by stage position; `metrics` is JSON text)."""
    stages = store.query("SELECT stage_id, name, position FROM journey_stages ORDER BY position, stage_id")
    departments = store.query("SELECT department_id, name, email FROM departments ORDER BY department_id")
    needs = store.query(
        "SELECT n.need_id, n.label, n.stage_id, n.department_id, n.metrics FROM needs n "
        "LEFT JOIN journey_stages s ON s.stage_id = n.stage_id ORDER BY s.position, n.need_id"
    )
    return stages, departments, needs


def replace_config(store: Store, stages: pd.DataFrame, departments: pd.DataFrame, needs: pd.DataFrame) -> None:
    """Replace stages, departments and needs with these rows, in one transaction."""
    with store.transaction():
        store.execute("DELETE FROM needs")
        store.replace_all("journey_stages", stages)
        store.replace_all("departments", departments.astype({"email": "object"}))
        store.replace_all("needs", needs)


# ---------------------------------------------------------------- the data metrics read


def journey_tables(
    store: Store,
    since: datetime | None = None,
    until: datetime | None = None,
    texts_from: datetime | None = None,
    daily_from: datetime | None = None,
    *,
    completed_only: bool = False,
) -> dict[str, pd.DataFrame]:
    """Feedback (with enrichment), survey answers (with audience), orders by customer-month, customer
    value, operations and customers. Feedback and answers are restricted to [since, until) when given;
    feedback texts are read only from `texts_from` on (None: all texts), which keeps a year of millions
    of items light. Orders come one row per customer and month, and per customer and day from
    `daily_from` on (so a partial month can be compared with the same days of the month before)."""
    window = " AND f.created_at >= ? AND f.created_at < ?" if since else ""
    params: list[Any] = [since, until] if since else []
    text_from: list[Any] = [texts_from] if texts_from is not None else []
    when = "CASE WHEN f.created_at >= ? THEN {} END" if texts_from is not None else "{}"
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
        f"WHERE a.value_num IS NOT NULL{' AND r.completed_at IS NOT NULL' if completed_only else ''}"
        f"{a_window if since else ''}",
        params,
    )
    # One row per customer and month is all the repeat rate and the report need from orders (per day
    # in the recent months `daily_from` names). Guest orders (no customer id) are one row per bucket: they
    # count in revenue, as on the overview, and not as buyers.
    month = "date_trunc('month', ordered_at)"
    bucket = f"CASE WHEN ordered_at >= ? THEN date_trunc('day', ordered_at) ELSE {month} END" if daily_from else month
    orders = store.query(
        "SELECT customer_id, min(order_id) AS order_id, bucket AS ordered_at, "
        "sum(amount) AS amount, count(DISTINCT order_id) AS orders, false AS is_return "
        f"FROM (SELECT customer_id, order_id, amount, {bucket} AS bucket "
        "FROM orders WHERE NOT is_return) o GROUP BY customer_id, bucket",
        [daily_from] if daily_from else None,
    )
    return {
        "feedback": feedback,
        "answers": answers,
        "orders": orders,
        "customer_value": store.query("SELECT customer_id, clv, churn_risk, segment, p_alive FROM customer_value"),
        "operations": store.query(
            "SELECT metric, period_start, segment, numerator, denominator, value, department_id FROM operations"
        ),
        "customers": store.query("SELECT customer_id, kind, name FROM customers"),
    }


def report_tables(store: Store) -> dict[str, pd.DataFrame]:
    """What the customer-focus report reads besides the journey tables: referrals, rewards, surveys
    (with their definitions) and the non-numeric answers trade-off questions store. A table another
    area has not created yet reads as an empty frame."""
    present = set(store.list_tables())

    def read(sql: str, *needs: str) -> pd.DataFrame:
        return store.query(sql) if set(needs) <= present else pd.DataFrame()

    surveys = read("SELECT survey_id, slug, title, audience, definition FROM surveys", "surveys")
    return {
        "referrals": read("SELECT advocate_id, status, created_at, converted_at FROM referrals", "referrals"),
        "rewards": read("SELECT advocate_id, amount, entry, created_at FROM rewards", "rewards"),
        "surveys": surveys,
        "tradeoff_answers": read(
            "SELECT a.response_id, r.slug, a.question_id, a.field, a.value FROM answers a "
            "JOIN responses r ON r.response_id = a.response_id WHERE a.value_num IS NULL",
            "answers",
            "responses",
        )
        if not surveys.empty
        else pd.DataFrame(),
    }


def latest_period(store: Store) -> str | None:
    """The most recent month with feedback, answers or orders."""
    rows = store.fetchall(
        "SELECT max(t) FROM (SELECT max(created_at) AS t FROM feedback UNION ALL "
        "SELECT max(answered_at) FROM answers UNION ALL SELECT max(ordered_at) FROM orders) x"
    )
    value = rows[0][0] if rows else None
    return str(pd.Timestamp(value).to_period("M")) if value is not None else None


def data_span(store: Store) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """The first and the last timestamp of any order, feedback item or survey answer (None, None when empty)."""
    rows = store.fetchall(
        "SELECT min(f), max(t) FROM (SELECT min(created_at) AS f, max(created_at) AS t FROM feedback UNION ALL "
        "SELECT min(answered_at), max(answered_at) FROM answers UNION ALL "
        "SELECT min(ordered_at), max(ordered_at) FROM orders) x"
    )
    first, last = rows[0] if rows else (None, None)
    return (pd.Timestamp(first) if first is not None else None, pd.Timestamp(last) if last is not None else None)


# ---------------------------------------------------------------- metric history


def save_metric_rows(store: Store, rows: list[dict[str, Any]]) -> int:
    """Record metric values (need_id, metric_id, period, audience, value, low, high, n, target, status),
    replacing an earlier run's for the same need, metric, period and audience."""
    if not rows:
        return 0
    return store.upsert("metric_values", pd.DataFrame([{**r, "computed_at": _now()} for r in rows]))


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


def insert_alert_rows(store: Store, rows: list[dict[str, Any]]) -> int:
    """Store new alert rows (the `alerts` columns but created_at / sent_at); a row whose alert_id is
    stored already is kept as it was."""
    if not rows:
        return 0
    frame = pd.DataFrame([{**r, "created_at": _now(), "sent_at": None} for r in rows])
    return store.insert_new("alerts", frame.astype({"sent_at": "datetime64[ns]"}))


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


def upsert_operations(store: Store, frame: pd.DataFrame) -> int:
    """Store operations rows (metric, period_start, segment, numerator, denominator, value, department_id, …)."""
    return store.upsert("operations", frame) if not frame.empty else 0


def count_rows(store: Store, tables: Iterable[str]) -> dict[str, int]:
    existing = set(store.list_tables())
    return {t: store.count(t) if t in existing else 0 for t in tables}
