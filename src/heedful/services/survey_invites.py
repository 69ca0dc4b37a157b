"""Survey invitations by e-mail: send personal links to an audience, one reminder, unsubscribes, status.

Every message goes through `heedful.services.mail.delivery_settings(store)` and
`heedful.journey.delivery.send_email`. Durability: each invitation is recorded (`sending`, committed) before its
e-mail goes and marked `sent` or `failed` (with the reason) after, so a batch sent again — a resubmitted form, a
retry after a crash — e-mails nobody twice: a customer gets at most one e-mailed invitation per survey. The
reminder is claimed the same way (at most one per invitation, only while not completed). A customer who used the
unsubscribe link of any e-mail is never e-mailed by any invitation again.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from heedful.errors import ConfigError, InputError
from heedful.journey.delivery import SmtpSettings, send_email
from heedful.services import mail
from heedful.services.survey_brand import brand
from heedful.services.surveys import latest_survey, select_customers
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.surveys.definition import SurveyDefinition, pipe

MAIL_OFF = (
    "E-mail is off: no mail server is set (an admin sets one under Settings → Mail). "
    "You can still download the personal links as a spreadsheet and send them yourself."
)
KINDS = {"customer": "Customers", "prospect": "Prospects", "staff": "Staff", "partner": "Partners"}
STATUS_LABELS = {
    "completed": "Completed",
    "opened": "Opened the link",
    "sent": "Sent",
    "failed": "Could not be sent",
    "sending": "Sending was interrupted (not confirmed)",
    "link": "Link issued (spreadsheet)",
}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class SendResult:
    """What a sending did: e-mails sent now, failures (customer -> reason), and who was left out and why."""

    sent: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    already_invited: int = 0
    unsubscribed: int = 0
    without_email: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": len(self.failed),
            "failures": self.failed,
            "already_invited": self.already_invited,
            "unsubscribed": self.unsubscribed,
            "without_email": self.without_email,
        }


# ------------------------------------------------------------------------------ audiences
def audiences(store: Store) -> list[tuple[str, str]]:
    """(value, label) of every audience one can invite: everyone, a kind of customer, an RFM segment."""
    from heedful.services.dashboard import segments

    options = [("all", "Everyone with an e-mail address")]
    options += [(kind, label) for kind, label in KINDS.items()]
    options += [(f"segment:{name}", f"Segment: {name}") for name in segments(store)]
    return options


def audience_label(store: Store, audience: str) -> str:
    return dict(audiences(store)).get(audience, audience)


def recipients(store: Store, audience: str) -> pd.DataFrame:
    """The customers of an audience ('all', a kind, or 'segment:<RFM segment>'): customer_id, name, email, kind."""
    if audience.startswith("segment:"):
        members = repo.customers_in_segment(store, audience.removeprefix("segment:"))
        everyone = select_customers(store, "all")
        return everyone[everyone["customer_id"].astype(str).isin(members)].reset_index(drop=True)
    if audience != "all" and audience not in KINDS:
        raise InputError("Choose who to invite from the list.")
    return select_customers(store, audience).reset_index(drop=True)


# ------------------------------------------------------------------------------ messages
def _link(base_url: str, slug: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{slug}?t={token}"


def _unsubscribe_link(base_url: str, slug: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{slug}/unsubscribe?t={token}"


def message(
    survey: SurveyDefinition,
    sender: str | None,
    name: str | None,
    link: str,
    unsubscribe: str,
    *,
    reminder: bool = False,
) -> tuple[str, str]:
    """(subject, plain-text body) of an invitation or its reminder; `sender` is the business's name, if set."""
    greeting = f"Hello {name}," if name else "Hello,"
    intro = pipe(survey.intro, {"name": name or ""}).strip()
    who = sender or "We"
    ask = (
        f"A short reminder: {who} would still like to hear from you."
        if reminder
        else f"{who} would like to hear from you."
    )
    why = f"you are a customer of {sender}" if sender else "you are one of our customers"
    lines = [greeting, "", ask, f"“{survey.title}”", ""]
    if intro:
        lines += [intro, ""]
    lines += [
        "Your personal link (please do not share it):",
        link,
        "",
        "Thank you.",
        "",
        "—",
        f"You receive this because {why}. To get no more survey e-mails from us, open:",
        unsubscribe,
    ]
    return f"{'Reminder: ' if reminder else ''}{survey.title}", "\n".join(lines)


def _reason(exc: ConfigError) -> str:
    """Why a message could not be sent, in words (the mail server's own answer where it gave one)."""
    return mail.sentence(mail.smtp_words(exc.__cause__)) if exc.__cause__ is not None else str(exc)


def _send(smtp: SmtpSettings, address: str, subject: str, body: str) -> str | None:
    """Send one message; None when the mail server took it, else why not."""
    try:
        send_email(smtp.model_copy(update={"recipients": [address]}), subject, body)
    except ConfigError as exc:
        return _reason(exc)
    return None


def _smtp(store: Store, settings: mail.DeliverySettings | None) -> SmtpSettings:
    smtp = (settings or mail.delivery_settings(store)).smtp
    if smtp is None:
        raise ConfigError(MAIL_OFF)
    return smtp


def mail_on(store: Store) -> bool:
    """Whether a mail server is set (in the web app, heedful.toml or the environment)."""
    try:
        return mail.delivery_settings(store).smtp is not None
    except ConfigError:
        return False


# ------------------------------------------------------------------------------ use cases
def new_batch_id() -> str:
    """The id a send form carries, so that the same form sent twice is one batch."""
    return "b_" + secrets.token_urlsafe(12)


def send_invitations(
    store: Store,
    slug: str,
    audience: str,
    base_url: str,
    *,
    batch_id: str,
    actor: str | None = None,
    now: datetime | None = None,
    settings: mail.DeliverySettings | None = None,
) -> SendResult:
    """E-mail each customer of `audience` their personal link to survey `slug` (see the module docstring).

    Left out: customers without an e-mail address, those who unsubscribed (by id or address), and those
    already e-mailed an invitation to this survey (in this batch or another). ConfigError when mail is off.
    """
    smtp = _smtp(store, settings)
    _, survey = latest_survey(store, slug)
    sender = _sender(store)
    chosen = recipients(store, audience)
    if chosen.empty:
        raise InputError("Nobody is in that audience.")
    now = now or _now()
    repo.record_batch(store, batch_id, slug, audience, base_url, actor, now)
    done = repo.emailed_customers(store, slug)
    gone_ids, gone_addresses = repo.unsubscribed(store)
    result = SendResult()
    for row in chosen.itertuples(index=False):
        cid, address = str(row.customer_id), row.email if isinstance(row.email, str) else ""
        if cid in gone_ids or address.strip().lower() in gone_addresses:
            result.unsubscribed += 1
            continue
        if "@" not in address:
            result.without_email += 1
            continue
        token = secrets.token_urlsafe(24)
        if cid in done or not repo.claim_invitation(store, slug, cid, address.strip(), batch_id, token, now):
            result.already_invited += 1
            continue
        name = row.name if isinstance(row.name, str) else None
        subject, body = message(
            survey, sender, name, _link(base_url, slug, token), _unsubscribe_link(base_url, slug, token)
        )
        error = _send(smtp, address.strip(), subject, body)
        repo.record_delivery(store, repo.token_hash(token), _now() if error is None else None, error)
        if error is None:
            result.sent += 1
        else:
            result.failed[cid] = error
    return result


def send_reminders(
    store: Store,
    slug: str,
    now: datetime,
    *,
    wait: timedelta = timedelta(0),
    settings: mail.DeliverySettings | None = None,
) -> SendResult:
    """One reminder to each e-mailed invitee of `slug` who has not completed the survey (a scheduler may call
    this daily): only invitations sent at least `wait` before `now`, never twice, never to the unsubscribed.

    The reminder carries a second link to the same invitation (its hash stored, as the first's), so the first
    e-mail's link keeps working and either one continues the same response.
    """
    smtp = _smtp(store, settings)
    _, survey = latest_survey(store, slug)
    sender = _sender(store)
    result = SendResult()
    for row in repo.reminder_candidates(store, slug, now - wait):
        token = secrets.token_urlsafe(24)
        if not repo.claim_reminder(store, row["token_hash"], token, now):
            continue
        subject, body = message(
            survey,
            sender,
            row["name"],
            _link(row["base_url"], slug, token),
            _unsubscribe_link(row["base_url"], slug, token),
            reminder=True,
        )
        error = _send(smtp, str(row["email"]), subject, body)
        if error is None:
            result.sent += 1
        else:
            repo.record_error(store, row["token_hash"], f"Reminder: {error}")
            result.failed[str(row["customer_id"])] = error
    return result


REMINDER_WAIT = timedelta(days=3)


def send_due_reminders(store: Store, now: datetime, *, wait: timedelta = REMINDER_WAIT) -> dict[str, int]:
    """The scheduled reminder run: for every survey with e-mailed invitations still open, one reminder to
    each invitee who was e-mailed at least `wait` ago and has not completed it (never twice)."""
    totals = {"surveys": 0, "sent": 0, "failed": 0}
    for slug in repo.slugs_awaiting_reminders(store, now - wait):
        result = send_reminders(store, slug, now, wait=wait)
        totals["surveys"] += 1
        totals["sent"] += result.sent
        totals["failed"] += len(result.failed)
    return totals


def record_opened(store: Store, invitation_hash: str, now: datetime | None = None) -> bool:
    """The invitation's link was visited (the first visit counts); True when this was the first."""
    return repo.mark_opened(store, invitation_hash, now or _now())


def unsubscribe(store: Store, slug: str, token: str, now: datetime | None = None) -> bool:
    """Honour the unsubscribe link of an invitation e-mail: no survey e-mail to this customer again.
    False when the link is not valid."""
    invitation = repo.find_invitation(store, slug, token)
    if invitation is None or not invitation["customer_id"]:
        return False
    address = store.fetchall("SELECT email FROM invitations WHERE token_hash = ?", [invitation["token_hash"]])
    repo.unsubscribe(store, str(invitation["customer_id"]), address[0][0] if address else None, slug, now or _now())
    return True


def is_valid_link(store: Store, slug: str, token: str) -> bool:
    return repo.find_invitation(store, slug, token) is not None


def invitation_status(store: Store, slug: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """Each invitation to `slug` with its state (completed, opened, sent, failed, …) in words, and counts."""
    latest_survey(store, slug)
    rows = repo.invitations_of(store, slug)
    states = [_state(r) for r in rows.to_dict(orient="records")]
    rows = rows.assign(state=states, state_label=[STATUS_LABELS[s] for s in states])
    counts = {state: states.count(state) for state in STATUS_LABELS}
    counts["invited"] = len(states)
    counts["reminded"] = int(rows["reminded_at"].notna().sum()) if len(rows) else 0
    return rows, counts


def _state(row: dict[str, Any]) -> str:
    if pd.notna(row.get("used_at")):
        return "completed"
    if pd.notna(row.get("opened_at")):
        return "opened"
    status = row.get("status")
    return str(status) if isinstance(status, str) and status in STATUS_LABELS else "link"


def _sender(store: Store) -> str | None:
    saved = brand(store)
    return saved.name if saved is not None else None


def links(store: Store, slug: str, audience: str, base_url: str) -> pd.DataFrame:
    """Personal links for an audience, to send yourself (mail off, or another tool): customer_id, name, email,
    link. Customers who unsubscribed are left out; only the links' hashes are stored."""
    latest_survey(store, slug)
    chosen = recipients(store, audience)
    gone_ids, gone_addresses = repo.unsubscribed(store)
    addresses = chosen["email"].fillna("").astype(str).str.strip().str.lower()
    chosen = chosen[~chosen["customer_id"].astype(str).isin(gone_ids) & ~addresses.isin(gone_addresses)]
    if chosen.empty:
        raise InputError("Nobody is in that audience.")
    issued = dict(repo.create_invitations(store, slug, chosen["customer_id"].astype(str).tolist()))
    return pd.DataFrame(
        {
            "customer_id": chosen["customer_id"].astype(str),
            "name": chosen["name"].fillna(""),
            "email": chosen["email"].fillna(""),
            "link": [_link(base_url, slug, issued[str(cid)]) for cid in chosen["customer_id"]],
        }
    ).reset_index(drop=True)
