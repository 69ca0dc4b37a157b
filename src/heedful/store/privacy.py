"""Where a person is referenced, and the table reads and writes that export and erase them.

Where a person is referenced is derived from the canonical schema (`store/schema.py`): columns named
like `customer_id`, `advocate_id`, `referred_customer_id` hold their id; `email`, `referred_email`,
`actor` their e-mail; `author`, `author_name` their name. Dependent rows follow (feedback_enriched by
feedback_id, answers by response_id). Free text anywhere (feedback, answers, quarantined raw rows,
JSON attributes, audit details) is searched for the person's id, e-mail, name and phone.

`erase_rows` (inside the caller's transaction):
- deleted: the customer row, their feedback and its enrichment, survey responses with answers and
  invitations, advocate enrolment and stories, and every derived per-customer table (customer_value,
  churn_scores, offers and any other table with a `customer_id` column not kept below);
- kept for accounting but de-identified: orders, referrals, rewards and peer_matches get the caller's
  pseudonym instead of the id and their personal columns nulled;
- every remaining text column of every table has mentions of the id, e-mail, name or phone replaced
  by `[erased]`; quarantined raw rows mentioning them are deleted.
The use cases (`heedful privacy export / erase / retention`) are in `heedful.services.privacy`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from heedful.errors import NotFoundError
from heedful.store.backend import Store
from heedful.store.schema import TABLES

ERASED = "[erased]"
ID_COLUMNS = ("customer_id", "advocate_id", "referred_customer_id")
EMAIL_COLUMNS = ("email", "referred_email", "actor", "recipient")
NAME_COLUMNS = ("author", "author_name")
# Tables kept for accounting / programme statistics: the person's id becomes a pseudonym.
PSEUDONYMISED: dict[str, tuple[str, ...]] = {
    "orders": ("customer_id",),
    "referrals": ("advocate_id", "referred_customer_id"),
    "rewards": ("advocate_id",),
    "peer_matches": ("customer_id", "advocate_id"),
}
# Personal columns nulled on the kept rows that reference the person.
NULLED_ON_KEPT: dict[str, tuple[str, ...]] = {"referrals": ("referred_email",), "peer_matches": ("reasons",)}
# Name columns matched only on rows not linked to a person id (a namesake's rows stay theirs).
NAME_ONLY_WITHOUT_ID: dict[str, str] = {"feedback": "customer_id", "stories": "advocate_id"}
MIN_SWEEP_LEN = 4  # identifiers shorter than this are not searched for inside free text
# Keys of a quarantined raw row that hold a person's id: a short id ("42") is matched only as the whole value of
# such a field (as a substring it would match prices and quantities; in any field, other customers' rows).
PERSON_KEY_HINT = r"(customer|client|user|member|account|buyer|shopper|contact|person|respondent|email|e-mail|mail)"


@dataclass(frozen=True)
class Subject:
    """The person: their customer id and the personal identifiers held on the customer row."""

    customer_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None

    def identifiers(self) -> list[str]:
        values = [self.customer_id, self.email, self.name, self.phone]
        return [v for v in values if v and len(v.strip()) >= MIN_SWEEP_LEN]

    def short_identifiers(self) -> list[str]:
        """Identifiers too short to search for inside free text ("42"), matched as whole field values instead."""
        values = [self.customer_id, self.email, self.name, self.phone]
        return [v.strip() for v in values if v and 0 < len(v.strip()) < MIN_SWEEP_LEN]

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "name": self.name, "email": self.email, "phone": self.phone}


@dataclass
class ErasureResult:
    pseudonym: str
    deleted: dict[str, int] = field(default_factory=dict)
    pseudonymised: dict[str, int] = field(default_factory=dict)
    redacted: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pseudonym": self.pseudonym,
            "deleted": self.deleted,
            "pseudonymised": self.pseudonymised,
            "redacted": self.redacted,
        }


def references() -> list[tuple[str, str, str]]:
    """(table, column, kind) for every schema column that names a person; kind is id | email | name."""
    refs: list[tuple[str, str, str]] = []
    for table in TABLES:
        for col in table.column_names:
            if col in ID_COLUMNS:
                refs.append((table.name, col, "id"))
            elif col in EMAIL_COLUMNS:
                refs.append((table.name, col, "email"))
            elif col in NAME_COLUMNS:
                refs.append((table.name, col, "name"))
    return refs


def find_subject(store: Store, who: str) -> Subject:
    """The person with customer id `who`, else with e-mail `who`; NotFoundError when nothing refers to them."""
    rows = store.fetchall("SELECT customer_id, name, email, phone FROM customers WHERE customer_id = ?", [who])
    if not rows and "@" in who:
        rows = store.fetchall(
            "SELECT customer_id, name, email, phone FROM customers WHERE lower(email) = lower(?)", [who]
        )
    if rows:
        cid, name, email, phone = rows[0]
        return Subject(str(cid), name, email, phone)
    present = set(store.list_tables())
    for table, column, kind in references():
        if (
            kind == "id"
            and table in present
            and store.fetchall(f"SELECT 1 FROM {table} WHERE {column} = ? LIMIT 1", [who])
        ):
            return Subject(who)
    raise NotFoundError(f"No customer {who!r} (by id or e-mail) is held in this store.")


def _value(kind: str, subject: Subject) -> str | None:
    return {"id": subject.customer_id, "email": subject.email, "name": subject.name}[kind]


def _records(store: Store, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    frame = store.query(sql, params)
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def _text_columns(store: Store, table: str) -> list[str]:
    schema_filter = "current_schema()" if store.dialect == "postgres" else "'main'"
    rows = store.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = ? AND table_schema = {schema_filter} ORDER BY ordinal_position",
        [table],
    )
    return [str(name) for name, dtype in rows if str(dtype).lower() in ("varchar", "text", "character varying")]


def _mention_clause(columns: list[str], n_idents: int) -> str:
    return " OR ".join(f'strpos(lower("{c}"), lower(?)) > 0' for c in columns for _ in range(n_idents))


def _user_tables(store: Store) -> list[str]:
    """Tables holding data: not heedful's own bookkeeping, nor the temporary views Ibis registers on a
    connection for in-memory frames (`ibis_pandas_memtable_…`: a long-running server has them)."""
    return [t for t in store.list_tables() if not t.startswith(("_hf_", "ibis_")) and t != "schema_migrations"]


def rows_about(store: Store, subject: Subject) -> dict[str, list[dict[str, Any]]]:
    """Every row that references the person (by id, e-mail or name), per table, and the rows that depend
    on those (enrichment of their feedback, answers of their responses)."""
    present = set(store.list_tables())
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in [t.name for t in TABLES if t.name in present]:
        conds: list[str] = []
        params: list[Any] = []
        for t, col, kind in references():
            value = _value(kind, subject)
            if t == table and value:
                if kind == "id":
                    conds.append(f"{col} = ?")
                elif kind == "name" and table in NAME_ONLY_WITHOUT_ID:
                    # a name alone may be a namesake's: only rows not linked to another person
                    conds.append(f"(lower({col}) = lower(?) AND {NAME_ONLY_WITHOUT_ID[table]} IS NULL)")
                else:
                    conds.append(f"lower({col}) = lower(?)")
                params.append(value)
        if not conds:
            continue
        rows = _records(store, f"SELECT * FROM {table} WHERE {' OR '.join(conds)}", params)
        if rows:
            tables[table] = rows
    feedback_ids = [r["feedback_id"] for r in tables.get("feedback", [])]
    response_ids = [r["response_id"] for r in tables.get("responses", [])]
    for table, key, ids in (
        ("feedback_enriched", "feedback_id", feedback_ids),
        ("answers", "response_id", response_ids),
    ):
        if ids:
            marks = ", ".join("?" for _ in ids)
            tables[table] = _records(store, f"SELECT * FROM {table} WHERE {key} IN ({marks})", ids)
    return tables


def rows_mentioning(
    store: Store, subject: Subject, skip: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Rows of any table whose text mentions the person's id, e-mail, name or phone, per table; rows
    equal to one in `skip` (those `rows_about` found) are left out."""
    seen = {t: {json.dumps(r, sort_keys=True, default=str) for r in rows} for t, rows in (skip or {}).items()}
    mentions: dict[str, list[dict[str, Any]]] = {}
    idents = subject.identifiers()
    for table in _user_tables(store):
        cols = _text_columns(store, table)
        if not cols or not idents:
            continue
        rows = _records(store, f"SELECT * FROM {table} WHERE {_mention_clause(cols, len(idents))}", idents * len(cols))
        rows = [r for r in rows if json.dumps(r, sort_keys=True, default=str) not in seen.get(table, set())]
        if rows:
            mentions[table] = rows
    return mentions


def _person_field_regex(value: str) -> str:
    """A raw JSON record's field that names a person (PERSON_KEY_HINT) and holds exactly `value`."""
    return rf'"[^"]*{PERSON_KEY_HINT}[^"]*"\s*:\s*"?{_like_regex(value)}"?\s*[,}}]'


def _like_regex(text: str) -> str:
    """`text` as a literal in a regular expression understood by both RE2 (DuckDB) and PostgreSQL."""
    return "".join("\\" + ch if ch in r".^$*+?()[]{}|\/" else ch for ch in text)


def erase_rows(store: Store, subject: Subject, pseudonym: str) -> ErasureResult:
    """Erase a person from every table (see the module docstring), `pseudonym` standing in for them on
    the rows kept; returns counts per table. Call it inside a transaction."""
    cid = subject.customer_id
    result = ErasureResult(pseudonym=pseudonym)
    present = set(store.list_tables())
    names = [v for v in (subject.name, subject.email) if v]

    def count(bucket: dict[str, int], key: str, n: int) -> None:
        if n > 0:
            bucket[key] = bucket.get(key, 0) + n

    def delete_by_ids(tables: tuple[str, ...], column: str, ids: list[Any]) -> None:
        """Delete the rows whose `column` is one of `ids` from each table, in order (dependants first)."""
        for ids_chunk in _chunks(ids):
            marks = ", ".join("?" for _ in ids_chunk)
            for table in tables:
                n = store.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", ids_chunk)
                count(result.deleted, table, n)

    # Their feedback (by id, or by their name / e-mail as author) and its enrichment.
    author = " OR ".join("lower(author) = lower(?)" for _ in names)
    where_fb = f"customer_id = ?{f' OR (customer_id IS NULL AND ({author}))' if author else ''}"
    fb_ids = [r[0] for r in store.fetchall(f"SELECT feedback_id FROM feedback WHERE {where_fb}", [cid, *names])]
    delete_by_ids(("feedback_enriched", "feedback"), "feedback_id", fb_ids)
    # Their survey responses, answers and invitations.
    resp_ids = [r[0] for r in store.fetchall("SELECT response_id FROM responses WHERE customer_id = ?", [cid])]
    delete_by_ids(("answers", "responses"), "response_id", resp_ids)
    # Their follow-up cases (theirs, or opened from their feedback or answers: the evidence quotes them),
    # with each case's history.
    if "cases" in present:
        case_ids = {r[0] for r in store.fetchall("SELECT case_id FROM cases WHERE customer_id = ?", [cid])}
        for trigger, ids in (("feedback", fb_ids), ("survey", resp_ids)):
            for ids_chunk in _chunks([str(i) for i in ids]):
                marks = ", ".join("?" for _ in ids_chunk)
                sql = f"SELECT case_id FROM cases WHERE trigger = ? AND trigger_id IN ({marks})"
                case_ids.update(r[0] for r in store.fetchall(sql, [trigger, *ids_chunk]))
        delete_by_ids(("case_events", "cases"), "case_id", sorted(case_ids))
        if "outbox" in present:  # notifications about those cases quote them
            delete_by_ids(("outbox",), "subject_id", sorted(case_ids))
    if subject.name:
        count(
            result.deleted,
            "stories",
            store.execute(
                "DELETE FROM stories WHERE advocate_id IS NULL AND lower(author_name) = lower(?)", [subject.name]
            ),
        )
    # Kept rows: pseudonym instead of the id, personal columns nulled.
    for table, cols in PSEUDONYMISED.items():
        if table not in present:
            continue
        for col in cols:
            nulls = "".join(f", {c} = NULL" for c in NULLED_ON_KEPT.get(table, ()))
            n = store.execute(f"UPDATE {table} SET {col} = ?{nulls} WHERE {col} = ?", [result.pseudonym, cid])
            count(result.pseudonymised, table, n)
    if subject.email and "referrals" in present:
        n = store.execute(
            "UPDATE referrals SET referred_email = NULL WHERE lower(referred_email) = lower(?)", [subject.email]
        )
        count(result.pseudonymised, "referrals", n)
    # Every other table with a person-id column: their rows go (customers, advocates, stories,
    # invitations, customer_value, churn_scores, offers, and tables added later).
    for table, col, kind in references():
        if kind != "id" or table in PSEUDONYMISED or table not in present:
            continue
        count(result.deleted, table, store.execute(f"DELETE FROM {table} WHERE {col} = ?", [cid]))
    if subject.email:
        if "users" in present:
            n = store.execute(
                "UPDATE users SET email = ?, active = FALSE, password_hash = 'erased' WHERE lower(email) = lower(?)",
                [f"{result.pseudonym}@invalid", subject.email],
            )
            count(result.pseudonymised, "users", n)
        if "audit_log" in present:
            n = store.execute("UPDATE audit_log SET actor = NULL WHERE lower(actor) = lower(?)", [subject.email])
            count(result.pseudonymised, "audit_log", n)
        # their notification subscriptions and the messages addressed to them (those about their cases went
        # above, with every table's rows holding their customer id)
        for table, col in (("subscriptions", "email"), ("outbox", "recipient")):
            if table in present:
                n = store.execute(f"DELETE FROM {table} WHERE lower({col}) = lower(?)", [subject.email])
                count(result.deleted, table, n)
    idents = subject.identifiers()
    if idents and "quarantine" in present:
        n = store.execute(f"DELETE FROM quarantine WHERE {_mention_clause(['raw'], len(idents))}", idents)
        count(result.deleted, "quarantine", n)
    shorts = subject.short_identifiers()
    if shorts and "quarantine" in present:
        # regexp_replace(...) <> raw: "the pattern matches", written the same way on DuckDB and PostgreSQL
        clause = " OR ".join("regexp_replace(raw, ?, '', 'i') <> raw" for _ in shorts)
        n = store.execute(f"DELETE FROM quarantine WHERE {clause}", [_person_field_regex(v) for v in shorts])
        count(result.deleted, "quarantine", n)
    # Sweep: mentions in any remaining text column of any table.
    for table in _user_tables(store):
        for col in _text_columns(store, table) if idents else []:
            # one pass per column: every identifier replaced, only rows that mention one touched
            replaced = f'"{col}"'
            params: list[Any] = []
            for ident in idents:
                replaced = f"regexp_replace({replaced}, ?, ?, 'gi')"
                params += [_like_regex(ident), ERASED]  # innermost first: the id and e-mail before the name
            n = store.execute(
                f'UPDATE {table} SET "{col}" = {replaced} WHERE {_mention_clause([col], len(idents))}',
                [*params, *idents],
            )
            count(result.redacted, f"{table}.{col}", n)
    return result


def _chunks(ids: list[Any], size: int = 500) -> list[list[Any]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def record_erasure(store: Store, result: ErasureResult, actor: str) -> None:
    """An audit_log row `privacy.erase` with the pseudonym and the counts, without personal data."""
    if "audit_log" not in set(store.list_tables()):
        return
    detail = {"deleted": result.deleted, "pseudonymised": result.pseudonymised, "redacted": result.redacted}
    store.execute(
        "INSERT INTO audit_log (audit_id, occurred_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [
            uuid.uuid4().hex,
            datetime.now(UTC).replace(tzinfo=None),
            actor,
            "privacy.erase",
            result.pseudonym,
            json.dumps(detail),
        ],
    )


def feedback_texts_before(store: Store, cutoff: datetime) -> list[tuple[Any, str | None, str | None]]:
    """(feedback_id, raw text, redacted text or None) of the feedback created before `cutoff`."""
    return [
        (r[0], r[1], r[2])
        for r in store.fetchall(
            "SELECT f.feedback_id, f.text, e.redacted_text FROM feedback f "
            "LEFT JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE f.created_at < ?",
            [cutoff],
        )
    ]


def replace_feedback_texts(store: Store, texts: dict[Any, str], cutoff: datetime) -> None:
    """Set these feedback texts, and give the enrichment of feedback created before `cutoff` that has
    no redacted text the stored text as its redacted text; in one transaction."""
    with store.transaction():
        for feedback_id, text in texts.items():
            store.execute("UPDATE feedback SET text = ? WHERE feedback_id = ?", [text, feedback_id])
        store.execute(
            "UPDATE feedback_enriched SET redacted_text = (SELECT text FROM feedback f "
            "WHERE f.feedback_id = feedback_enriched.feedback_id) WHERE redacted_text IS NULL AND feedback_id IN "
            "(SELECT feedback_id FROM feedback WHERE created_at < ?)",
            [cutoff],
        )
