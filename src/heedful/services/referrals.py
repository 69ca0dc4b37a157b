"""Referral use cases: attribution, fraud flags, conversions and the rewards ledger's exactly-once grants.

Every grant runs in a transaction holding the advocate's named lock (`Store.exclusive`), so a friend
earns one reward and the advocate's monthly caps hold under retries and concurrent requests.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from heedful.advocacy.fraud import flag_referrals, normalise_email
from heedful.advocacy.rules import ProgrammeRules, cap_allows, expected_rewards, qualifying_orders, reward_key
from heedful.errors import InputError, NotFoundError
from heedful.store import Store
from heedful.store import advocacy_repo as repo


def landing_visitor(salt: bytes, *, cookie: str | None = None, client_ip: str = "", user_agent: str = "") -> str:
    """Who a referral landing's visitor is: the referral cookie when the browser sends one, else the
    client's address and user agent — as a keyed hash under the server's secret `salt`, so no raw
    address is stored and the key cannot be reversed by trying every address."""
    raw = f"cookie\x1f{cookie}" if cookie else f"client\x1f{client_ip}\x1f{user_agent}"
    return hmac.new(salt, raw.encode(), hashlib.sha256).hexdigest()[:32]


def record_landing(
    store: Store,
    code: str,
    salt: bytes,
    *,
    cookie: str | None = None,
    client_ip: str = "",
    user_agent: str = "",
    at: datetime | None = None,
) -> str:
    """A friend followed an advocate's link /r/<code>: the landing's referral id.

    Counted once per visitor per UTC day (a reload, a bot or a crawler repeating the link adds
    nothing; the same visitor tomorrow counts again); a cookie naming a landing of this code is that
    landing. The referral funnel counts these rows.
    """
    visitor = landing_visitor(salt, cookie=cookie, client_ip=client_ip, user_agent=user_agent)
    return repo.record_landing(store, code, referral_id=cookie, visitor=visitor, at=at)


def set_landing_email(store: Store, referral_id: str, email: str) -> None:
    """The visitor behind a landing left their e-mail (used to link them when they become a customer)."""
    if normalise_email(email) is None:
        raise InputError("That does not look like an e-mail address.")
    repo.set_landing_email(store, referral_id, email.strip())


def link_landings_by_email(store: Store) -> int:
    """Landings whose e-mail belongs to a customer now are linked to that customer; returns how many."""
    landed = repo.unlinked_landings(store)
    if landed.empty:
        return 0
    people = repo.customer_emails(store)
    by_email = {normalise_email(e): c for c, e in zip(people["customer_id"], people["email"], strict=True)}
    linked = 0
    for rec in landed.itertuples(index=False):
        customer = by_email.get(normalise_email(rec.referred_email))
        if customer is not None:
            repo.link_landing(store, rec.referral_id, customer)
            linked += 1
    return linked


def attribute_codes_on_customers(store: Store) -> int:
    """Customers imported with a referral code in their attributes (`referral_code`) are attributed.

    The code was given when they signed up, so the referral dates from their first contact: the
    earliest of first seen, first order and when heedful stored them (an import may come late).
    """
    added = 0
    for rec in repo.customers_with_referral_code(store).itertuples(index=False):
        try:
            code = json.loads(rec.attributes).get("referral_code")
        except (ValueError, AttributeError):
            continue
        if not code or repo.advocate_by_code(store, str(code)) is None:
            continue
        when = min(pd.Timestamp(t) for t in (rec.first_seen_at, rec.first_order_at, rec.created_at) if pd.notna(t))
        before = store.count("referrals")
        repo.attribute_referral(store, str(code), str(rec.customer_id), at=when.to_pydatetime())
        added += store.count("referrals") - before
    return added


# ---------------------------------------------------------------- the rewards ledger
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

    Safe to call again and again (retries, re-imports, double clicks) and from concurrent requests:
    the cap check and the insert run under the advocate's lock, so they see no interleaving.
    """
    key = reward_key(friend_id)
    with store.exclusive(f"advocate:{advocate_id}"):
        if repo.reward_exists(store, key):
            return Grant("duplicate", key, 0.0)
        count, total = repo.earned_in_period(store, advocate_id, period)
        if not cap_allows(rules, count, total, rules.reward_amount):
            return Grant("capped", key, 0.0)
        inserted = repo.insert_reward(
            store,
            idempotency_key=key,
            advocate_id=advocate_id,
            referral_id=referral_id,
            amount=rules.reward_amount,
            currency=rules.currency,
            period=period,
            order_id=order_id,
        )
    return Grant("earned" if inserted else "duplicate", key, rules.reward_amount if inserted else 0.0)


def reverse_reward(store: Store, friend_id: str) -> bool:
    """Append a `reversed` entry cancelling the friend's earned reward; True if one was written now.

    The ledger stays append-only: nothing is updated or deleted, and the reversal is exactly-once too.
    """
    earned = repo.reward_entry(store, reward_key(friend_id))
    if earned is None:
        return False
    row = {k: v for k, v in earned.items() if k not in ("reward_id", "created_at")}
    row |= {"idempotency_key": reward_key(friend_id, "reversed"), "entry": "reversed"}
    return repo.append_rewards(store, pd.DataFrame([row])) == 1


def mark_paid(store: Store, advocate_id: str | None = None, hold: set[str] | frozenset[str] = frozenset()) -> int:
    """Append a `paid` entry for every earned reward not paid yet, except the `hold` keys (rewards the
    ledger check does not accept); returns how many were paid now."""
    book = repo.ledger(store)
    if book.empty:
        return 0
    reversed_keys = {
        k.replace("reversed:", "earned:", 1) for k in book.loc[book["entry"] == "reversed", "idempotency_key"]
    }
    earned = book[(book["entry"] == "earned") & ~book["idempotency_key"].isin(reversed_keys | set(hold))]
    if advocate_id is not None:
        earned = earned[earned["advocate_id"] == advocate_id]
    rows = pd.DataFrame(
        {
            "idempotency_key": ["paid:" + k.split(":", 1)[1] for k in earned["idempotency_key"]],
            "advocate_id": earned["advocate_id"].to_numpy(),
            "referral_id": earned["referral_id"].to_numpy(),
            "amount": earned["amount"].to_numpy(),
            "currency": earned["currency"].to_numpy(),
            "entry": "paid",
            "period": earned["period"].to_numpy(),
            "order_id": earned["order_id"].to_numpy(),
        }
    )
    return repo.append_rewards(store, rows)


# ---------------------------------------------------------------- the whole programme, and one referral
def process_referrals(store: Store, rules: ProgrammeRules) -> dict[str, Any]:
    """Attribute, flag, convert and reward: everything `heedful advocacy attribute` does. Idempotent.

    1. landings are linked to customers by e-mail; customers imported with a `referral_code` attribute
       are attributed; 2. self-referrals and duplicate accounts are flagged; 3. referrals whose friend
    placed a first qualifying order become `converted`; 4. the rewards the rules call for are granted
    (each exactly once, caps re-checked against the ledger).
    """
    linked = link_landings_by_email(store)
    attributed = attribute_codes_on_customers(store)
    refs = repo.referrals(store)
    if refs.empty:
        return {"linked": linked, "attributed": attributed, "flagged": 0, "converted": 0, "rewards": {}}
    # every customer, not only those in referrals: a duplicate account duplicates someone outside them
    flags = flag_referrals(refs, repo.identities(store))
    changed = refs.merge(flags, on="referral_id", suffixes=("", "_new"))
    changed = changed[changed["flags"].fillna("") != changed["flags_new"]]
    for rec in changed.itertuples(index=False):
        repo.set_referral_flags(store, rec.referral_id, rec.flags_new)
    refs = repo.referrals(store)
    orders = repo.orders_of_referred(store)
    expected = expected_rewards(refs, orders, rules)

    conversions = qualifying_orders(refs, orders, rules)
    pending = refs[refs["status"] != "converted"]["referral_id"]
    converted = 0
    for rec in conversions[conversions["referral_id"].isin(pending)].itertuples(index=False):
        repo.mark_converted(store, rec.referral_id, pd.Timestamp(rec.ordered_at).to_pydatetime(), rec.order_id)
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


def reward_referral(store: Store, referral_id: str, rules: ProgrammeRules) -> dict[str, Any]:
    """Check one referral for its friend's first qualifying order and grant the reward: exactly once.

    What the API's conversion endpoint calls on each request; concurrent or repeated calls for the
    same friend earn one reward, and the advocate's monthly caps hold.
    """
    refs = repo.referral(store, referral_id)
    if refs.empty:
        raise NotFoundError(f"Referral {referral_id!r} does not exist.")
    ref = refs.iloc[0]
    if not isinstance(ref["referred_customer_id"], str):
        return {"referral_id": referral_id, "status": "not_signed_up", "reward": None}
    friend = str(ref["referred_customer_id"])
    people = repo.identity_neighbours(store, [str(ref["advocate_id"]), friend])
    flags = flag_referrals(refs, people)["flags"].iloc[0]
    if flags != (ref["flags"] or ""):
        repo.set_referral_flags(store, referral_id, flags)
    refs = refs.assign(flags=flags)
    conversion = qualifying_orders(refs, repo.orders_of(store, friend), rules)
    if conversion.empty:
        return {"referral_id": referral_id, "status": ref["status"], "reward": None}
    order = conversion.iloc[0]
    if ref["status"] != "converted":
        repo.mark_converted(
            store, referral_id, pd.Timestamp(order["ordered_at"]).to_pydatetime(), str(order["order_id"])
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
