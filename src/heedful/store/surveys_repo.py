"""Store reads and writes for surveys: versioned definitions, invitations, responses and answers.

Definitions go in and out as their JSON documents and answers as `AnswerRow` records; turning them
into `SurveyDefinition` / `Answer` objects is `heedful.services.surveys`'s job.

Durability rules: a page of answers commits (in one transaction) before the caller hears success,
and carries the idempotency key of the form that sent it, so a double submit records once.
Invitation tokens are `secrets.token_urlsafe`; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import pandas as pd

from heedful.errors import InputError, NotFoundError
from heedful.store.backend import Store

PAGE_MARK = "_page"  # answers row recording that a page was submitted (question ids never start with _)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# ------------------------------------------------------------------------------ definitions
def save_definition(store: Store, document: dict[str, Any], status: str = "open") -> dict[str, Any]:
    """Store a survey's JSON document; a changed one becomes a new version, an unchanged one is left as is.

    `document` holds at least slug and title (and audience); it is stored as sorted JSON text.
    """
    slug = str(document["slug"])
    text = json.dumps(document, sort_keys=True)
    rows = store.fetchall(
        "SELECT version, definition, status FROM surveys WHERE slug = ? ORDER BY version DESC LIMIT 1", [slug]
    )
    if rows and json.dumps(json.loads(rows[0][1]), sort_keys=True) == text:
        version = int(rows[0][0])
        return {
            "survey_id": f"{slug}-v{version}",
            "slug": slug,
            "version": version,
            "created": False,
            "status": rows[0][2],
        }
    version = int(rows[0][0]) + 1 if rows else 1
    store.execute(
        "INSERT INTO surveys (survey_id, slug, version, title, audience, status, definition, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            f"{slug}-v{version}",
            slug,
            version,
            document["title"],
            document.get("audience", "customer"),
            status,
            text,
            _now(),
        ],
    )
    return {"survey_id": f"{slug}-v{version}", "slug": slug, "version": version, "created": True, "status": status}


def latest_definition(store: Store, slug: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(row, JSON document) of a survey's newest version; NotFoundError when no survey has this slug."""
    rows = store.fetchall(
        "SELECT survey_id, slug, version, title, audience, status, definition, created_at FROM surveys "
        "WHERE slug = ? ORDER BY version DESC LIMIT 1",
        [slug],
    )
    if not rows:
        raise NotFoundError(f"No survey with slug {slug!r}; create it with `heedful survey create FILE.yaml`.")
    keys = ["survey_id", "slug", "version", "title", "audience", "status", "definition", "created_at"]
    row = dict(zip(keys, rows[0], strict=True))
    return row, json.loads(row.pop("definition"))


def definition_of(store: Store, survey_id: str) -> dict[str, Any]:
    """The JSON document of one survey version."""
    rows = store.fetchall("SELECT definition FROM surveys WHERE survey_id = ?", [survey_id])
    if not rows:
        raise NotFoundError(f"No survey version {survey_id!r}.")
    document: dict[str, Any] = json.loads(rows[0][0])
    return document


def latest_row(store: Store, slug: str) -> tuple[Any, ...] | None:
    """(survey_id, slug, version, title, audience, status, created_at) of the newest version, or None."""
    rows = store.fetchall(
        "SELECT survey_id, slug, version, title, audience, status, created_at FROM surveys WHERE slug = ? "
        "ORDER BY version DESC LIMIT 1",
        [slug],
    )
    return tuple(rows[0]) if rows else None


def list_surveys(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT s.slug, s.title, s.audience, s.status, s.version, s.created_at, "
        "(SELECT COUNT(*) FROM responses r WHERE r.slug = s.slug) AS responses, "
        "(SELECT COUNT(*) FROM responses r WHERE r.slug = s.slug AND r.completed_at IS NOT NULL) AS completed "
        "FROM surveys s WHERE s.version = (SELECT MAX(version) FROM surveys t WHERE t.slug = s.slug) ORDER BY s.slug"
    )


def set_status(store: Store, slug: str, status: str) -> None:
    if status not in ("draft", "open", "closed"):
        raise InputError(f"Unknown survey status {status!r}.")
    latest_definition(store, slug)
    store.execute("UPDATE surveys SET status = ? WHERE slug = ?", [status, slug])


# ------------------------------------------------------------------------------ invitations
def create_invitations(store: Store, slug: str, customer_ids: Sequence[str]) -> list[tuple[str, str]]:
    """One unguessable token per customer; returns (customer_id, token). Only hashes are stored."""
    latest_definition(store, slug)
    issued = [(cid, secrets.token_urlsafe(24)) for cid in customer_ids]
    now = _now()
    with store.transaction():
        for cid, token in issued:
            store.execute(
                "INSERT INTO invitations (token_hash, slug, customer_id, created_at) VALUES (?, ?, ?, ?)",
                [token_hash(token), slug, cid, now],
            )
    return issued


def find_invitation(store: Store, slug: str, token: str) -> dict[str, Any] | None:
    """The invitation for this survey and token (its own link's or its reminder's), or None (unknown token,
    or another survey's). `token_hash` is always the invitation's own: the reminder link is the same invitation."""
    if not token or len(token) > 200:
        return None
    select = "SELECT token_hash, customer_id, used_at, opened_at FROM invitations WHERE slug = ? AND "
    hashed = token_hash(token)
    rows = store.fetchall(select + "token_hash = ?", [slug, hashed]) or store.fetchall(
        select + "reminder_token_hash = ?", [slug, hashed]
    )
    if not rows:
        return None
    return {"token_hash": rows[0][0], "customer_id": rows[0][1], "used_at": rows[0][2], "opened_at": rows[0][3]}


# ------------------------------------------------------------------------------ e-mailed invitations
def record_batch(
    store: Store, batch_id: str, slug: str, audience: str, base_url: str, actor: str | None, now: datetime
) -> None:
    """Remember a sending (once: the same batch sent again keeps its first record)."""
    store.execute(
        "INSERT INTO invite_batches (batch_id, slug, audience, base_url, created_at, created_by) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (batch_id) DO NOTHING",
        [batch_id, slug, audience, base_url, now, actor],
    )


def claim_invitation(
    store: Store, slug: str, customer_id: str, email: str, batch_id: str, token: str, now: datetime
) -> bool:
    """Record an e-mailed invitation as `sending`, committed before the e-mail goes; False (nothing written)
    when this customer was already e-mailed an invitation to this survey."""
    with store.exclusive(f"invite:{slug}"):
        return (
            store.execute(
                "INSERT INTO invitations (token_hash, slug, customer_id, created_at, batch_id, email, status) "
                "SELECT ?, ?, ?, ?, ?, ?, 'sending' WHERE NOT EXISTS (SELECT 1 FROM invitations "
                "WHERE slug = ? AND customer_id = ? AND status IS NOT NULL)",
                [token_hash(token), slug, customer_id, now, batch_id, email, slug, customer_id],
            )
            == 1
        )


def record_delivery(store: Store, invitation_hash: str, sent_at: datetime | None, error: str | None) -> None:
    """The outcome of sending an invitation: sent (at `sent_at`) or failed (with `error`)."""
    status = "sent" if error is None else "failed"
    store.execute(
        "UPDATE invitations SET status = ?, sent_at = ?, error = ? WHERE token_hash = ?",
        [status, sent_at, error, invitation_hash],
    )


def mark_opened(store: Store, invitation_hash: str, now: datetime) -> bool:
    """Record the first visit with an invitation's link; True when this was the first."""
    return (
        store.execute(
            "UPDATE invitations SET opened_at = ? WHERE token_hash = ? AND opened_at IS NULL", [now, invitation_hash]
        )
        == 1
    )


def reminder_candidates(store: Store, slug: str, sent_before: datetime) -> list[dict[str, Any]]:
    """E-mailed invitations sent before `sent_before`, not completed, never reminded, whose customer has not
    unsubscribed: token hash, customer id, name, address, and the site address of their batch."""
    rows = store.fetchall(
        "SELECT i.token_hash, i.customer_id, c.name, i.email, b.base_url FROM invitations i "
        "JOIN invite_batches b ON b.batch_id = i.batch_id LEFT JOIN customers c ON c.customer_id = i.customer_id "
        "WHERE i.slug = ? AND i.status = 'sent' AND i.used_at IS NULL AND i.reminded_at IS NULL AND i.sent_at < ? "
        "AND NOT EXISTS (SELECT 1 FROM survey_unsubscribes u WHERE u.customer_id = i.customer_id "
        "OR lower(u.email) = lower(i.email)) ORDER BY i.sent_at, i.token_hash",
        [slug, sent_before],
    )
    keys = ["token_hash", "customer_id", "name", "email", "base_url"]
    return [dict(zip(keys, r, strict=True)) for r in rows]


def slugs_awaiting_reminders(store: Store, sent_before: datetime) -> list[str]:
    """Surveys with an e-mailed invitation sent before `sent_before`, not completed and never reminded."""
    rows = store.fetchall(
        "SELECT DISTINCT slug FROM invitations WHERE status = 'sent' AND used_at IS NULL AND reminded_at IS NULL "
        "AND sent_at < ? ORDER BY slug",
        [sent_before],
    )
    return [str(r[0]) for r in rows]


def claim_reminder(store: Store, invitation_hash: str, reminder_token: str, now: datetime) -> bool:
    """Record the one reminder (and its link's hash) before it is sent; False when it was claimed already."""
    return (
        store.execute(
            "UPDATE invitations SET reminded_at = ?, reminder_token_hash = ? "
            "WHERE token_hash = ? AND reminded_at IS NULL AND used_at IS NULL",
            [now, token_hash(reminder_token), invitation_hash],
        )
        == 1
    )


def record_error(store: Store, invitation_hash: str, error: str) -> None:
    store.execute("UPDATE invitations SET error = ? WHERE token_hash = ?", [error, invitation_hash])


def invitations_of(store: Store, slug: str) -> pd.DataFrame:
    """Every invitation to a survey with its customer's name and whether its response is completed."""
    return store.query(
        "SELECT i.customer_id, c.name, COALESCE(i.email, c.email) AS email, i.status, i.created_at, i.sent_at, "
        "i.opened_at, i.used_at, i.reminded_at, i.error, i.batch_id FROM invitations i "
        "LEFT JOIN customers c ON c.customer_id = i.customer_id WHERE i.slug = ? ORDER BY i.created_at, i.customer_id",
        [slug],
    )


def emailed_customers(store: Store, slug: str) -> set[str]:
    """Customers already e-mailed (or being e-mailed) an invitation to this survey."""
    rows = store.fetchall("SELECT customer_id FROM invitations WHERE slug = ? AND status IS NOT NULL", [slug])
    return {str(r[0]) for r in rows}


def unsubscribed(store: Store) -> tuple[set[str], set[str]]:
    """(customer ids, lower-case addresses) that asked for no more survey e-mails."""
    rows = store.fetchall("SELECT customer_id, email FROM survey_unsubscribes")
    return {str(r[0]) for r in rows}, {str(r[1]).lower() for r in rows if r[1]}


def unsubscribe(store: Store, customer_id: str, email: str | None, slug: str, now: datetime) -> bool:
    """Record that a customer wants no more survey e-mails; True when newly recorded."""
    return (
        store.execute(
            "INSERT INTO survey_unsubscribes (customer_id, email, slug, unsubscribed_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (customer_id) DO NOTHING",
            [customer_id, email, slug, now],
        )
        == 1
    )


def customers_in_segment(store: Store, segment: str) -> set[str]:
    """Customers whose stored RFM segment (customer_value.segment) is `segment`."""
    rows = store.fetchall("SELECT customer_id FROM customer_value WHERE segment = ?", [segment])
    return {str(r[0]) for r in rows}


# ------------------------------------------------------------------------------ responses
@dataclass(frozen=True)
class NewResponse:
    """A response to create: its survey version and slug, wave, and (for an invitation) customer and token hash."""

    survey_id: str
    slug: str
    wave: str | None = None
    customer_id: str | None = None
    token_hash: str | None = None


def insert_responses(store: Store, new: Sequence[tuple[str, NewResponse]]) -> set[str]:
    """Write `responses` rows (response id, what to create) started now on the web, at page 0.

    A response id already stored (a re-sent first page: the form names its response) is left as it
    is; returns the ids this call created. Run it inside the caller's transaction.
    """
    wanted = dict(new)  # a double submit in one batch names the same id twice
    if not wanted:
        return set()
    marks = ", ".join("?" for _ in wanted)
    stored = {
        str(r[0])
        for r in store.fetchall(f"SELECT response_id FROM responses WHERE response_id IN ({marks})", list(wanted))
    }
    create = [(rid, n) for rid, n in wanted.items() if rid not in stored]
    if not create:
        return set()
    now = _now()
    rows: list[Any] = [
        v for rid, n in create for v in (rid, n.survey_id, n.slug, n.customer_id, n.token_hash, now, n.wave)
    ]
    values = ", ".join(["(?, ?, ?, ?, ?, ?, 0, ?, 'web')"] * len(create))
    store.execute(
        "INSERT INTO responses (response_id, survey_id, slug, customer_id, token_hash, started_at, current_page, "
        f"wave, source) VALUES {values} ON CONFLICT (response_id) DO NOTHING",
        rows,
    )
    return {rid for rid, _ in create}


def invitation_response_id(invitation_hash: str) -> str:
    """The id of the response answered with an invitation: one per invitation, whichever form creates it."""
    return "inv_" + hashlib.sha256(f"response|{invitation_hash}".encode()).hexdigest()[:28]


def invitation_response(store: Store, invitation_hash: str, slug: str) -> str | None:
    """The response already started with this invitation, or None."""
    rows = store.fetchall(
        "SELECT response_id FROM responses WHERE token_hash = ? AND slug = ?", [invitation_hash, slug]
    )
    return str(rows[0][0]) if rows else None


def start_response(
    store: Store,
    survey_id: str,
    slug: str,
    customer_id: str | None = None,
    invitation_hash: str | None = None,
    wave: str | None = None,
) -> str:
    """A new response (or, for an invitation, the response already started with it).

    The web creates responses with their first page instead (`insert_responses` in the page's
    transaction); this is for imports, scripts and tests.
    """
    if invitation_hash is not None:
        found = invitation_response(store, invitation_hash, slug)
        if found is not None:
            return found
    response_id = invitation_response_id(invitation_hash) if invitation_hash else secrets.token_urlsafe(16)
    insert_responses(store, [(response_id, NewResponse(survey_id, slug, wave, customer_id, invitation_hash))])
    return response_id


def response_state(store: Store, response_id: str) -> dict[str, Any] | None:
    rows = store.fetchall(
        "SELECT response_id, survey_id, slug, customer_id, token_hash, current_page, completed_at FROM responses "
        "WHERE response_id = ?",
        [response_id],
    )
    if not rows:
        return None
    keys = ["response_id", "survey_id", "slug", "customer_id", "token_hash", "current_page", "completed_at"]
    return dict(zip(keys, rows[0], strict=True))


def response_with_answers(store: Store, response_id: str) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
    """`response_state` and its answers: two primary-key lookups (cheaper than one join on DuckDB)."""
    state = response_state(store, response_id)
    return state, (response_answers(store, response_id) if state is not None else [])


def response_answers(store: Store, response_id: str) -> list[tuple[str, str, str]]:
    rows = store.fetchall(
        "SELECT question_id, field, value FROM answers WHERE response_id = ? AND question_id <> ?",
        [response_id, PAGE_MARK],
    )
    return [(str(a), str(b), str(c)) for a, b, c in rows]


class AnswerRow(NamedTuple):
    """One answered field, as the `answers` table stores it."""

    question_id: str
    field: str
    value: str
    value_num: float | None = None


@dataclass(frozen=True)
class PageSave:
    """One submitted page: what `save_page` / `save_pages` write."""

    response_id: str
    page_id: str
    question_ids: tuple[str, ...]
    answers: tuple[AnswerRow, ...]
    idempotency_key: str
    next_page: int | None


def save_page(
    store: Store,
    response_id: str,
    page_id: str,
    question_ids: Sequence[str],
    answers: Sequence[AnswerRow],
    idempotency_key: str,
    next_page: int | None,
) -> bool:
    """Save one page's answers durably; False (and nothing written) when this key was saved already.

    In one transaction: answers of the page's questions are replaced by these, a page mark records
    the key, and the response moves on to `next_page` (completed when None).
    """
    item = PageSave(response_id, page_id, tuple(question_ids), tuple(answers), idempotency_key, next_page)
    return save_pages(store, [item])[0]


def save_pages(store: Store, items: Sequence[PageSave]) -> list[bool]:
    """Save several pages in ONE transaction (group commit): one durable commit for many submissions.

    Returns, per item, True when saved and False when its idempotency key was already saved (also
    by an earlier item of the same batch). Writes are set-wise — a handful of statements per batch,
    not per item — because row-by-row DML is what costs on DuckDB.
    """
    for item in items:
        if not item.idempotency_key or len(item.idempotency_key) > 100:
            raise InputError("A page submission needs an idempotency key.")
    if not items:
        return []
    now = _now()
    saved = [False] * len(items)
    with store.transaction():
        keys = sorted({item.idempotency_key for item in items})
        marks = ", ".join("?" for _ in keys)
        seen = {
            (str(r[0]), str(r[1]))
            for r in store.fetchall(
                f"SELECT DISTINCT response_id, idempotency_key FROM answers WHERE idempotency_key IN ({marks})", keys
            )
        }
        # rounds: each response at most once per round, so one INSERT never hits the same key twice
        pending = list(range(len(items)))
        while pending:
            this_round: list[int] = []
            later: list[int] = []
            in_round: set[str] = set()
            for i in pending:
                item = items[i]
                if (item.response_id, item.idempotency_key) in seen:
                    continue
                (later if item.response_id in in_round else this_round).append(i)
                in_round.add(item.response_id)
            if this_round:
                _write_round(store, [items[i] for i in this_round], now)
                for i in this_round:
                    saved[i] = True
                    seen.add((items[i].response_id, items[i].idempotency_key))
            pending = later
    return saved


def _write_round(store: Store, items: Sequence[PageSave], now: datetime) -> None:
    """Write pages of distinct responses: replace their questions' answers, move each response on."""
    pairs = [value for item in items for q in item.question_ids for value in (item.response_id, q)]
    if pairs:
        # a row-value list, so both databases delete through the primary key instead of scanning answers
        marks = ", ".join("(?, ?)" for _ in range(len(pairs) // 2))
        store.execute(f"DELETE FROM answers WHERE (response_id, question_id) IN ({marks})", pairs)
    rows: list[Any] = []
    for item in items:
        for a in [*item.answers, AnswerRow(PAGE_MARK, item.page_id, "submitted")]:
            rows.extend([item.response_id, a.question_id, a.field, a.value, a.value_num, item.idempotency_key, now])
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * (len(rows) // 7))
    store.execute(
        "INSERT INTO answers (response_id, question_id, field, value, value_num, idempotency_key, answered_at) "
        f"VALUES {values} ON CONFLICT (response_id, question_id, field) DO UPDATE SET value = EXCLUDED.value, "
        "value_num = EXCLUDED.value_num, idempotency_key = EXCLUDED.idempotency_key, answered_at = EXCLUDED.answered_at",
        rows,
    )
    moving = [item for item in items if item.next_page is not None]
    if moving:
        cases = " ".join("WHEN ? THEN CAST(? AS BIGINT)" for _ in moving)
        params: list[Any] = [v for item in moving for v in (item.response_id, item.next_page)]
        ids = [item.response_id for item in moving]
        store.execute(
            f"UPDATE responses SET current_page = CASE response_id {cases} END "
            f"WHERE response_id IN ({', '.join('?' for _ in ids)})",
            [*params, *ids],
        )
    finished = [item.response_id for item in items if item.next_page is None]
    if finished:
        marks = ", ".join("?" for _ in finished)
        store.execute(
            f"UPDATE responses SET current_page = NULL, completed_at = ? WHERE response_id IN ({marks})",
            [now, *finished],
        )
        store.execute(
            "UPDATE invitations SET used_at = ? WHERE token_hash IN "
            f"(SELECT token_hash FROM responses WHERE response_id IN ({marks}) AND token_hash IS NOT NULL)",
            [now, *finished],
        )


# ------------------------------------------------------------------------------ results
def survey_data(store: Store, slug: str) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(responses, answers, invitations issued) of every version of a survey."""
    responses = store.query(
        "SELECT r.response_id, r.survey_id, r.customer_id, r.started_at, r.completed_at, r.wave, r.source, "
        "c.kind AS customer_kind, c.country AS customer_country "
        "FROM responses r LEFT JOIN customers c ON c.customer_id = r.customer_id WHERE r.slug = ?",
        [slug],
    )
    answers = store.query(
        "SELECT a.response_id, a.question_id, a.field, a.value, a.value_num FROM answers a "
        "JOIN responses r ON r.response_id = a.response_id WHERE r.slug = ? AND a.question_id <> ?",
        [slug, PAGE_MARK],
    )
    invited = int(store.fetchall("SELECT COUNT(*) FROM invitations WHERE slug = ?", [slug])[0][0])
    return responses, answers, invited


def import_responses(store: Store, responses: pd.DataFrame, answers: pd.DataFrame) -> tuple[int, int]:
    """Insert imported responses and answers (rows already stored are skipped): (responses, answers) added."""
    with store.transaction():
        added_r = store.insert_new("responses", responses)
        added_a = store.insert_new("answers", answers)
    return added_r, added_a
