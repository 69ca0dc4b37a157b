"""Data-subject rights over the store: export everything held about a person, erase them, retention of
raw text, and a customer profile with its free text PII-redacted for display.

`store.privacy` knows where a person is referenced and does the table reads and writes; this module
runs the use cases: it finds the person, chooses the erasure pseudonym, keeps an erasure and its audit
record in one transaction, and redacts text with `heedful.listen.pii`.

The web app (admins) previews an erasure (`erasure_preview`: the erase itself, rolled back), asks for the
customer id as confirmation and erases, exports (`export_for`) and records each in the audit log with the
admin's name; its cached pages (customer search, overview) are keyed on table counts and so refresh.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from heedful.errors import InputError
from heedful.listen.pii import redact
from heedful.services import accounts
from heedful.services.accounts import UserPublic
from heedful.store import Store
from heedful.store import privacy as repo
from heedful.store.privacy import ErasureResult as ErasureResult
from heedful.store.privacy import Subject as Subject
from heedful.store.privacy import find_subject as find_subject

RETAINED_MARK = "[text removed after retention period]"


def export_subject(store: Store, who: str) -> dict[str, Any]:
    """Everything held about a person (customer id or e-mail), as one JSON-ready document.

    `tables` holds every row that references the person (by id, e-mail or name) and the rows that
    depend on those (enrichment of their feedback, answers of their responses); `mentions` holds
    other rows whose text mentions their id, e-mail, name or phone.
    """
    subject = repo.find_subject(store, who)
    tables = repo.rows_about(store, subject)
    mentions = repo.rows_mentioning(store, subject, skip=tables)
    return {
        "subject": subject.to_dict(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "tables": tables,
        "mentions": mentions,
        "rows": sum(len(v) for v in tables.values()) + sum(len(v) for v in mentions.values()),
    }


def pseudonym(customer_id: str) -> str:
    """A salted-hash stand-in for the person on the rows kept for accounting; the salt is random per
    erasure and never stored, so the pseudonym cannot be linked back by hashing guesses."""
    salt = secrets.token_bytes(16)
    return "erased-" + hashlib.sha256(salt + customer_id.encode()).hexdigest()[:16]


def export_for(store: Store, who: str, *, user: UserPublic, ip: str | None = None) -> dict[str, Any]:
    """`export_subject` for a signed-in admin (web app, API), recorded in the audit log: who exported
    whose data (the customer id, which a later erasure scrubs) and how many rows."""
    doc = export_subject(store, who)
    accounts.record_audit(
        store, "privacy.export", user=user, target=doc["subject"]["customer_id"], detail={"rows": doc["rows"]}, ip=ip
    )
    return doc


class _DryRun(Exception):
    """Raised inside the preview's transaction so that it rolls back."""


def erasure_preview(store: Store, who: str) -> tuple[Subject, ErasureResult]:
    """What erasing the person would change, per table: the erase itself (`store.privacy.erase_rows`) run
    in a transaction that is then rolled back, so the counts are the ones `erase_subject` will give
    (as long as the data do not change meanwhile) and nothing is written."""
    subject = repo.find_subject(store, who)
    found: list[ErasureResult] = []
    try:
        with store.transaction():
            found.append(repo.erase_rows(store, subject, "erased-preview"))
            raise _DryRun
    except _DryRun:
        pass
    return subject, found[0]


def erase_subject(
    store: Store,
    who: str,
    *,
    actor: str = "cli",
    user: UserPublic | None = None,
    ip: str | None = None,
    confirm: str | None = None,
) -> ErasureResult:
    """Erase a person from every table (see `heedful.store.privacy`) and record it in the audit log
    (pseudonym and counts, no personal data), in one transaction; returns counts per table.

    `user` and `ip` (the web app and API) name the admin in the audit row; `confirm`, when given, must
    be the person's customer id (what the admin typed to confirm), else nothing is erased (InputError).
    """
    subject = repo.find_subject(store, who)
    if confirm is not None and confirm.strip() != subject.customer_id:
        raise InputError(
            f"Nothing was erased: to confirm, type the customer id {subject.customer_id!r} exactly "
            f"(you typed {confirm.strip()[:80]!r})."
        )
    with store.transaction():
        result = repo.erase_rows(store, subject, pseudonym(subject.customer_id))
        if user is None:
            repo.record_erasure(store, result, actor)
        else:
            detail = {"deleted": result.deleted, "pseudonymised": result.pseudonymised, "redacted": result.redacted}
            themselves = bool(subject.email) and user.email.lower() == str(subject.email).lower()
            accounts.record_audit(  # an admin erasing themselves is not named again
                store, "privacy.erase", user=None if themselves else user, target=result.pseudonym, detail=detail, ip=ip
            )
    return result


def apply_retention(store: Store, days: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Replace raw `feedback.text` older than `days` by its PII-redacted version.

    The redacted text (from feedback_enriched.redacted_text where classified, else redacted now with
    `heedful.listen.pii`) stays, and so do the enrichment results; the raw text is gone. Idempotent.
    """
    if days < 0:
        raise InputError("--days must be 0 or more.")
    cutoff = (now or datetime.now(UTC).replace(tzinfo=None)) - timedelta(days=days)
    rows = repo.feedback_texts_before(store, cutoff)
    changed: dict[Any, str] = {}
    for feedback_id, text, redacted in rows:
        new = (redacted if redacted else redact(text or "")) or RETAINED_MARK
        if new != text:
            changed[feedback_id] = new
    repo.replace_feedback_texts(store, changed, cutoff)
    return {"cutoff": cutoff.isoformat(timespec="seconds"), "checked": len(rows), "redacted": len(changed)}


def redact_profile(profile: dict[str, Any]) -> dict[str, Any]:
    """A customer profile for display: feedback titles/texts and free-text answers PII-redacted.

    Used by `heedful customer show` (unless `--no-redact`) and the web profile page and API.
    """
    out = dict(profile)
    out["feedback"] = [
        {**f, **{k: redact(f[k]) for k in ("title", "text") if isinstance(f.get(k), str)}}
        for f in profile.get("feedback") or []
    ]
    out["survey_answers"] = [
        {**a, "value": redact(a["value"])} if isinstance(a.get("value"), str) else a
        for a in profile.get("survey_answers") or []
    ]
    return out
