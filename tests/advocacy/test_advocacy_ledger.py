"""The rewards ledger on DuckDB and PostgreSQL: exactly-once under retries and concurrent requests, caps hold."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.advocacy.seed import add_customers, add_orders

from heedful.advocacy.rules import ProgrammeRules, cap_allows, programme_summary, reward_key
from heedful.services.referrals import grant_reward, mark_paid, process_referrals
from heedful.store import Store, connect
from heedful.store.advocacy_repo import enrol_advocates, ledger, record_landing, referrals

LANDED = datetime(2025, 1, 2)
RULES = ProgrammeRules(reward_amount=10.0, max_rewards_per_month=3, max_amount_per_month=25.0)


def assert_ledger_invariants(book: pd.DataFrame, rules: ProgrammeRules) -> None:
    earned = book[book["entry"] == "earned"]
    assert earned["idempotency_key"].is_unique
    per_month = earned.groupby(["advocate_id", "period"])["amount"].agg(["count", "sum"])
    if rules.max_rewards_per_month is not None:
        assert (per_month["count"] <= rules.max_rewards_per_month).all()
    if rules.max_amount_per_month is not None:
        assert (per_month["sum"] <= rules.max_amount_per_month + 1e-9).all()


attempts = st.lists(
    st.tuples(st.sampled_from(["a1", "a2"]), st.integers(0, 6), st.sampled_from(["2025-01", "2025-02"])),
    min_size=1,
    max_size=25,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=attempts, cap_count=st.integers(0, 4), cap_amount=st.sampled_from([None, 15.0, 30.0]))
def test_ledger_never_pays_twice_nor_beyond_the_caps(
    store: Store, attempts: list[tuple[str, int, str]], cap_count: int, cap_amount: float | None
) -> None:
    store.execute("DELETE FROM rewards")
    rules = ProgrammeRules(reward_amount=10.0, max_rewards_per_month=cap_count, max_amount_per_month=cap_amount)
    for advocate, friend, period in attempts:
        grant_reward(
            store,
            advocate_id=advocate,
            friend_id=f"f{friend}",
            referral_id=f"r-{advocate}-{friend}",
            order_id=None,
            period=period,
            rules=rules,
        )
    book = ledger(store)
    assert_ledger_invariants(book, rules)
    # exactly what a one-at-a-time reading of the rules pays: a friend once, to the first advocate within cap
    model: dict[str, tuple[str, str]] = {}
    for advocate, friend, period in attempts:
        key = reward_key(f"f{friend}")
        used = [p for a, p in model.values() if (a, p) == (advocate, period)]
        if key not in model and cap_allows(rules, len(used), 10.0 * len(used), 10.0):
            model[key] = (advocate, period)
    stored = {k: (a, p) for k, a, p in zip(book["idempotency_key"], book["advocate_id"], book["period"], strict=True)}
    assert stored == model
    # and nothing is refused that the caps allowed: replaying the same attempts adds nothing
    before = len(book)
    for advocate, friend, period in attempts:
        status = grant_reward(
            store,
            advocate_id=advocate,
            friend_id=f"f{friend}",
            referral_id=f"r-{advocate}-{friend}",
            order_id=None,
            period=period,
            rules=rules,
        ).status
        assert status in ("duplicate", "capped")
    assert len(ledger(store)) == before


def test_concurrent_requests_from_many_connections_pay_once_and_respect_the_cap(store: Store) -> None:
    friends = [f"friend{i}" for i in range(8)]
    # every friend's reward is requested 4 times (double clicks, retries), from 8 threads with their own connection
    jobs = [f for f in friends for _ in range(4)]

    def worker(chunk: list[str]) -> Counter[str]:
        own = connect(store.url)
        try:
            return Counter(
                grant_reward(
                    own,
                    advocate_id="adv",
                    friend_id=f,
                    referral_id=f"r-{f}",
                    order_id=f"o-{f}",
                    period="2025-03",
                    rules=RULES,
                ).status
                for f in chunk
            )
        finally:
            own.close()

    chunks = [jobs[i::8] for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        totals = sum(pool.map(worker, chunks), Counter())
    book = ledger(store)
    assert_ledger_invariants(book, RULES)
    # cap: 3 rewards but at most 25.0 -> two rewards of 10
    assert totals["earned"] == 2 == len(book)
    assert totals["duplicate"] + totals["capped"] == len(jobs) - 2


def test_concurrent_requests_through_one_shared_store_pay_once(store: Store) -> None:
    rules = ProgrammeRules(reward_amount=5.0, max_rewards_per_month=50, max_amount_per_month=None)
    jobs = [f"friend{i % 10}" for i in range(60)]

    def attempt(friend: str) -> str:
        return grant_reward(
            store, advocate_id="adv", friend_id=friend, referral_id=friend, order_id=None, period="2025-03", rules=rules
        ).status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = Counter(pool.map(attempt, jobs))
    assert statuses == Counter({"earned": 10, "duplicate": 50})
    assert len(ledger(store)) == 10


def _programme(store: Store) -> str:
    add_customers(
        store,
        [
            {"customer_id": "adv", "name": "Ann Lee", "email": "ann@example.com"},
            {"customer_id": "bob", "name": "Bob Stone", "email": "bob@example.com"},
            {"customer_id": "cat", "name": "Cat Diaz", "email": "cat@example.com"},
            {"customer_id": "ann2", "name": "Ann Lee", "email": "a.n.n+promo@example.com"},
        ],
    )
    add_orders(store, [("o-adv", "adv", "2024-06-01", 50.0)])
    code = enrol_advocates(store, ["adv"], status="joined")["code"].iloc[0]
    return str(code)


def test_reimporting_orders_and_rerunning_attribution_never_pays_twice(store: Store) -> None:
    code = _programme(store)
    record_landing(store, code, email="bob@example.com", at=LANDED)
    record_landing(store, code, email="cat@example.com", at=LANDED)
    add_orders(store, [("o-bob", "bob", "2025-01-10", 40.0), ("o-cat", "cat", "2025-01-11", 5.0)])
    rules = ProgrammeRules(reward_amount=10.0, min_order_amount=20.0)
    first = process_referrals(store, rules)
    assert first["rewards"]["earned"] == 1  # cat's order is below the minimum
    assert add_orders(store, [("o-bob", "bob", "2025-01-10", 40.0)]) == 0  # same order imported again
    add_orders(store, [("o-bob2", "bob", "2025-01-20", 90.0)])  # a second order earns nothing more
    again = process_referrals(store, rules)
    assert again["rewards"]["earned"] == 0
    book = ledger(store)
    assert list(book["amount"]) == [10.0]
    statuses = referrals(store).set_index("referred_customer_id")["status"].to_dict()
    assert statuses == {"bob": "converted", "cat": "signed_up"}


def test_paying_out_is_exactly_once_too(store: Store) -> None:
    code = _programme(store)
    record_landing(store, code, email="bob@example.com", at=LANDED)
    add_orders(store, [("o-bob", "bob", "2025-01-10", 40.0)])
    process_referrals(store, RULES)
    assert mark_paid(store) == 1
    assert mark_paid(store) == 0
    assert Counter(ledger(store)["entry"]) == Counter({"earned": 1, "paid": 1})


def test_self_referral_is_flagged_and_not_rewarded(store: Store) -> None:
    code = _programme(store)
    record_landing(store, code, email="ann+second@example.com", at=LANDED)  # the advocate's own address
    add_customers(store, [{"customer_id": "ann3", "name": "Ann L", "email": "ann+second@example.com"}])
    add_orders(store, [("o-ann3", "ann3", "2025-02-01", 40.0)])
    result = process_referrals(store, RULES)
    assert result["rewards"]["flagged"] == 1
    assert ledger(store).empty
    assert "self_referral" in referrals(store)["flags"].iloc[0]


@pytest.mark.parametrize("bad", ["NOPE", ""])
def test_unknown_codes_are_refused(store: Store, bad: str) -> None:
    from heedful.errors import NotFoundError

    _programme(store)
    with pytest.raises(NotFoundError):
        record_landing(store, bad)


def test_a_reward_found_fraudulent_later_is_reversed_once_and_not_paid(store: Store) -> None:
    code = _programme(store)
    record_landing(store, code, email="bob@example.com", at=LANDED)
    add_orders(store, [("o-bob", "bob", "2025-01-10", 40.0)])
    assert process_referrals(store, RULES)["rewards"]["earned"] == 1
    # later, an older account with bob's phone number turns up: bob is an existing customer
    add_customers(store, [{"customer_id": "bob_old", "name": "Bob Stone", "phone": "+44 20 7946 0000"}])
    store.execute("UPDATE customers SET phone = '020 7946 0000', first_seen_at = ? WHERE customer_id = 'bob'", [LANDED])
    store.execute("UPDATE customers SET first_seen_at = ? WHERE customer_id = 'bob_old'", [datetime(2020, 1, 1)])
    for _ in range(2):
        process_referrals(store, RULES)
    book = ledger(store)
    assert Counter(book["entry"]) == Counter({"earned": 1, "reversed": 1})
    assert mark_paid(store) == 0
    report = programme_summary(referrals(store), book, pd.DataFrame(columns=["customer_id", "amount", "is_return"]))
    assert report["rewards"]["owed"] == 0.0
