"""Notification use cases: subscriptions, queuing messages about cases and alerts, and sending them once.

Queuing is an outbox insert keyed by an idempotency key (`case_assigned:<case>:<assignee>` …), committed
with the change it reports (an assignment, new cases, new alerts) and before anything is sent, so a crash
never loses a notification and queuing again never adds one. `deliver_due` claims what is due, sends it
(`heedful.journey.delivery`: SMTP with the settings of `services.mail.delivery_settings`, or a webhook) and
marks it sent; a failure is retried with back-off (`heedful.cases.notify`), then marked failed.

Exactly once, honestly: a crash after the mail server or webhook accepted a message but before it was
marked sent (a few milliseconds) sends it again once the claim's lease (5 minutes) has passed. Every copy
carries the same Message-ID and X-Heedful-Id header (the `heedful_id` field of the webhook JSON), so the
receiver can drop the repeat.
"""

from __future__ import annotations

import json
import os
import smtplib
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from heedful.cases import notify
from heedful.cases.flow import OPEN_STATUSES
from heedful.cases.notify import AlertFacts, CaseFacts, Message, Subscription
from heedful.cases.triggers import evidence_text
from heedful.errors import InputError, NotFoundError
from heedful.journey.alerts import Alert
from heedful.journey.delivery import DeliverySettings, WebhookSettings, post_webhook, send_email
from heedful.services import journey, mail
from heedful.services.listen import label_of, theme_labels
from heedful.store import Store
from heedful.store import outbox_repo as repo

BATCH = 100
MAX_BATCHES = 50  # at most 5,000 messages per run; the next run (a minute later) takes the rest
TRIGGER_WORDS = {
    "survey": "an unhappy survey answer",
    "feedback": "negative feedback",
    "alert": "a journey alert",
    "churn": "a valuable customer at risk",
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def public_url() -> str | None:
    """The web app's address as people reach it (HEEDFUL_PUBLIC_URL or heedful.toml `[web] public_url`), for
    links in messages; None leaves links out."""
    from heedful.config import load_settings

    url = os.environ.get("HEEDFUL_PUBLIC_URL")
    if not url:
        web = load_settings().extra.get("web")
        url = str(web.get("public_url") or "") if isinstance(web, dict) else ""
    return url.rstrip("/") or None


# ---------------------------------------------------------------- subscriptions


def _subscriptions(store: Store, event: str) -> list[Subscription]:
    rows = repo.subscription_rows(store, event=event)
    return [
        Subscription(
            subscription_id=str(r["subscription_id"]),
            email=str(r["email"]),
            event=str(r["event"]),
            channel=str(r["channel"]),
            target=_text(r["target"]),
            department=_text(r["department"]),
            theme=_text(r["theme"]),
            alert_kind=_text(r["alert_kind"]),
        )
        for r in rows.to_dict(orient="records")
    ]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def subscribe(
    store: Store,
    email: str,
    event: str,
    *,
    channel: str = "email",
    target: str | None = None,
    department: str | None = None,
    theme: str | None = None,
    alert_kind: str | None = None,
    actor: str,
) -> dict[str, Any]:
    """Subscribe the web user `email` to an event (new_case, case_overdue, alert_raised), by e-mail or to a
    webhook, narrowed by department, theme and alert kind (None: any). Subscribing twice stores one
    subscription. Returns it, in words (see `list_subscriptions`)."""
    department, theme, alert_kind = department or None, theme or None, alert_kind or None
    target = ((target or "").strip() or None) if channel == "webhook" else None
    notify.check_subscription(event, channel, target, alert_kind, theme)
    who = repo.active_user_email(store, email.strip())
    if who is None:
        raise InputError(f"{email.strip() or 'That person'} is not a user of the web app; add them in Settings first.")
    if department is not None and department not in {d.id for d in journey.load_config(store).departments}:
        raise InputError("Unknown department; choose one from the list.")
    if theme is not None and theme not in theme_labels():
        raise InputError("Unknown theme; choose one from the list.")
    sub_id = notify.subscription_id_of(who, event, channel, target, department, theme, alert_kind)
    repo.insert_subscription(
        store,
        {
            "subscription_id": sub_id,
            "email": who,
            "event": event,
            "channel": channel,
            "target": target,
            "department": department,
            "theme": theme,
            "alert_kind": alert_kind,
            "created_at": _now(),
            "created_by": actor,
        },
    )
    return next(s for s in list_subscriptions(store, who) if s["subscription_id"] == sub_id)


def unsubscribe(store: Store, subscription_id: str, *, email: str | None = None) -> None:
    """Remove a subscription (only one of `email`'s, where given: people manage their own)."""
    if not repo.delete_subscription(store, subscription_id, email):
        raise NotFoundError("There is no such subscription (it may have been removed already).")


def list_subscriptions(store: Store, email: str | None = None) -> list[dict[str, Any]]:
    """Subscriptions (one person's, or everyone's), with what they mean in words."""
    config = journey.load_config(store)
    labels = theme_labels()
    out = []
    for r in repo.subscription_rows(store, email=email).to_dict(orient="records"):
        department, theme, kind = _text(r["department"]), _text(r["theme"]), _text(r["alert_kind"])
        out.append(
            {
                "subscription_id": r["subscription_id"],
                "email": r["email"],
                "event": r["event"],
                "event_label": notify.EVENTS.get(r["event"], r["event"]),
                "channel": r["channel"],
                "channel_label": notify.CHANNELS.get(r["channel"], r["channel"]),
                "target": _text(r["target"]),
                "to": notify.where(str(r["channel"]), _text(r["target"]) or str(r["email"])),
                "department": department,
                "department_name": config.department_name(department) if department else None,
                "theme": theme,
                "theme_label": label_of(theme, labels) if theme else None,
                "alert_kind": kind,
                "alert_kind_label": notify.ALERT_KINDS.get(kind, kind) if kind else None,
                "created_at": r["created_at"],
                "created_by": r["created_by"],
            }
        )
    return out


def choices(store: Store) -> dict[str, Any]:
    """What a subscription can name: events, channels, departments, themes, alert kinds, users."""
    labels = theme_labels()
    return {
        "events": {e: notify.EVENTS[e] for e in notify.SUBSCRIBABLE},
        "channels": dict(notify.CHANNELS),
        "departments": [(d.id, d.name) for d in journey.load_config(store).departments],
        "themes": sorted(labels.items(), key=lambda item: item[1].lower()),
        "alert_kinds": dict(notify.ALERT_KINDS),
        "users": repo.user_emails(store),
    }


# ---------------------------------------------------------------- queuing (hooks)


def _case_facts(rows: pd.DataFrame, store: Store) -> list[CaseFacts]:
    """Cases as messages show them; `rows` has case_id, customer_id, trigger, theme, department, priority,
    due_at, evidence (dict or JSON text) and, where known, customer_name."""
    if rows.empty:
        return []
    config = journey.load_config(store)
    labels = theme_labels()
    link = public_url()
    if "customer_name" not in rows:
        names = repo.customer_names(store, sorted({str(c) for c in rows["customer_id"].dropna()}))
        rows = rows.assign(customer_name=rows["customer_id"].map(lambda c: names.get(str(c)) if _text(c) else None))
    facts = []
    for r in rows.to_dict(orient="records"):
        customer_id, name, theme = _text(r.get("customer_id")), _text(r.get("customer_name")), _text(r.get("theme"))
        department = _text(r.get("department"))
        evidence = r.get("evidence")
        if isinstance(evidence, str):
            try:
                evidence = json.loads(evidence)
            except ValueError:
                evidence = {}
        due = r.get("due_at")
        facts.append(
            CaseFacts(
                case_id=str(r["case_id"]),
                customer=name or (f"Customer {customer_id}" if customer_id else "no known customer"),
                customer_id=customer_id,
                what=label_of(theme, labels) if theme else TRIGGER_WORDS.get(str(r.get("trigger")), "a case"),
                department=department,
                department_name=config.department_name(department) if department else None,
                theme=theme,
                priority=_text(r.get("priority")),
                due_at=pd.Timestamp(due).to_pydatetime() if due is not None and not pd.isna(due) else None,
                quote=evidence_text(evidence if isinstance(evidence, dict) else None) or None,
                link=f"{link}/cases/{r['case_id']}" if link else None,
            )
        )
    return facts


def _queue(store: Store, messages: list[Message], now: datetime) -> int:
    return repo.enqueue(store, [m.row(now) for m in messages])


def case_assigned(
    store: Store, case_ids: list[str], assignee: str | None, *, actor: str | None = None, now: datetime | None = None
) -> int:
    """Queue "case assigned" to the assignee, when they are a web user (their e-mail) and did not take the
    cases themselves. Call it in the assignment's transaction. Returns messages queued."""
    if not assignee or not case_ids:
        return 0
    who = repo.active_user_email(store, assignee)
    if who is None or (actor and actor.strip().lower() == who.lower()):
        return 0
    facts = _case_facts(repo.case_rows(store, case_ids), store)
    return _queue(store, [notify.case_assigned(c, who, actor) for c in facts], now or _now())


def cases_opened(store: Store, cases: pd.DataFrame, *, now: datetime | None = None) -> int:
    """Queue "new case" for the subscribers whose department / theme the new cases match (holdout cases, kept
    back to measure following up, tell nobody). Call it in the transaction that stores the cases."""
    if cases.empty or not repo.has_subscriptions(store, "new_case"):
        return 0
    if "holdout" in cases:
        cases = cases[~cases["holdout"].fillna(False).astype(bool)]
    subs = _subscriptions(store, "new_case")
    messages = [
        notify.new_case(case, channel, recipient)
        for case in _case_facts(cases, store)
        for channel, recipient in notify.recipients(subs, "new_case", case.department, case.theme)
    ]
    return _queue(store, messages, now or _now())


def alerts_raised(store: Store, alerts: list[Alert], *, now: datetime | None = None) -> int:
    """Queue "alert raised" for the subscribers whose department / theme / alert kind each alert matches."""
    if not alerts or not repo.has_subscriptions(store, "alert_raised"):
        return 0
    config = journey.load_config(store)
    subs = _subscriptions(store, "alert_raised")
    messages = []
    for a in alerts:
        facts = AlertFacts(
            alert_id=a.alert_id,
            kind=a.kind,
            title=a.title,
            detail=a.detail or None,
            severity=a.severity,
            period=a.period,
            department=a.department_id,
            department_name=config.department_name(a.department_id) if a.department_id else None,
            theme=a.subject if a.kind == "emerging_negative_theme" else None,
        )
        for channel, recipient in notify.recipients(subs, "alert_raised", facts.department, facts.theme, a.kind):
            messages.append(notify.alert_raised(facts, channel, recipient))
    return _queue(store, messages, now or _now())


def new_alerts(store: Store, alerts: list[Alert]) -> list[Alert]:
    """The alerts among `alerts` not stored yet (those whose raising is news)."""
    stored = repo.stored_alert_ids(store, [a.alert_id for a in alerts])
    return [a for a in alerts if a.alert_id not in stored]


def notify_overdue(store: Store, now: datetime | None = None) -> dict[str, int]:
    """Queue "case overdue", once per case, for every open case past its due date: to its department's
    e-mail (the lead) and to the subscribers it matches. A case nobody is told about is looked at again on
    the next run (someone may subscribe). Returns {"cases": cases told about, "queued": messages}."""
    now = now or _now()
    config = journey.load_config(store)
    leads = {d.id: d.email for d in config.departments if d.email}
    subs = _subscriptions(store, "case_overdue")
    if not leads and not subs:
        return {"cases": 0, "queued": 0}
    ids = repo.overdue_unnotified(store, now, OPEN_STATUSES)
    if not ids:
        return {"cases": 0, "queued": 0}
    messages: list[Message] = []
    told: set[str] = set()
    for case in _case_facts(repo.case_rows(store, ids), store):
        lead = leads.get(case.department or "")
        also = [("email", lead)] if lead else []
        for channel, recipient in notify.recipients(subs, "case_overdue", case.department, case.theme, also=also):
            messages.append(notify.case_overdue(case, channel, recipient))
            told.add(case.case_id)
    return {"cases": len(told), "queued": _queue(store, messages, now)}


# ---------------------------------------------------------------- sending


def _why(exc: BaseException) -> str:
    """A failed send in words, for the delivery log."""
    cause = exc.__cause__ or exc
    if isinstance(cause, smtplib.SMTPException | OSError):
        return mail.sentence(mail.smtp_words(cause))
    return str(exc) or exc.__class__.__name__


def _send(row: dict[str, Any], settings: DeliverySettings) -> None:
    key, subject, body = str(row["idempotency_key"]), str(row["subject"]), str(row["body"])
    if row["channel"] == "webhook":
        timeout = settings.webhook.timeout_s if settings.webhook else 10.0
        hook = WebhookSettings(url=str(row["recipient"]), headers={"X-Heedful-Id": key}, timeout_s=timeout)
        post_webhook(hook, notify.webhook_payload(subject, body, key, str(row["event"])))
        return
    if settings.smtp is None:  # not claimed without SMTP settings; kept as a guard
        raise InputError("Mail is off: no SMTP settings.")
    smtp = settings.smtp.model_copy(update={"recipients": [str(row["recipient"])]})
    send_email(smtp, subject, body, headers=notify.email_headers(key))


def deliver_due(
    store: Store,
    *,
    now: datetime | None = None,
    settings: DeliverySettings | None = None,
    message_ids: list[str] | None = None,
) -> dict[str, int]:
    """Send the messages that are due (or only `message_ids`): claim, send, mark sent; a failed try is
    retried after 1, 5, 25, 125, 625 minutes, and marked failed after the sixth. E-mails wait (pending)
    while mail is off. Returns {"sent", "retrying", "failed", "waiting_for_mail"} counts."""
    clock = now or _now()
    settings = settings if settings is not None else mail.delivery_settings(store)
    channels = ["webhook", *(["email"] if settings.smtp is not None else [])]
    out = {"sent": 0, "retrying": 0, "failed": 0, "waiting_for_mail": 0}
    for _ in range(MAX_BATCHES):
        batch = repo.claim_due(
            store, clock, clock - notify.LEASE, channels=channels, limit=BATCH, message_ids=message_ids
        )
        for row in batch.to_dict(orient="records"):
            try:
                _send(row, settings)
            except Exception as exc:  # one message's failure (any kind) must not stop the others
                status, next_at = notify.after_failure(int(row["attempts"]), clock)
                why = _why(exc).replace(str(row["recipient"]), notify.where(str(row["channel"]), str(row["recipient"])))
                repo.mark_failed(store, str(row["message_id"]), clock, status, next_at, why)
                out["retrying" if status == "pending" else "failed"] += 1
            else:
                repo.mark_sent(store, str(row["message_id"]), clock, now or _now())
                out["sent"] += 1
        if len(batch) < BATCH:
            break
    if settings.smtp is None:
        out["waiting_for_mail"] = repo.count_waiting(store, clock, ["email"])
    return out


def retry_now(
    store: Store, message_id: str, *, now: datetime | None = None, settings: DeliverySettings | None = None
) -> dict[str, Any]:
    """Try a failed message once more, now. Returns the message as the log shows it."""
    if repo.message_row(store, message_id) is None:
        raise NotFoundError("There is no such message in the delivery log.")
    if not repo.requeue(store, message_id, now or _now()):
        raise InputError("Only a failed message can be retried; the others are sent or still being tried.")
    deliver_due(store, now=now, settings=settings, message_ids=[message_id])
    row = repo.message_row(store, message_id)
    assert row is not None
    return _log_entry(row)


def _plain(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _log_entry(row: dict[str, Any]) -> dict[str, Any]:
    entry = {k: _plain(v) for k, v in row.items()}
    entry["attempts"] = int(entry.get("attempts") or 0)
    entry["event_label"] = notify.EVENTS.get(str(entry["event"]), str(entry["event"]))
    entry["status_label"] = notify.STATUSES.get(str(entry["status"]), str(entry["status"]))
    entry["to"] = notify.where(str(entry["channel"]), str(entry["recipient"]))
    return entry


def delivery_log(store: Store, *, status: str | None = None, limit: int = 200, offset: int = 0) -> dict[str, Any]:
    """The outbox, newest first: {"messages": [...], "counts": {status: n}} (one status, where given)."""
    if status is not None and status not in notify.STATUSES:
        raise InputError(f"Unknown status {status!r}; use one of {', '.join(notify.STATUSES)}.")
    if limit < 0 or offset < 0:
        raise InputError("limit and offset must not be negative.")
    rows = repo.outbox_rows(store, status=status, limit=limit, offset=offset)
    counts = repo.status_counts(store)
    return {
        "messages": [_log_entry(r) for r in rows.to_dict(orient="records")],
        "counts": {s: counts.get(s, 0) for s in notify.STATUSES},
    }
