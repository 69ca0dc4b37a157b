"""The unified customer profile: one person's identity, orders, feedback, answers, referrals and value."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from heedful.errors import NotFoundError
from heedful.ingest import order_figures as figures
from heedful.store import Store

RECENT = 10  # most recent orders / feedback items / answers listed in a profile


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    """numpy / pandas scalars -> Python; NaN / NaT -> None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def customer_profile(store: Store, customer_id: str) -> dict[str, Any]:
    """Everything heedful knows about one customer, read from the canonical tables.

    Raises NotFoundError for an unknown id. Survey answers, referrals and value are empty until
    surveys, advocacy and value analyses have written their tables.
    """
    found = store.query("SELECT * FROM customers WHERE customer_id = ?", [str(customer_id)])
    if found.empty:
        raise NotFoundError(f"No customer with id {customer_id!r}.")
    row = _records(found)[0]
    cid = row["customer_id"]
    return {
        "customer_id": cid,
        "kind": row["kind"],
        "identity": {
            "name": row.get("name"),
            "email": row.get("email"),
            "phone": row.get("phone"),
            "company": row.get("company"),
            "country": row.get("country"),
            "city": row.get("city"),
            "attributes": _json(row.get("attributes")) or {},
        },
        "first_seen_at": row.get("first_seen_at"),
        "created_at": row.get("created_at"),
        "source": row.get("source"),
        "orders": _orders(store, cid),
        "feedback": _feedback(store, cid),
        "survey_answers": _answers(store, cid),
        "referrals": _referrals(store, cid),
        "value": _value(store, cid),
    }


def _orders(store: Store, cid: str) -> dict[str, Any]:
    totals = store.query(
        "SELECT "
        f"{figures.ORDERS} AS orders, "
        "COUNT(*) AS lines, "
        f"{figures.REVENUE} AS revenue, "
        f"{figures.RETURNS} AS returns, "
        f"{figures.RETURNED_AMOUNT} AS returned_amount, "
        "MIN(CASE WHEN NOT is_return THEN ordered_at END) AS first_order_at, "
        "MAX(CASE WHEN NOT is_return THEN ordered_at END) AS last_order_at, "
        "MIN(currency) AS currency "
        "FROM orders WHERE customer_id = ?",
        [cid],
    )
    summary = _records(totals)[0]
    recent = store.query(
        "SELECT order_id, MIN(ordered_at) AS ordered_at, COUNT(*) AS lines, SUM(quantity) AS items, "
        "SUM(amount) AS amount, MAX(CASE WHEN is_return THEN 1 ELSE 0 END) = 1 AS is_return "
        "FROM orders WHERE customer_id = ? GROUP BY order_id ORDER BY MIN(ordered_at) DESC, order_id LIMIT ?",
        [cid, RECENT],
    )
    summary["revenue"] = round(float(summary["revenue"] or 0), 2)
    summary["returned_amount"] = round(float(summary["returned_amount"] or 0), 2)
    summary["recent"] = _records(recent)
    return summary


def _feedback(store: Store, cid: str) -> list[dict[str, Any]]:
    frame = store.query(
        "SELECT f.feedback_id, f.created_at, f.channel, f.source, f.rating, f.rating_scale, f.title, f.text, "
        "e.sentiment, e.themes FROM feedback f LEFT JOIN feedback_enriched e ON e.feedback_id = f.feedback_id "
        "WHERE f.customer_id = ? ORDER BY f.created_at DESC, f.feedback_id LIMIT ?",
        [cid, RECENT],
    )
    return _records(frame)


def _answers(store: Store, cid: str) -> list[dict[str, Any]]:
    frame = store.query(
        "SELECT r.slug AS survey, r.response_id, a.question_id, a.field, a.value, a.value_num, a.answered_at "
        "FROM responses r JOIN answers a ON a.response_id = r.response_id "
        "WHERE r.customer_id = ? ORDER BY a.answered_at DESC, a.question_id, a.field LIMIT ?",
        [cid, 5 * RECENT],
    )
    return _records(frame)


def _referrals(store: Store, cid: str) -> dict[str, Any]:
    made = store.query(
        "SELECT referral_id, code, referred_customer_id, status, created_at, converted_at FROM referrals "
        "WHERE advocate_id = ? ORDER BY created_at DESC",
        [cid],
    )
    by = store.query(
        "SELECT referral_id, code, advocate_id, status, created_at FROM referrals WHERE referred_customer_id = ?",
        [cid],
    )
    return {"made": _records(made), "referred_by": _records(by)}


def _value(store: Store, cid: str) -> dict[str, Any] | None:
    frame = store.query("SELECT * FROM customer_value WHERE customer_id = ?", [cid])
    if not len(frame):
        return None
    value = _records(frame)[0]
    # the days the churn risk looks ahead, from the customer's stored score (None where unscored or unsaid)
    days = (
        store.fetchall("SELECT horizon_days FROM churn_scores WHERE customer_id = ?", [cid])
        if "churn_scores" in store.list_tables()
        else []
    )
    value["churn_horizon_days"] = int(days[0][0]) if days and days[0][0] is not None else None
    return value
