"""Advocacy records in the store: advocates and referral codes, landings, the rewards ledger, stories, matches.

Table reads and writes only; the programme's rules (attribution, fraud flags, rewards and their caps,
match profiles) are in `heedful.services.advocacy` and `heedful.services.referrals`. The rewards
ledger is append-only: every entry carries an idempotency key under a UNIQUE constraint and is
written with INSERT … ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from heedful.errors import InputError, NotFoundError
from heedful.store.backend import Store

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: easy to read aloud and type
CODE_LENGTH = 10  # 32**10 ≈ 1.1e15 codes: not guessable by trying
ADVOCATE_STATES = ("invited", "joined", "declined", "opted_out")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_code() -> str:
    """A short, unguessable referral code from a cryptographic random source."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    return code.strip().upper()


# ---------------------------------------------------------------- advocates and codes
def enrol_advocates(
    store: Store,
    advocate_ids: Iterable[str],
    *,
    status: str = "invited",
    peer_opt_in: bool = False,
    capacity: int = 3,
    source: str = "cli",
) -> pd.DataFrame:
    """Give each customer a referral code and an advocates row; customers already enrolled keep theirs."""
    if status not in ADVOCATE_STATES:
        raise InputError(f"Unknown advocate status {status!r}: use one of {', '.join(ADVOCATE_STATES)}.")
    ids = list(dict.fromkeys(str(a) for a in advocate_ids))
    for _ in range(5):  # a code collision (1 in 10^15) just retries those rows with new codes
        stored = set(_advocates_frame(store, ids)["advocate_id"])
        todo = [a for a in ids if a not in stored]
        if not todo:
            break
        now = _now()
        rows = pd.DataFrame(
            {
                "advocate_id": todo,
                "code": [new_code() for _ in todo],
                "status": status,
                "peer_opt_in": peer_opt_in,
                "capacity": capacity,
                "invited_at": now,
                "joined_at": now if status == "joined" else None,
                "updated_at": now,
                "source": source,
            }
        )
        rows["joined_at"] = pd.to_datetime(rows["joined_at"])
        store.insert_new("advocates", rows)
    return _advocates_frame(store, ids)


def _advocates_frame(store: Store, ids: list[str] | None = None) -> pd.DataFrame:
    frame = store.query("SELECT * FROM advocates")
    return frame[frame["advocate_id"].isin(ids)] if ids is not None else frame


def advocates(store: Store) -> pd.DataFrame:
    return _advocates_frame(store)


def set_advocate(
    store: Store,
    advocate_id: str,
    *,
    status: str | None = None,
    peer_opt_in: bool | None = None,
    capacity: int | None = None,
) -> None:
    """Record an advocate's answer: join or decline, opt in or out of peer introductions, capacity."""
    if status is not None and status not in ADVOCATE_STATES:
        raise InputError(f"Unknown advocate status {status!r}: use one of {', '.join(ADVOCATE_STATES)}.")
    if capacity is not None and capacity < 0:
        raise InputError("Capacity must be 0 or more.")
    if not store.fetchall("SELECT 1 FROM advocates WHERE advocate_id = ?", [advocate_id]):
        raise NotFoundError(f"Customer {advocate_id!r} is not enrolled; invite them first.")
    now = _now()
    sets: list[str] = ["updated_at = ?"]
    params: list[Any] = [now]
    if status is not None:
        sets.append("status = ?")
        params.append(status)
        if status == "joined":
            sets.append("joined_at = COALESCE(joined_at, ?)")
            params.append(now)
    if peer_opt_in is not None:
        sets.append("peer_opt_in = ?")
        params.append(peer_opt_in)
    if capacity is not None:
        sets.append("capacity = ?")
        params.append(capacity)
    store.execute(f"UPDATE advocates SET {', '.join(sets)} WHERE advocate_id = ?", [*params, advocate_id])


def advocate_by_code(store: Store, code: str) -> dict[str, Any] | None:
    frame = store.query("SELECT * FROM advocates WHERE code = ?", [normalise_code(code)])
    return None if frame.empty else frame.iloc[0].to_dict()


# ---------------------------------------------------------------- referrals and attribution
def record_landing(
    store: Store,
    code: str,
    *,
    referral_id: str | None = None,
    visitor: str | None = None,
    email: str | None = None,
    at: datetime | None = None,
) -> str:
    """A visitor arrived through /r/<code>: record the landing, at most once per visitor and UTC day.

    `referral_id` (from the visitor's cookie) naming a landing of this code is that landing. Else,
    with `visitor` (an opaque key the caller derives, already salted: never a raw address), the
    landing's id is derived from the code, the visitor and the UTC date of `at` (default now), so
    the same visitor lands once that day — concurrent requests included (the id is the primary
    key) — and again on another day. Without a visitor every call is a new landing (scripts, tests).
    """
    advocate = advocate_by_code(store, code)
    if advocate is None or advocate["status"] in ("declined", "opted_out"):
        raise NotFoundError(f"Referral code {code!r} is not known.")
    if referral_id:
        row = store.fetchall("SELECT code FROM referrals WHERE referral_id = ?", [referral_id])
        if row and row[0][0] == advocate["code"]:
            return referral_id
    when = at or _now()
    if visitor:
        day = (when.astimezone(UTC) if when.tzinfo is not None else when).date().isoformat()  # naive times are UTC
        new_id = "ref_" + hashlib.sha256(f"landing|{advocate['code']}|{visitor}|{day}".encode()).hexdigest()[:32]
    else:
        new_id = f"ref_{uuid.uuid4().hex}"
    store.insert_new(
        "referrals",
        pd.DataFrame(
            [
                {
                    "referral_id": new_id,
                    "code": advocate["code"],
                    "advocate_id": advocate["advocate_id"],
                    "referred_email": email,
                    "status": "landed",
                    "flags": "",
                    "created_at": when,
                }
            ]
        ),
    )
    return new_id


def attribute_referral(store: Store, code: str, customer_id: str, *, at: datetime | None = None) -> str:
    """Attribute a customer to a referral code (code given at checkout or on import); idempotent."""
    advocate = advocate_by_code(store, code)
    if advocate is None:
        raise NotFoundError(f"Referral code {code!r} is not known.")
    referral_id = "ref_" + hashlib.sha256(f"{advocate['code']}|{customer_id}".encode()).hexdigest()[:24]
    store.insert_new(
        "referrals",
        pd.DataFrame(
            [
                {
                    "referral_id": referral_id,
                    "code": advocate["code"],
                    "advocate_id": advocate["advocate_id"],
                    "referred_customer_id": customer_id,
                    "status": "signed_up",
                    "flags": "",
                    "created_at": at or _now(),
                }
            ]
        ),
    )
    return referral_id


def link_landing(store: Store, referral_id: str, customer_id: str) -> None:
    """The visitor behind a landing signed up (the attribution cookie names the landing)."""
    store.execute(
        "UPDATE referrals SET referred_customer_id = ?, status = 'signed_up' "
        "WHERE referral_id = ? AND referred_customer_id IS NULL",
        [customer_id, referral_id],
    )


def referrals(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM referrals")


def referral(store: Store, referral_id: str) -> pd.DataFrame:
    """The referrals row with this id (an empty frame when there is none)."""
    return store.query("SELECT * FROM referrals WHERE referral_id = ?", [referral_id])


def unlinked_landings(store: Store) -> pd.DataFrame:
    """referral_id, referred_email of landings that left an e-mail and have no customer yet."""
    return store.query(
        "SELECT referral_id, referred_email FROM referrals "
        "WHERE referred_customer_id IS NULL AND referred_email IS NOT NULL"
    )


def customer_emails(store: Store) -> pd.DataFrame:
    return store.query("SELECT customer_id, email FROM customers WHERE email IS NOT NULL")


def customers_with_referral_code(store: Store) -> pd.DataFrame:
    """Customers whose attributes mention `referral_code`: id, attributes (JSON text), and first contact times."""
    return store.query(
        "SELECT c.customer_id, c.attributes, c.first_seen_at, c.created_at, MIN(o.ordered_at) AS first_order_at "
        "FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id "
        "WHERE c.attributes LIKE ? GROUP BY c.customer_id, c.attributes, c.first_seen_at, c.created_at",
        ["%referral_code%"],
    )


def set_referral_flags(store: Store, referral_id: str, flags: str) -> None:
    store.execute("UPDATE referrals SET flags = ? WHERE referral_id = ?", [flags, referral_id])


def mark_converted(store: Store, referral_id: str, converted_at: datetime, order_id: str) -> None:
    """Record the friend's qualifying order on a referral not converted yet."""
    store.execute(
        "UPDATE referrals SET status = 'converted', converted_at = ?, order_id = ? "
        "WHERE referral_id = ? AND status <> 'converted'",
        [converted_at, order_id, referral_id],
    )


def set_landing_email(store: Store, referral_id: str, email: str) -> None:
    """Store the e-mail a visitor left on a landing not linked to a customer yet."""
    store.execute(
        "UPDATE referrals SET referred_email = ? WHERE referral_id = ? AND referred_customer_id IS NULL",
        [email, referral_id],
    )


# ---------------------------------------------------------------- the rewards ledger
def reward_exists(store: Store, idempotency_key: str) -> bool:
    return bool(store.fetchall("SELECT 1 FROM rewards WHERE idempotency_key = ?", [idempotency_key]))


def earned_in_period(store: Store, advocate_id: str, period: str) -> tuple[int, float]:
    """(count, total amount) of the advocate's `earned` entries in a period ("YYYY-MM")."""
    count, total = store.fetchall(
        "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM rewards "
        "WHERE advocate_id = ? AND period = ? AND entry = 'earned'",
        [advocate_id, period],
    )[0]
    return int(count), float(total)


def insert_reward(
    store: Store,
    *,
    idempotency_key: str,
    advocate_id: str,
    referral_id: str,
    amount: float,
    currency: str,
    period: str,
    order_id: str | None,
    entry: str = "earned",
) -> bool:
    """Append one ledger entry; False (nothing written) when its idempotency key is stored already."""
    inserted = store.execute(
        "INSERT INTO rewards (reward_id, idempotency_key, advocate_id, referral_id, amount, currency, entry, "
        "created_at, period, order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [
            f"rw_{uuid.uuid4().hex}",
            idempotency_key,
            advocate_id,
            referral_id,
            amount,
            currency,
            entry,
            _now(),
            period,
            order_id,
        ],
    )
    return inserted == 1


def reward_entry(store: Store, idempotency_key: str) -> dict[str, Any] | None:
    """The ledger entry with this idempotency key, or None."""
    found = store.query("SELECT * FROM rewards WHERE idempotency_key = ?", [idempotency_key])
    return None if found.empty else found.iloc[0].to_dict()


def append_rewards(store: Store, rows: pd.DataFrame) -> int:
    """Append ledger entries (rows without reward_id / created_at get fresh ones); keys stored already are skipped."""
    if rows.empty:
        return 0
    rows = rows.copy()
    if "reward_id" not in rows:
        rows["reward_id"] = [f"rw_{uuid.uuid4().hex}" for _ in range(len(rows))]
    if "created_at" not in rows:
        rows["created_at"] = _now()
    return store.insert_new("rewards", rows)


def ledger(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM rewards ORDER BY created_at, reward_id")


# ---------------------------------------------------------------- people and orders behind referrals
IDENTITY_COLUMNS = "customer_id, name, email, phone, attributes, first_seen_at, created_at"


def identities(store: Store) -> pd.DataFrame:
    """Every customer's identity columns (what duplicate-account checks compare)."""
    return store.query(f"SELECT {IDENTITY_COLUMNS} FROM customers")


def identity_neighbours(store: Store, ids: list[str]) -> pd.DataFrame:
    """The given customers and any other customer sharing their e-mail (case-insensitive) or phone digits."""
    own = store.query(
        f"SELECT {IDENTITY_COLUMNS} FROM customers WHERE customer_id IN ({', '.join('?' * len(ids))})", ids
    )
    emails = [e.strip().lower() for e in own["email"].dropna()]
    phones = [d[-9:] for d in (re.sub(r"\D", "", str(p)) for p in own["phone"].dropna()) if len(d) >= 7]
    clauses, params = [], []
    if emails:
        clauses.append(f"LOWER(TRIM(email)) IN ({', '.join('?' * len(emails))})")
        params += emails
    for digits in phones:
        clauses.append("phone LIKE ?")
        params.append("%" + "%".join(digits[-4:]))  # cheap pre-filter; exact comparison happens in Python
    if not clauses:
        return own
    others = store.query(f"SELECT {IDENTITY_COLUMNS} FROM customers WHERE {' OR '.join(clauses)}", params)
    return pd.concat([own, others]).drop_duplicates("customer_id").reset_index(drop=True)


ORDER_COLUMNS = "order_id, customer_id, ordered_at, amount, is_return"


def orders_of_referred(store: Store) -> pd.DataFrame:
    """The order lines of every referred customer."""
    return store.query(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id IN "
        "(SELECT referred_customer_id FROM referrals WHERE referred_customer_id IS NOT NULL)"
    )


def orders_of(store: Store, customer_id: str) -> pd.DataFrame:
    return store.query(f"SELECT {ORDER_COLUMNS} FROM orders WHERE customer_id = ?", [customer_id])


# ---------------------------------------------------------------- stories
def save_story(store: Store, row: dict[str, Any]) -> str:
    """Store a story row (its id derived from its idempotency key): the same form submitted twice stores one."""
    story_id = "st_" + hashlib.sha256(str(row["idempotency_key"]).encode()).hexdigest()[:24]
    store.insert_new("stories", pd.DataFrame([{"story_id": story_id, **row, "submitted_at": _now()}]))
    return story_id


def review_story(store: Store, story_id: str, *, approve: bool, reviewer: str) -> None:
    if not store.fetchall("SELECT 1 FROM stories WHERE story_id = ?", [story_id]):
        raise NotFoundError(f"Story {story_id!r} does not exist.")
    store.execute(
        "UPDATE stories SET status = ?, reviewed_by = ?, reviewed_at = ? WHERE story_id = ?",
        ["approved" if approve else "rejected", reviewer, _now(), story_id],
    )


def stories(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM stories ORDER BY submitted_at, story_id")


# ---------------------------------------------------------------- peer matches and introductions
def active_load(store: Store) -> pd.Series:
    """Per advocate: customers currently matched to them (proposed or introduced)."""
    rows = store.query(
        "SELECT advocate_id, COUNT(*) AS n FROM peer_matches "
        "WHERE arm = 'matched' AND status IN ('proposed', 'introduced') GROUP BY advocate_id"
    )
    return rows.set_index("advocate_id")["n"] if not rows.empty else pd.Series(dtype=int)


def save_matches(store: Store, matches: pd.DataFrame, arms: pd.Series) -> int:
    """Store proposed matches; customers drawn into the holdout are stored as `holdout` (not introduced)."""
    if matches.empty:
        return 0
    now = _now()
    arm = arms.reindex(matches["customer_id"]).fillna("matched").to_numpy()
    rows = pd.DataFrame(
        {
            "match_id": ["pm_" + hashlib.sha256(c.encode()).hexdigest()[:24] for c in matches["customer_id"]],
            "customer_id": matches["customer_id"].to_numpy(),
            "advocate_id": matches["advocate_id"].to_numpy(),
            "score": matches["score"].astype(float).to_numpy(),
            "reasons": [json.dumps(r) for r in matches["reasons"]],
            "status": ["holdout" if a == "holdout" else "proposed" for a in arm],
            "outcome": "unknown",
            "created_at": now,
            "arm": arm,
            "reason": matches["need"].to_numpy() if "need" in matches else None,
        }
    )
    return store.insert_new("peer_matches", rows)


def peer_matches(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM peer_matches ORDER BY created_at, match_id")


def record_introduction(store: Store, match_id: str, *, status: str = "introduced") -> None:
    if status not in ("introduced", "declined", "completed"):
        raise InputError("An introduction is introduced, declined or completed.")
    found = store.fetchall("SELECT arm FROM peer_matches WHERE match_id = ?", [match_id])
    if not found:
        raise NotFoundError(f"Match {match_id!r} does not exist.")
    if found[0][0] == "holdout":
        raise InputError("This customer is in the holdout group: introducing them would spoil the comparison.")
    store.execute(
        "UPDATE peer_matches SET status = ?, introduced_at = COALESCE(introduced_at, ?) WHERE match_id = ?",
        [status, _now(), match_id],
    )


def record_outcomes(store: Store, outcomes: pd.DataFrame) -> int:
    """Write retained / churned for matches whose outcome window has passed."""
    done = outcomes[outcomes["observed"]]
    now = _now()
    for rec in done.itertuples(index=False):
        store.execute(
            "UPDATE peer_matches SET outcome = ?, outcome_at = ? WHERE customer_id = ? AND outcome = 'unknown'",
            ["retained" if rec.retained else "churned", now, rec.customer_id],
        )
    return len(done)


# ---------------------------------------------------------------- reading the inputs of the analyses
def _optional(store: Store, sql: str, table: str, params: list[Any] | None = None) -> pd.DataFrame:
    return store.query(sql, params) if table in store.list_tables() else pd.DataFrame()


def customer_value(store: Store) -> pd.DataFrame:
    return _optional(
        store, "SELECT customer_id, clv, p_alive, segment, churn_risk FROM customer_value", "customer_value"
    )


def churn_scores(store: Store) -> pd.DataFrame:
    """retain's latest churn scores (customer_id, churn_risk); empty when they were never computed."""
    return _optional(store, "SELECT customer_id, churn_risk FROM churn_scores", "churn_scores")


def signal_tables(store: Store) -> dict[str, pd.DataFrame]:
    """customers, value, feedback sentiment, orders, referrals and enrolment: the stored inputs of advocate ranking."""
    return {
        "customers": store.query("SELECT customer_id, kind FROM customers"),
        "value": customer_value(store),
        "feedback": store.query(
            "SELECT f.customer_id, e.sentiment FROM feedback f JOIN feedback_enriched e ON e.feedback_id = f.feedback_id "
            "WHERE f.customer_id IS NOT NULL"
        ),
        "orders": store.query(
            "SELECT customer_id, ordered_at, amount, is_return FROM orders WHERE customer_id IS NOT NULL"
        ),
        "referrals": store.query("SELECT advocate_id, status FROM referrals"),
        "enrolment": store.query("SELECT advocate_id, status FROM advocates"),
    }


def first_orders(store: Store) -> pd.DataFrame:
    """customer_id, first_order_at (first purchase, returns left out) of every known customer who ordered."""
    return store.query(
        "SELECT customer_id, MIN(ordered_at) AS first_order_at FROM orders "
        "WHERE customer_id IS NOT NULL AND NOT is_return GROUP BY customer_id"
    )


def latest_order_at(store: Store) -> pd.Timestamp | None:
    """The time of the latest order (the "now" of the data), None without orders."""
    latest = store.fetchall("SELECT MAX(ordered_at) FROM orders")[0][0]
    return pd.Timestamp(latest) if latest is not None else None


def matched_customers(store: Store) -> set[str]:
    """Customers in a stored peer match (either arm)."""
    return {str(r[0]) for r in store.fetchall("SELECT DISTINCT customer_id FROM peer_matches")}


_ID_LIST = "SELECT UNNEST(CAST(? AS VARCHAR[]))"  # a list parameter as a set of ids, on DuckDB and PostgreSQL


def products_bought(store: Store, customer_ids: list[str]) -> pd.DataFrame:
    """customer_id, product (name, else id), q (quantity bought, returns left out) of these customers."""
    return store.query(
        "SELECT customer_id, COALESCE(product_name, product_id) AS product, SUM(quantity) AS q FROM orders "
        f"WHERE customer_id IN ({_ID_LIST}) AND NOT is_return GROUP BY 1, 2",
        [customer_ids],
    )


def customer_places(store: Store, customer_ids: list[str]) -> pd.DataFrame:
    """customer_id, country, attributes (JSON text) of these customers."""
    people = store.query("SELECT customer_id, country, attributes FROM customers")
    return people[people["customer_id"].isin(set(customer_ids))]


def feedback_themes(store: Store) -> pd.DataFrame:
    """customer_id, themes (stored text) of every enriched feedback item with themes by a known customer."""
    return store.query(
        "SELECT f.customer_id, e.themes FROM feedback f JOIN feedback_enriched e ON e.feedback_id = f.feedback_id "
        "WHERE f.customer_id IS NOT NULL AND e.themes IS NOT NULL AND e.themes <> ''"
    )


def match_outcome_inputs(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None]:
    """Stored matches (both arms), their customers' order lines, and the latest order time (the "now" of the data)."""
    matches = store.query("SELECT customer_id, arm, created_at FROM peer_matches WHERE arm IS NOT NULL")
    orders = store.query(
        "SELECT customer_id, ordered_at, amount, is_return FROM orders "
        "WHERE customer_id IN (SELECT customer_id FROM peer_matches)"
    )
    return matches, orders, latest_order_at(store)


def customer_records(store: Store, customer_id: str) -> dict[str, pd.DataFrame]:
    """One customer's advocacy rows: enrolment, referrals made, referred by, ledger sums, matches, stories."""
    return {
        "advocate": store.query("SELECT * FROM advocates WHERE advocate_id = ?", [customer_id]),
        "made": store.query("SELECT * FROM referrals WHERE advocate_id = ? ORDER BY created_at", [customer_id]),
        "referred_by": store.query(
            "SELECT advocate_id, status, created_at FROM referrals WHERE referred_customer_id = ?", [customer_id]
        ),
        "book": store.query(
            "SELECT entry, SUM(amount) AS amount FROM rewards WHERE advocate_id = ? GROUP BY entry", [customer_id]
        ),
        "matches": store.query(
            "SELECT * FROM peer_matches WHERE customer_id = ? OR advocate_id = ? ORDER BY created_at",
            [customer_id, customer_id],
        ),
        "stories": store.query("SELECT story_id, title, status FROM stories WHERE advocate_id = ?", [customer_id]),
    }
