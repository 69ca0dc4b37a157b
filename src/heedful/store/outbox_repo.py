"""Store I/O for notifications: subscriptions, the outbox (queue, claim, mark sent or failed) and the facts
of the cases and alerts a message is about.

Frames and records in and out; who hears about what, the message text and the back-off are
`heedful.cases.notify`'s, and the use cases `heedful.services.notifications`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from heedful.store.backend import Store

SUBSCRIPTION_COLUMNS = (
    "subscription_id",
    "email",
    "event",
    "channel",
    "target",
    "department",
    "theme",
    "alert_kind",
    "created_at",
    "created_by",
)
OUTBOX_COLUMNS = (
    "message_id",
    "idempotency_key",
    "event",
    "subject_id",
    "customer_id",
    "channel",
    "recipient",
    "subject",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "claimed_at",
    "last_error",
    "created_at",
    "sent_at",
)
TEXT_COLUMNS = ("customer_id", "last_error")
TIME_COLUMNS = ("next_attempt_at", "claimed_at", "created_at", "sent_at")
CHUNK = 500


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _chunks(values: Sequence[Any]) -> list[list[Any]]:
    items = list(values)
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


# ---------------------------------------------------------------- subscriptions


def subscription_rows(store: Store, email: str | None = None, event: str | None = None) -> pd.DataFrame:
    """Subscriptions (of one person, case-blind, and/or for one event), oldest first."""
    clauses, params = ["1=1"], []
    if email is not None:
        clauses.append("lower(email) = lower(?)")
        params.append(email)
    if event is not None:
        clauses.append("event = ?")
        params.append(event)
    return store.query(
        f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM subscriptions WHERE {' AND '.join(clauses)} "
        "ORDER BY created_at, subscription_id",
        params,
    )


def insert_subscription(store: Store, row: dict[str, Any]) -> int:
    """Store a subscription; one with the same id (the same wish) is kept as it was. Returns rows added."""
    frame = pd.DataFrame([row]).astype({c: "object" for c in ("target", "department", "theme", "alert_kind")})
    return store.insert_new("subscriptions", frame)


def delete_subscription(store: Store, subscription_id: str, email: str | None = None) -> int:
    """Remove a subscription (only when it is `email`'s, where given); returns rows removed."""
    sql, params = "DELETE FROM subscriptions WHERE subscription_id = ?", [subscription_id]
    if email is not None:
        sql += " AND lower(email) = lower(?)"
        params.append(email)
    with store.transaction():
        found = store.fetchall(
            "SELECT COUNT(*) FROM subscriptions WHERE subscription_id = ?"
            + (" AND lower(email) = lower(?)" if email is not None else ""),
            params,
        )[0][0]
        store.execute(sql, params)
    return int(found)


def has_subscriptions(store: Store, event: str) -> bool:
    return bool(store.fetchall("SELECT 1 FROM subscriptions WHERE event = ? LIMIT 1", [event]))


# ---------------------------------------------------------------- queueing


def enqueue(store: Store, rows: list[dict[str, Any]]) -> int:
    """Queue messages (outbox rows); a message whose idempotency key is queued already is skipped, so
    queuing again never sends twice. Commits with the caller's transaction. Returns rows added."""
    if not rows:
        return 0
    unique = list({r["idempotency_key"]: r for r in rows}.values())
    frame = pd.DataFrame(unique, columns=list(OUTBOX_COLUMNS))
    frame = frame.astype({c: "object" for c in TEXT_COLUMNS})
    for col in TIME_COLUMNS:
        frame[col] = pd.to_datetime(frame[col])
    frame["attempts"] = frame["attempts"].astype("int64")
    return store.insert_new("outbox", frame)


def notified_subjects(store: Store, event: str, subject_ids: Sequence[str]) -> set[str]:
    """Which of `subject_ids` have a message queued for `event` already."""
    found: set[str] = set()
    for chunk in _chunks(subject_ids):
        rows = store.fetchall(
            f"SELECT DISTINCT subject_id FROM outbox WHERE event = ? AND subject_id IN ({_marks(chunk)})",
            [event, *chunk],
        )
        found.update(str(r[0]) for r in rows)
    return found


# ---------------------------------------------------------------- sending


def claim_due(
    store: Store,
    now: datetime,
    stale_before: datetime,
    *,
    channels: Sequence[str],
    limit: int = 100,
    message_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Claim up to `limit` messages to send now: pending and due, or `sending` since before `stale_before`
    (their sender stopped). Claiming sets status sending, claimed_at `now` and counts the try, under a
    lock no other sender holds at the same time, and commits before the caller sends anything."""
    if not channels:
        return pd.DataFrame(columns=list(OUTBOX_COLUMNS))
    where = (
        f"channel IN ({_marks(channels)}) AND ((status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= ?))"
        " OR (status = 'sending' AND claimed_at < ?))"
    )
    params: list[Any] = [*channels, now, stale_before]
    if message_ids is not None:
        if not message_ids:
            return pd.DataFrame(columns=list(OUTBOX_COLUMNS))
        where += f" AND message_id IN ({_marks(message_ids)})"
        params.extend(message_ids)
    with store.exclusive("outbox.claim"):
        ids = [
            str(r[0])
            for r in store.fetchall(
                f"SELECT message_id FROM outbox WHERE {where} ORDER BY next_attempt_at, created_at, message_id LIMIT ?",
                [*params, int(limit)],
            )
        ]
        if not ids:
            return pd.DataFrame(columns=list(OUTBOX_COLUMNS))
        store.execute(
            f"UPDATE outbox SET status = 'sending', claimed_at = ?, attempts = attempts + 1 "
            f"WHERE message_id IN ({_marks(ids)})",
            [now, *ids],
        )
        return store.query(
            f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox WHERE message_id IN ({_marks(ids)}) "
            "ORDER BY next_attempt_at, created_at, message_id",
            ids,
        )


def mark_sent(store: Store, message_id: str, claimed_at: datetime, at: datetime) -> int:
    """Mark a claimed message sent (only if this sender's claim still holds); returns rows changed."""
    return _set_if_claimed(store, message_id, claimed_at, {"status": "sent", "sent_at": at, "last_error": None})


def mark_failed(
    store: Store, message_id: str, claimed_at: datetime, status: str, next_attempt_at: datetime | None, error: str
) -> int:
    """Record a failed try: pending with its next attempt (back-off) or failed for good."""
    values = {"status": status, "next_attempt_at": next_attempt_at, "last_error": error[:1000]}
    return _set_if_claimed(store, message_id, claimed_at, values)


def _set_if_claimed(store: Store, message_id: str, claimed_at: datetime, values: dict[str, Any]) -> int:
    sets = ", ".join(f'"{k}" = ?' for k in values)
    with store.transaction():
        mine = store.fetchall(
            "SELECT COUNT(*) FROM outbox WHERE message_id = ? AND status = 'sending' AND claimed_at = ?",
            [message_id, claimed_at],
        )[0][0]
        if mine:
            store.execute(
                f"UPDATE outbox SET {sets} WHERE message_id = ? AND status = 'sending' AND claimed_at = ?",
                [*values.values(), message_id, claimed_at],
            )
    return int(mine)


def count_waiting(store: Store, now: datetime, channels: Sequence[str]) -> int:
    """Pending messages due now on `channels` (those that cannot be sent: mail is off)."""
    if not channels:
        return 0
    return int(
        store.fetchall(
            f"SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND channel IN ({_marks(channels)}) "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= ?)",
            [*channels, now],
        )[0][0]
    )


def requeue(store: Store, message_id: str, now: datetime) -> int:
    """A failed message becomes due again now (one more try); returns rows changed."""
    with store.transaction():
        found = store.fetchall("SELECT COUNT(*) FROM outbox WHERE message_id = ? AND status = 'failed'", [message_id])[
            0
        ][0]
        store.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = NULL "
            "WHERE message_id = ? AND status = 'failed'",
            [now, message_id],
        )
    return int(found)


# ---------------------------------------------------------------- the log


def outbox_rows(store: Store, *, status: str | None = None, limit: int = 200, offset: int = 0) -> pd.DataFrame:
    """Messages, newest first (one status, where given)."""
    where, params = ("WHERE status = ?", [status]) if status else ("", [])
    return store.query(
        f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox {where} ORDER BY created_at DESC, message_id LIMIT ? OFFSET ?",
        [*params, int(limit), int(offset)],
    )


def status_counts(store: Store) -> dict[str, int]:
    return {str(s): int(n) for s, n in store.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")}


def message_row(store: Store, message_id: str) -> dict[str, Any] | None:
    frame = store.query(f"SELECT {', '.join(OUTBOX_COLUMNS)} FROM outbox WHERE message_id = ?", [message_id])
    return None if frame.empty else frame.iloc[0].to_dict()


# ---------------------------------------------------------------- what a message is about


def case_rows(store: Store, case_ids: Sequence[str]) -> pd.DataFrame:
    """The cases with their customer's name (for the message text)."""
    frames = [
        store.query(
            "SELECT c.case_id, c.customer_id, cu.name AS customer_name, c.trigger, c.theme, c.department, "
            "c.priority, c.status, c.due_at, c.evidence, COALESCE(c.holdout, FALSE) AS holdout FROM cases c "
            f"LEFT JOIN customers cu ON cu.customer_id = c.customer_id WHERE c.case_id IN ({_marks(chunk)})",
            chunk,
        )
        for chunk in _chunks(case_ids)
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def customer_names(store: Store, customer_ids: Sequence[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for chunk in _chunks(customer_ids):
        rows = store.fetchall(
            f"SELECT customer_id, name FROM customers WHERE customer_id IN ({_marks(chunk)}) AND name IS NOT NULL",
            chunk,
        )
        names.update({str(r[0]): str(r[1]) for r in rows})
    return names


def overdue_unnotified(store: Store, now: datetime, open_statuses: Sequence[str]) -> list[str]:
    """Open cases (not held out) past their due date that no overdue message was queued for yet."""
    rows = store.fetchall(
        f"SELECT c.case_id FROM cases c WHERE c.status IN ({_marks(open_statuses)}) AND c.due_at < ? "
        "AND COALESCE(c.holdout, FALSE) = FALSE AND NOT EXISTS (SELECT 1 FROM outbox o "
        "WHERE o.event = 'case_overdue' AND o.subject_id = c.case_id) ORDER BY c.due_at, c.case_id",
        [*open_statuses, now],
    )
    return [str(r[0]) for r in rows]


def stored_alert_ids(store: Store, alert_ids: Sequence[str]) -> set[str]:
    """Which of `alert_ids` are stored already."""
    found: set[str] = set()
    for chunk in _chunks(alert_ids):
        found.update(
            str(r[0]) for r in store.fetchall(f"SELECT alert_id FROM alerts WHERE alert_id IN ({_marks(chunk)})", chunk)
        )
    return found


def department_emails(store: Store) -> dict[str, str]:
    """department_id -> its e-mail (its lead), for the departments that have one."""
    rows = store.fetchall("SELECT department_id, email FROM departments WHERE email IS NOT NULL AND email <> ''")
    return {str(r[0]): str(r[1]) for r in rows}


def active_user_email(store: Store, email: str) -> str | None:
    """The stored e-mail of the active web user `email` (case-blind), or None."""
    rows = store.fetchall("SELECT email FROM users WHERE lower(email) = lower(?) AND active", [email])
    return str(rows[0][0]) if rows else None


def user_emails(store: Store) -> list[str]:
    return [str(r[0]) for r in store.fetchall("SELECT email FROM users WHERE active ORDER BY email")]
