"""Advocacy records in the store: advocates and referral codes, landings, the rewards ledger, stories, matches.

The rewards ledger is append-only and exactly-once: every entry carries an idempotency key under a
UNIQUE constraint and is written with INSERT … ON CONFLICT DO NOTHING, inside a transaction that
also holds a per-advocate lock (PostgreSQL advisory lock; a process-level lock on DuckDB, which
allows one writing process per file) so the monthly caps hold under concurrent requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from heedful.advocacy.fraud import flag_referrals, normalise_email
from heedful.advocacy.rules import ProgrammeRules, cap_allows, expected_rewards, qualifying_orders, reward_key
from heedful.advocacy.stories import check_scopes
from heedful.errors import InputError, NotFoundError
from heedful.store.backend import Store

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: easy to read aloud and type
CODE_LENGTH = 10  # 32**10 ≈ 1.1e15 codes: not guessable by trying
ADVOCATE_STATES = ("invited", "joined", "declined", "opted_out")
_DUCK_LOCKS: dict[str, threading.Lock] = {}
_DUCK_LOCKS_GUARD = threading.Lock()


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
    store: Store, code: str, *, referral_id: str | None = None, email: str | None = None, at: datetime | None = None
) -> str:
    """A visitor arrived through /r/<code>: record it once per visitor (the cookie carries the id)."""
    advocate = advocate_by_code(store, code)
    if advocate is None or advocate["status"] in ("declined", "opted_out"):
        raise NotFoundError(f"Referral code {code!r} is not known.")
    if referral_id:
        row = store.fetchall("SELECT code FROM referrals WHERE referral_id = ?", [referral_id])
        if row and row[0][0] == advocate["code"]:
            return referral_id
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
                    "created_at": at or _now(),
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


def _link_landings_by_email(store: Store) -> int:
    landed = store.query(
        "SELECT referral_id, referred_email FROM referrals "
        "WHERE referred_customer_id IS NULL AND referred_email IS NOT NULL"
    )
    if landed.empty:
        return 0
    people = store.query("SELECT customer_id, email FROM customers WHERE email IS NOT NULL")
    by_email = {normalise_email(e): c for c, e in zip(people["customer_id"], people["email"], strict=True)}
    linked = 0
    for rec in landed.itertuples(index=False):
        customer = by_email.get(normalise_email(rec.referred_email))
        if customer is not None:
            link_landing(store, rec.referral_id, customer)
            linked += 1
    return linked


def _attribute_codes_on_customers(store: Store) -> int:
    """Customers imported with a referral code in their attributes (`referral_code`) are attributed.

    The code was given when they signed up, so the referral dates from their first contact: the
    earliest of first seen, first order and when heedful stored them (an import may come late).
    """
    rows = store.query(
        "SELECT c.customer_id, c.attributes, c.first_seen_at, c.created_at, MIN(o.ordered_at) AS first_order_at "
        "FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id "
        "WHERE c.attributes LIKE ? GROUP BY c.customer_id, c.attributes, c.first_seen_at, c.created_at",
        ["%referral_code%"],
    )
    added = 0
    for rec in rows.itertuples(index=False):
        try:
            code = json.loads(rec.attributes).get("referral_code")
        except (ValueError, AttributeError):
            continue
        if not code or advocate_by_code(store, str(code)) is None:
            continue
        when = min(pd.Timestamp(t) for t in (rec.first_seen_at, rec.first_order_at, rec.created_at) if pd.notna(t))
        before = store.count("referrals")
        attribute_referral(store, str(code), str(rec.customer_id), at=when.to_pydatetime())
        added += store.count("referrals") - before
    return added


# ---------------------------------------------------------------- the rewards ledger
@contextmanager
def advocate_lock(store: Store, advocate_id: str) -> Iterator[None]:
    """A transaction that holds the advocate's lock: cap checks and the insert see no interleaving."""
    if store.dialect == "postgres":
        with store.transaction():
            key = int.from_bytes(
                hashlib.sha256(f"heedful-advocate:{advocate_id}".encode()).digest()[:8], "big", signed=True
            )
            store.fetchall("SELECT pg_advisory_xact_lock(?)", [key])
            yield
        return
    with _duck_lock(store), store.transaction():
        yield


def _duck_lock(store: Store) -> threading.Lock:
    path = store.location.path or ":memory:"
    path = path if path == ":memory:" else os.path.realpath(os.path.expanduser(path))
    with _DUCK_LOCKS_GUARD:
        return _DUCK_LOCKS.setdefault(path, threading.Lock())


@dataclass(frozen=True)
class Grant:
    """Outcome of one attempt to credit an advocate: earned (written now), duplicate or capped."""

    status: str
    idempotency_key: str
    amount: float


def grant_reward(
    store: Store,
    *,
    advocate_id: str,
    friend_id: str,
    referral_id: str,
    order_id: str | None,
    period: str,
    rules: ProgrammeRules,
) -> Grant:
    """Credit an advocate for a friend's first order, exactly once and within the monthly caps.

    Safe to call again and again (retries, re-imports, double clicks) and from concurrent requests.
    """
    key = reward_key(friend_id)
    with advocate_lock(store, advocate_id):
        if store.fetchall("SELECT 1 FROM rewards WHERE idempotency_key = ?", [key]):
            return Grant("duplicate", key, 0.0)
        count, total = store.fetchall(
            "SELECT COUNT(*), COALESCE(SUM(amount), 0) FROM rewards "
            "WHERE advocate_id = ? AND period = ? AND entry = 'earned'",
            [advocate_id, period],
        )[0]
        if not cap_allows(rules, int(count), float(total), rules.reward_amount):
            return Grant("capped", key, 0.0)
        inserted = store.execute(
            "INSERT INTO rewards (reward_id, idempotency_key, advocate_id, referral_id, amount, currency, entry, "
            "created_at, period, order_id) VALUES (?, ?, ?, ?, ?, ?, 'earned', ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                f"rw_{uuid.uuid4().hex}",
                key,
                advocate_id,
                referral_id,
                rules.reward_amount,
                rules.currency,
                _now(),
                period,
                order_id,
            ],
        )
    return Grant("earned" if inserted == 1 else "duplicate", key, rules.reward_amount if inserted == 1 else 0.0)


def reverse_reward(store: Store, friend_id: str) -> bool:
    """Append a `reversed` entry cancelling the friend's earned reward; True if one was written now.

    The ledger stays append-only: nothing is updated or deleted, and the reversal is exactly-once too.
    """
    earned = store.query("SELECT * FROM rewards WHERE idempotency_key = ?", [reward_key(friend_id)])
    if earned.empty:
        return False
    row = earned.iloc[0].to_dict()
    row |= {"reward_id": f"rw_{uuid.uuid4().hex}", "idempotency_key": reward_key(friend_id, "reversed")}
    row |= {"entry": "reversed", "created_at": _now()}
    return store.insert_new("rewards", pd.DataFrame([row])) == 1


def ledger(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM rewards ORDER BY created_at, reward_id")


def mark_paid(store: Store, advocate_id: str | None = None) -> int:
    """Append a `paid` entry for every earned reward not paid yet; returns how many were paid now."""
    book = ledger(store)
    if book.empty:
        return 0
    reversed_keys = {
        k.replace("reversed:", "earned:", 1) for k in book.loc[book["entry"] == "reversed", "idempotency_key"]
    }
    earned = book[(book["entry"] == "earned") & ~book["idempotency_key"].isin(reversed_keys)]
    if advocate_id is not None:
        earned = earned[earned["advocate_id"] == advocate_id]
    now = _now()
    rows = pd.DataFrame(
        {
            "reward_id": [f"rw_{uuid.uuid4().hex}" for _ in range(len(earned))],
            "idempotency_key": ["paid:" + k.split(":", 1)[1] for k in earned["idempotency_key"]],
            "advocate_id": earned["advocate_id"].to_numpy(),
            "referral_id": earned["referral_id"].to_numpy(),
            "amount": earned["amount"].to_numpy(),
            "currency": earned["currency"].to_numpy(),
            "entry": "paid",
            "created_at": now,
            "period": earned["period"].to_numpy(),
            "order_id": earned["order_id"].to_numpy(),
        }
    )
    return store.insert_new("rewards", rows)


_IDENTITY_COLUMNS = "customer_id, name, email, phone, attributes, first_seen_at, created_at"


def _identity_neighbours(store: Store, ids: list[str]) -> pd.DataFrame:
    """The given customers and any other customer sharing their e-mail (case-insensitive) or phone digits."""
    own = store.query(
        f"SELECT {_IDENTITY_COLUMNS} FROM customers WHERE customer_id IN ({', '.join('?' * len(ids))})", ids
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
    others = store.query(f"SELECT {_IDENTITY_COLUMNS} FROM customers WHERE {' OR '.join(clauses)}", params)
    return pd.concat([own, others]).drop_duplicates("customer_id").reset_index(drop=True)


def _orders_of_referred(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT order_id, customer_id, ordered_at, amount, is_return FROM orders WHERE customer_id IN "
        "(SELECT referred_customer_id FROM referrals WHERE referred_customer_id IS NOT NULL)"
    )


def process_referrals(store: Store, rules: ProgrammeRules) -> dict[str, Any]:
    """Attribute, flag, convert and reward: everything `heedful advocacy attribute` does. Idempotent.

    1. landings are linked to customers by e-mail; customers imported with a `referral_code` attribute
       are attributed; 2. self-referrals and duplicate accounts are flagged; 3. referrals whose friend
    placed a first qualifying order become `converted`; 4. the rewards the rules call for are granted
    (each exactly once, caps re-checked against the ledger).
    """
    linked = _link_landings_by_email(store)
    attributed = _attribute_codes_on_customers(store)
    refs = referrals(store)
    if refs.empty:
        return {"linked": linked, "attributed": attributed, "flagged": 0, "converted": 0, "rewards": {}}
    # every customer, not only those in referrals: a duplicate account duplicates someone outside them
    people = store.query(f"SELECT {_IDENTITY_COLUMNS} FROM customers")
    flags = flag_referrals(refs, people)
    changed = refs.merge(flags, on="referral_id", suffixes=("", "_new"))
    changed = changed[changed["flags"].fillna("") != changed["flags_new"]]
    for rec in changed.itertuples(index=False):
        store.execute("UPDATE referrals SET flags = ? WHERE referral_id = ?", [rec.flags_new, rec.referral_id])
    refs = referrals(store)
    orders = _orders_of_referred(store)
    expected = expected_rewards(refs, orders, rules)

    conversions = qualifying_orders(refs, orders, rules)
    pending = refs[refs["status"] != "converted"]["referral_id"]
    converted = 0
    for rec in conversions[conversions["referral_id"].isin(pending)].itertuples(index=False):
        store.execute(
            "UPDATE referrals SET status = 'converted', converted_at = ?, order_id = ? WHERE referral_id = ?",
            [pd.Timestamp(rec.ordered_at).to_pydatetime(), rec.order_id, rec.referral_id],
        )
        converted += 1
    friend_of = dict(zip(refs["referral_id"], refs["referred_customer_id"], strict=True))
    outcomes: dict[str, int] = {"earned": 0, "duplicate": 0, "capped": 0, "flagged": 0, "reversed": 0}
    for rec in expected.itertuples(index=False):
        if rec.status == "flagged":
            outcomes["flagged"] += 1
            # flagged after it was paid out (e.g. a duplicate account found later): reverse it, once
            outcomes["reversed"] += int(reverse_reward(store, str(friend_of[rec.referral_id])))
            continue
        grant = grant_reward(
            store,
            advocate_id=rec.advocate_id,
            friend_id=str(friend_of[rec.referral_id]),
            referral_id=rec.referral_id,
            order_id=rec.order_id,
            period=rec.period,
            rules=rules,
        )
        outcomes[grant.status] += 1
    return {
        "linked": linked,
        "attributed": attributed,
        "flagged": int((flags["flags"] != "").sum()),
        "converted": converted,
        "rewards": outcomes,
    }


# ---------------------------------------------------------------- stories
def submit_story(
    store: Store,
    *,
    idempotency_key: str,
    title: str,
    body: str,
    consent: Iterable[str],
    advocate_id: str | None = None,
    author_name: str | None = None,
) -> str:
    """Store a submitted story (status `submitted`); the same form submitted twice stores one story."""
    scopes = check_scopes(set(consent))
    if not title.strip() or not body.strip():
        raise InputError("A story needs a title and a text.")
    story_id = "st_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
    row = {
        "story_id": story_id,
        "idempotency_key": idempotency_key,
        "advocate_id": advocate_id,
        "author_name": author_name,
        "title": title.strip(),
        "body": body.strip(),
        "consent_website": "website" in scopes,
        "consent_social": "social" in scopes,
        "consent_sales": "sales" in scopes,
        "status": "submitted",
        "submitted_at": _now(),
    }
    store.insert_new("stories", pd.DataFrame([row]))
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


def nps_answers(store: Store) -> pd.DataFrame:
    """customer_id, score (0-10), answered_at for every NPS answer by a known customer.

    NPS questions are those whose survey definition gives them type `nps`, or the usual ids
    (nps, recommend, likelihood_to_recommend) where no definition says otherwise.
    """
    ids = {"nps", "recommend", "likelihood_to_recommend"}
    for (definition,) in store.fetchall("SELECT definition FROM surveys"):
        ids |= _nps_question_ids(definition)
    answers = store.query(
        "SELECT r.customer_id, a.question_id, a.value_num AS score, a.answered_at FROM answers a "
        "JOIN responses r ON r.response_id = a.response_id "
        "WHERE r.customer_id IS NOT NULL AND a.value_num IS NOT NULL"
    )
    answers = answers[answers["question_id"].isin(ids) & answers["score"].between(0, 10)]
    return answers[["customer_id", "score", "answered_at"]].reset_index(drop=True)


def _nps_question_ids(definition: Any) -> set[str]:
    try:
        doc = json.loads(definition) if isinstance(definition, str) else definition
    except ValueError:
        return set()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).lower() == "nps" and node.get("id"):
                found.add(str(node["id"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc)
    return found


def customer_value(store: Store) -> pd.DataFrame:
    return _optional(
        store, "SELECT customer_id, clv, p_alive, segment, churn_risk FROM customer_value", "customer_value"
    )


def advocate_signals(store: Store) -> dict[str, pd.DataFrame]:
    """The inputs of `rank_advocates`, read from the store."""
    return {
        "customers": store.query("SELECT customer_id, kind FROM customers"),
        "value": customer_value(store),
        "nps": nps_answers(store),
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


def match_profiles(
    store: Store, *, onboarding_days: int = 90, at_risk_threshold: float = 0.5, max_products: int = 50
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates (new and at-risk customers not matched before) and opted-in advocates with free capacity.

    Profiles: segment (customer_value), products bought (names, most bought first), attributes
    (country, industry), feedback themes (feedback_enriched), tenure in days as of the latest order.
    New: first order within `onboarding_days` of the latest order in the data. At risk:
    churn_risk (retain's churn_scores, else customer_value) >= threshold, else p_alive below
    1 - threshold when churn risk was not computed.
    """
    firsts = store.query(
        "SELECT customer_id, MIN(ordered_at) AS first_order_at FROM orders "
        "WHERE customer_id IS NOT NULL AND NOT is_return GROUP BY customer_id"
    )
    if firsts.empty:
        return pd.DataFrame(), pd.DataFrame()
    firsts["first_order_at"] = pd.to_datetime(firsts["first_order_at"])
    as_of = firsts["first_order_at"].max()
    last = store.fetchall("SELECT MAX(ordered_at) FROM orders")[0][0]
    as_of = pd.Timestamp(last) if last is not None else as_of
    base = firsts.set_index("customer_id")
    base["tenure_days"] = (as_of - base["first_order_at"]).dt.days.astype(float)
    value = customer_value(store)
    if not value.empty:
        base = base.join(value.set_index("customer_id")[["segment", "p_alive", "churn_risk"]])
    else:
        base["segment"], base["p_alive"], base["churn_risk"] = None, float("nan"), float("nan")
    scores = _optional(store, "SELECT customer_id, churn_risk FROM churn_scores", "churn_scores")
    if not scores.empty:  # retain's latest scores, also for customers without value results
        latest = scores.set_index("customer_id")["churn_risk"].astype(float)
        base["churn_risk"] = latest.reindex(base.index).fillna(base["churn_risk"])
    enrolled = store.query("SELECT advocate_id, peer_opt_in, capacity, status FROM advocates")
    load = active_load(store)
    adv = enrolled[(enrolled["status"] == "joined") & enrolled["peer_opt_in"].astype(bool)].copy()
    adv["capacity"] = adv["capacity"].astype(int) - adv["advocate_id"].map(load).fillna(0).astype(int)
    adv = adv[adv["capacity"] > 0]
    matched_before = {r[0] for r in store.fetchall("SELECT DISTINCT customer_id FROM peer_matches")}
    new = base["tenure_days"] <= onboarding_days
    risk = base["churn_risk"].ge(at_risk_threshold) | (
        base["churn_risk"].isna() & base["p_alive"].lt(1 - at_risk_threshold)
    )
    base["need"] = None
    base.loc[risk, "need"] = "at_risk"
    base.loc[new, "need"] = "onboarding"
    cand_ids = [
        c for c in base.index[base["need"].notna()] if c not in matched_before and c not in set(adv["advocate_id"])
    ]
    people = cand_ids + list(adv["advocate_id"])
    profiles = _profiles(store, people, max_products).reindex(people)
    cand = base.loc[cand_ids, ["segment", "tenure_days", "need"]].join(profiles).reset_index()
    advocates_out = (
        adv.set_index("advocate_id")[["capacity", "peer_opt_in"]]
        .join(base[["segment", "tenure_days"]])
        .join(profiles)
        .rename_axis("customer_id")
        .reset_index()
    )
    return cand, advocates_out


_ID_LIST = "SELECT UNNEST(CAST(? AS VARCHAR[]))"  # a list parameter as a set of ids, on DuckDB and PostgreSQL


def _profiles(store: Store, customer_ids: list[str], max_products: int) -> pd.DataFrame:
    if not customer_ids:
        return pd.DataFrame(columns=["products", "attributes", "themes"])
    products = store.query(
        "SELECT customer_id, COALESCE(product_name, product_id) AS product, SUM(quantity) AS q FROM orders "
        f"WHERE customer_id IN ({_ID_LIST}) AND NOT is_return GROUP BY 1, 2",
        [customer_ids],
    )
    products = products.dropna(subset=["product"]).sort_values(["customer_id", "q"], ascending=[True, False])
    product_lists = products.groupby("customer_id")["product"].apply(lambda s: list(s.head(max_products)))
    people = store.query("SELECT customer_id, country, attributes FROM customers")
    people = people[people["customer_id"].isin(set(customer_ids))]
    attrs = {
        c: {k: v for k, v in (("country", country), ("industry", _attr(a, "industry"))) if isinstance(v, str) and v}
        for c, country, a in zip(people["customer_id"], people["country"], people["attributes"], strict=True)
    }
    themes = store.query(
        "SELECT f.customer_id, e.themes FROM feedback f JOIN feedback_enriched e ON e.feedback_id = f.feedback_id "
        "WHERE f.customer_id IS NOT NULL AND e.themes IS NOT NULL AND e.themes <> ''"
    )
    theme_sets = themes.groupby("customer_id")["themes"].apply(
        lambda s: sorted({t for v in s for t in v.split(";") if t})
    )
    out = pd.DataFrame(index=pd.Index(customer_ids, name="customer_id"))
    out["products"] = [product_lists.get(c, []) for c in customer_ids]
    out["attributes"] = [attrs.get(c, {}) for c in customer_ids]
    out["themes"] = [theme_sets.get(c, []) for c in customer_ids]
    return out


def _attr(raw: Any, key: str) -> Any:
    if not isinstance(raw, str) or not raw.startswith("{"):
        return None
    try:
        return json.loads(raw).get(key)
    except (ValueError, AttributeError):
        return None


def match_outcome_inputs(store: Store) -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp | None]:
    """Stored matches (both arms), their customers' order lines, and the latest order time (the "now" of the data)."""
    matches = store.query("SELECT customer_id, arm, created_at FROM peer_matches WHERE arm IS NOT NULL")
    orders = store.query(
        "SELECT customer_id, ordered_at, amount, is_return FROM orders "
        "WHERE customer_id IN (SELECT customer_id FROM peer_matches)"
    )
    latest = store.fetchall("SELECT MAX(ordered_at) FROM orders")[0][0]
    return matches, orders, pd.Timestamp(latest) if latest is not None else None


# ---------------------------------------------------------------- single-referral operations (web, API)
def set_landing_email(store: Store, referral_id: str, email: str) -> None:
    """The visitor behind a landing left their e-mail (used to link them when they become a customer)."""
    if normalise_email(email) is None:
        raise InputError("That does not look like an e-mail address.")
    store.execute(
        "UPDATE referrals SET referred_email = ? WHERE referral_id = ? AND referred_customer_id IS NULL",
        [email.strip(), referral_id],
    )


def reward_referral(store: Store, referral_id: str, rules: ProgrammeRules) -> dict[str, Any]:
    """Check one referral for its friend's first qualifying order and grant the reward: exactly once.

    What the API's conversion endpoint calls on each request; concurrent or repeated calls for the
    same friend earn one reward, and the advocate's monthly caps hold.
    """
    refs = store.query("SELECT * FROM referrals WHERE referral_id = ?", [referral_id])
    if refs.empty:
        raise NotFoundError(f"Referral {referral_id!r} does not exist.")
    ref = refs.iloc[0]
    if not isinstance(ref["referred_customer_id"], str):
        return {"referral_id": referral_id, "status": "not_signed_up", "reward": None}
    friend = str(ref["referred_customer_id"])
    people = _identity_neighbours(store, [str(ref["advocate_id"]), friend])
    flags = flag_referrals(refs, people)["flags"].iloc[0]
    if flags != (ref["flags"] or ""):
        store.execute("UPDATE referrals SET flags = ? WHERE referral_id = ?", [flags, referral_id])
    orders = store.query(
        "SELECT order_id, customer_id, ordered_at, amount, is_return FROM orders WHERE customer_id = ?", [friend]
    )
    refs = refs.assign(flags=flags)
    conversion = qualifying_orders(refs, orders, rules)
    if conversion.empty:
        return {"referral_id": referral_id, "status": ref["status"], "reward": None}
    order = conversion.iloc[0]
    if ref["status"] != "converted":
        store.execute(
            "UPDATE referrals SET status = 'converted', converted_at = ?, order_id = ? "
            "WHERE referral_id = ? AND status <> 'converted'",
            [pd.Timestamp(order["ordered_at"]).to_pydatetime(), order["order_id"], referral_id],
        )
    if flags and not rules.reward_flagged:
        return {"referral_id": referral_id, "status": "converted", "reward": "flagged", "flags": flags}
    grant = grant_reward(
        store,
        advocate_id=str(ref["advocate_id"]),
        friend_id=friend,
        referral_id=referral_id,
        order_id=str(order["order_id"]),
        period=pd.Timestamp(order["ordered_at"]).strftime("%Y-%m"),
        rules=rules,
    )
    return {"referral_id": referral_id, "status": "converted", "reward": grant.status, "amount": grant.amount}


def advocacy_profile(store: Store, customer_id: str) -> dict[str, Any]:
    """Everything advocacy knows about one customer, for the customer profile page."""
    enrolled = store.query("SELECT * FROM advocates WHERE advocate_id = ?", [customer_id])
    made = store.query("SELECT * FROM referrals WHERE advocate_id = ? ORDER BY created_at", [customer_id])
    referred_by = store.query(
        "SELECT advocate_id, status, created_at FROM referrals WHERE referred_customer_id = ?", [customer_id]
    )
    book = store.query(
        "SELECT entry, SUM(amount) AS amount FROM rewards WHERE advocate_id = ? GROUP BY entry", [customer_id]
    )
    sums = dict(zip(book["entry"], book["amount"], strict=True)) if not book.empty else {}
    matches = store.query(
        "SELECT * FROM peer_matches WHERE customer_id = ? OR advocate_id = ? ORDER BY created_at",
        [customer_id, customer_id],
    )
    return {
        "advocate": enrolled.iloc[0].to_dict() if not enrolled.empty else None,
        "referrals_made": len(made),
        "referrals_converted": int((made["status"] == "converted").sum()) if not made.empty else 0,
        "referred_by": referred_by.iloc[0].to_dict() if not referred_by.empty else None,
        "rewards": {
            "earned": float(sums.get("earned", 0.0)),
            "paid": float(sums.get("paid", 0.0)),
            "owed": float(sums.get("earned", 0.0) - sums.get("paid", 0.0) - sums.get("reversed", 0.0)),
        },
        "matches": matches,
        "stories": store.query("SELECT story_id, title, status FROM stories WHERE advocate_id = ?", [customer_id]),
    }
