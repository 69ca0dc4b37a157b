"""Notifications about cases and alerts: who hears about an event, what the message says, when to retry.

Pure: subscriptions and event facts in, recipients and message text out. `heedful.services.notifications`
stores the messages in the outbox (one row per idempotency key, so an event is never queued twice) and
delivers them; the back-off here decides when a failed message is tried again.

Events: *case assigned* (to the assignee, no subscription needed), *new case*, *case overdue* (also to
the owning department's e-mail, its lead) and *alert raised* (a journey alert). A subscription narrows an
event by department, theme and/or alert kind; an empty narrowing matches every one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse

from heedful.errors import InputError

EVENTS: dict[str, str] = {
    "case_assigned": "Case assigned to you",
    "new_case": "New case",
    "case_overdue": "Case overdue",
    "alert_raised": "Alert raised",
}
SUBSCRIBABLE: tuple[str, ...] = ("new_case", "case_overdue", "alert_raised")
CHANNELS: dict[str, str] = {"email": "E-mail", "webhook": "Webhook"}
ALERT_KINDS: dict[str, str] = {
    "need_worsened": "A customer need got worse",
    "emerging_negative_theme": "Complaints about a theme are rising",
    "segment_nps_drop": "NPS of a valuable segment fell",
    "at_risk_value_spike": "Value of customers at risk jumped",
}
STATUSES: dict[str, str] = {"pending": "Waiting", "sending": "Sending", "sent": "Sent", "failed": "Failed"}

MAX_ATTEMPTS = 6
LEASE = timedelta(minutes=5)  # a message claimed longer ago than this is claimed again (its sender crashed)
FIRST_DELAY_MINUTES = 1
DELAY_FACTOR = 5


# ---------------------------------------------------------------- retrying


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: 1, 5, 25, 125, 625 minutes …"""
    return timedelta(minutes=FIRST_DELAY_MINUTES * DELAY_FACTOR ** max(0, attempts - 1))


def after_failure(attempts: int, now: datetime) -> tuple[str, datetime | None]:
    """(status, next attempt) after a failed try: pending and when to retry, or failed after MAX_ATTEMPTS."""
    if attempts >= MAX_ATTEMPTS:
        return "failed", None
    return "pending", now + retry_delay(attempts)


# ---------------------------------------------------------------- who hears about an event


@dataclass(frozen=True)
class Subscription:
    """A person's wish to hear about one event, narrowed by department, theme and alert kind (None: any)."""

    subscription_id: str
    email: str
    event: str
    channel: str = "email"
    target: str | None = None  # the webhook URL (channel webhook)
    department: str | None = None
    theme: str | None = None
    alert_kind: str | None = None

    @property
    def recipient(self) -> str:
        return self.target if self.channel == "webhook" and self.target else self.email

    def matches(
        self, event: str, department: str | None, theme: str | None = None, alert_kind: str | None = None
    ) -> bool:
        return (
            self.event == event
            and (self.department is None or self.department == department)
            and (self.theme is None or self.theme == theme)
            and (self.alert_kind is None or self.alert_kind == alert_kind)
        )


def subscription_id_of(
    email: str,
    event: str,
    channel: str,
    target: str | None,
    department: str | None,
    theme: str | None,
    alert_kind: str | None,
) -> str:
    """The same subscription made twice has one id (so it is stored once)."""
    key = "|".join(str(v or "") for v in (email.lower(), event, channel, target, department, theme, alert_kind))
    return hashlib.sha256(key.encode()).hexdigest()[:20]


def check_subscription(event: str, channel: str, target: str | None, alert_kind: str | None, theme: str | None) -> None:
    """Refuse (InputError) an unknown event, channel or alert kind, a webhook without an http(s) address,
    or narrowing by alert kind / theme that the event cannot have."""
    if event not in SUBSCRIBABLE:
        raise InputError(f"Choose what to hear about: {', '.join(EVENTS[e].lower() for e in SUBSCRIBABLE)}.")
    if channel not in CHANNELS:
        raise InputError("Send notifications by e-mail or to a webhook.")
    if channel == "webhook":
        url = urlparse(target or "")
        if url.scheme not in ("http", "https") or not url.netloc:
            raise InputError("A webhook needs an address starting with https:// (or http://).")
    if alert_kind is not None:
        if alert_kind not in ALERT_KINDS:
            raise InputError(f"Unknown kind of alert; choose one of: {', '.join(ALERT_KINDS.values())}.")
        if event != "alert_raised":
            raise InputError("A kind of alert narrows alert notifications only.")


def recipients(
    subscriptions: list[Subscription],
    event: str,
    department: str | None,
    theme: str | None = None,
    alert_kind: str | None = None,
    also: list[tuple[str, str]] | None = None,
) -> list[tuple[str, str]]:
    """(channel, recipient) of everyone who hears about this event, each once: `also` first (the
    assignee, the department lead), then matching subscribers. E-mail addresses compare case-blind."""
    seen: set[tuple[str, str]] = set()
    out: list[tuple[str, str]] = []
    matching = [(s.channel, s.recipient) for s in subscriptions if s.matches(event, department, theme, alert_kind)]
    for channel, recipient in [*(also or []), *matching]:
        key = (channel, recipient.lower() if channel == "email" else recipient)
        if recipient and key not in seen:
            seen.add(key)
            out.append((channel, recipient))
    return out


def where(channel: str, recipient: str) -> str:
    """Where a message goes, for pages and logs: the address, or the webhook's host only (a webhook's
    address is its secret)."""
    if channel != "webhook":
        return recipient
    host = urlparse(recipient).netloc.rsplit("@", 1)[-1]
    return f"Webhook at {host}" if host else "Webhook"


# ---------------------------------------------------------------- what the message says


@dataclass(frozen=True)
class CaseFacts:
    """A case as a message shows it: words, not ids (but the case id, which people look it up by)."""

    case_id: str
    customer: str  # the customer's name, or "Customer C123", or "no known customer"
    customer_id: str | None
    what: str  # theme label, else what raised it
    department: str | None  # department id (for matching)
    department_name: str | None
    theme: str | None  # theme id (for matching)
    priority: str | None
    due_at: datetime | None
    quote: str | None
    link: str | None  # the case page's full address, where the app's public address is known


@dataclass(frozen=True)
class AlertFacts:
    alert_id: str
    kind: str
    title: str
    detail: str | None
    severity: str | None
    period: str | None
    department: str | None
    department_name: str | None
    theme: str | None


@dataclass(frozen=True)
class Message:
    idempotency_key: str
    event: str
    subject_id: str  # the case or alert the message is about
    channel: str
    recipient: str
    subject: str
    body: str
    customer_id: str | None = None

    @property
    def message_id(self) -> str:
        return message_id_of(self.idempotency_key)

    def row(self, now: datetime) -> dict[str, Any]:
        """The outbox row: pending, due now."""
        return {
            "message_id": self.message_id,
            "idempotency_key": self.idempotency_key,
            "event": self.event,
            "subject_id": self.subject_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "recipient": self.recipient,
            "subject": self.subject,
            "body": self.body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "claimed_at": None,
            "last_error": None,
            "created_at": now,
            "sent_at": None,
        }


def message_id_of(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def email_headers(idempotency_key: str) -> dict[str, str]:
    """Headers that let a receiver drop a repeat: the same key always gives the same Message-ID."""
    return {"Message-ID": f"<{message_id_of(idempotency_key)}@heedful.notifications>", "X-Heedful-Id": idempotency_key}


def webhook_payload(subject: str, body: str, idempotency_key: str, event: str) -> dict[str, Any]:
    """Slack-compatible JSON (`text`), with the key a receiver can de-duplicate on."""
    return {"text": f"*{subject}*\n{body}", "heedful_id": idempotency_key, "event": event}


def _case_lines(case: CaseFacts) -> list[str]:
    lines = [f"Customer: {case.customer}", f"About: {case.what}"]
    if case.department_name:
        lines.append(f"Department: {case.department_name}")
    if case.priority:
        lines.append(f"Priority: {case.priority}")
    if case.due_at is not None:
        lines.append(f"Due: {case.due_at:%Y-%m-%d %H:%M}")
    if case.quote:
        quote = case.quote if len(case.quote) <= 400 else case.quote[:399].rstrip() + "…"
        lines.append(f"What they said: “{quote}”")
    lines.append(f"Case: {case.case_id}" + (f" — {case.link}" if case.link else ""))
    return lines


def case_assigned(case: CaseFacts, assignee: str, actor: str | None = None) -> Message:
    by = f" by {actor}" if actor else ""
    body = "\n".join([f"A case was assigned to you{by}.", "", *_case_lines(case)])
    return Message(
        f"case_assigned:{case.case_id}:{assignee.lower()}",
        "case_assigned",
        case.case_id,
        "email",
        assignee,
        f"Case assigned to you: {case.customer} — {case.what}",
        body,
        case.customer_id,
    )


def _case_message(event: str, case: CaseFacts, channel: str, recipient: str, headline: str, subject: str) -> Message:
    key_recipient = recipient.lower() if channel == "email" else recipient
    return Message(
        f"{event}:{case.case_id}:{channel}:{key_recipient}",
        event,
        case.case_id,
        channel,
        recipient,
        subject,
        "\n".join([headline, "", *_case_lines(case)]),
        case.customer_id,
    )


def new_case(case: CaseFacts, channel: str, recipient: str) -> Message:
    where = f" for {case.department_name}" if case.department_name else ""
    return _case_message(
        "new_case",
        case,
        channel,
        recipient,
        f"A new case was opened{where}.",
        f"New case: {case.customer} — {case.what}",
    )


def case_overdue(case: CaseFacts, channel: str, recipient: str) -> Message:
    where = f" ({case.department_name})" if case.department_name else ""
    return _case_message(
        "case_overdue",
        case,
        channel,
        recipient,
        f"This case is past its due date and not resolved{where}.",
        f"Case overdue: {case.customer} — {case.what}",
    )


def alert_raised(alert: AlertFacts, channel: str, recipient: str) -> Message:
    lines = [f"Alert: {alert.title}"]
    if alert.detail:
        lines.append(alert.detail)
    lines.append("")
    lines.append(f"Kind: {ALERT_KINDS.get(alert.kind, alert.kind.replace('_', ' '))}")
    if alert.severity:
        lines.append(f"Severity: {alert.severity}")
    if alert.period:
        lines.append(f"Period: {alert.period}")
    if alert.department_name:
        lines.append(f"Department: {alert.department_name}")
    key_recipient = recipient.lower() if channel == "email" else recipient
    return Message(
        f"alert:{alert.alert_id}:{channel}:{key_recipient}",
        "alert_raised",
        alert.alert_id,
        channel,
        recipient,
        f"Alert raised: {alert.title}",
        "\n".join(lines),
    )
