"""Programme rules: the rewards that should exist never break the rules, whatever the referrals and orders."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.advocacy.rules import (
    ProgrammeRules,
    cap_allows,
    expected_rewards,
    order_totals,
    parse_rules,
    reconcile,
    reward_key,
)
from heedful.errors import ConfigError

DAY0 = pd.Timestamp("2025-01-01")

referral_rows = st.lists(
    st.tuples(
        st.sampled_from(["a1", "a2", "a3"]),  # advocate
        st.integers(0, 7),  # friend
        st.integers(0, 60),  # landing day
        st.sampled_from(["", "", "", "self_referral"]),
    ),
    min_size=1,
    max_size=15,
)
order_rows = st.lists(
    st.tuples(st.integers(0, 7), st.integers(-10, 120), st.sampled_from([5.0, 15.0, 40.0, 80.0])),
    max_size=25,
)
rules_strategy = st.builds(
    ProgrammeRules,
    reward_amount=st.sampled_from([10.0, 25.0]),
    min_order_amount=st.sampled_from([0.0, 20.0]),
    max_rewards_per_month=st.one_of(st.none(), st.integers(0, 3)),
    max_amount_per_month=st.one_of(st.none(), st.sampled_from([20.0, 50.0])),
    attribution_window_days=st.sampled_from([30, 90]),
)


def frames(
    refs: list[tuple[str, int, int, str]], orders: list[tuple[int, int, float]]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    referrals = pd.DataFrame(
        {
            "referral_id": [f"r{i}" for i in range(len(refs))],
            "advocate_id": [a for a, *_ in refs],
            "referred_customer_id": [f"f{f}" for _, f, *_ in refs],
            "created_at": [DAY0 + pd.Timedelta(days=d) for *_, d, _ in refs],
            "flags": [fl for *_, fl in refs],
            "status": "signed_up",
        }
    )
    order_lines = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(orders))],
            "customer_id": [f"f{f}" for f, _, _ in orders],
            "ordered_at": [DAY0 + pd.Timedelta(days=d, hours=1) for _, d, _ in orders],
            "amount": [a for *_, a in orders],
            "is_return": False,
        },
        columns=["order_id", "customer_id", "ordered_at", "amount", "is_return"],
    )
    return referrals, order_lines


@settings(max_examples=50, deadline=None)
@given(refs=referral_rows, orders=order_rows, rules=rules_strategy)
def test_expected_rewards_never_break_the_rules(
    refs: list[tuple[str, int, int, str]], orders: list[tuple[int, int, float]], rules: ProgrammeRules
) -> None:
    referrals, order_lines = frames(refs, orders)
    rewards = expected_rewards(referrals, order_lines, rules)
    earned = rewards[rewards["status"] == "earned"]
    # exactly-once: one reward key per friend, ever
    assert rewards["idempotency_key"].is_unique
    # caps per advocate per month
    per_month = earned.groupby(["advocate_id", "period"])["amount"].agg(["count", "sum"])
    if rules.max_rewards_per_month is not None:
        assert (per_month["count"] <= rules.max_rewards_per_month).all()
    if rules.max_amount_per_month is not None:
        assert (per_month["sum"] <= rules.max_amount_per_month + 1e-9).all()
    # fraud-flagged referrals are not paid
    flagged = set(referrals.loc[referrals["flags"] != "", "referral_id"])
    assert not set(earned["referral_id"]) & flagged
    totals = order_totals(order_lines)
    landing = referrals.set_index("referral_id")["created_at"]
    for rec in rewards.itertuples(index=False):
        friend_orders = totals[totals["customer_id"] == reward_friend(rec.idempotency_key)]
        start = landing[rec.referral_id].floor("D")
        # only new customers count: nothing ordered before landing, and the order is the first qualifying one
        assert (friend_orders["ordered_at"] >= start).all()
        order = friend_orders[friend_orders["order_id"] == rec.order_id].iloc[0]
        assert order["order_amount"] >= rules.min_order_amount
        assert order["ordered_at"] <= start + pd.Timedelta(days=rules.attribution_window_days)
    # a reward is capped only when the cap really was full at that point (rewards are granted in order)
    used: dict[tuple[str, str], list[float]] = {}
    for rec in rewards.itertuples(index=False):
        before = used.setdefault((rec.advocate_id, rec.period), [])
        if rec.status == "capped":
            assert not cap_allows(rules, len(before), sum(before), rec.amount)
        elif rec.status == "earned":
            before.append(rec.amount)


def reward_friend(key: str) -> str:
    return key.rsplit(":", 1)[1]


def test_a_friend_referred_twice_is_rewarded_once_to_the_first_advocate() -> None:
    referrals, orders = frames([("a1", 1, 0, ""), ("a2", 1, 3, "")], [(1, 5, 40.0)])
    rewards = expected_rewards(referrals, orders, ProgrammeRules())
    assert list(rewards["advocate_id"]) == ["a1"]
    assert list(rewards["idempotency_key"]) == [reward_key("f1")]


def test_an_existing_customer_earns_nothing() -> None:
    referrals, orders = frames([("a1", 1, 10, "")], [(1, 2, 40.0), (1, 20, 40.0)])
    assert expected_rewards(referrals, orders, ProgrammeRules()).empty


def test_the_first_order_reaching_the_minimum_qualifies() -> None:
    referrals, orders = frames([("a1", 1, 0, "")], [(1, 1, 5.0), (1, 4, 40.0)])
    rewards = expected_rewards(referrals, orders, ProgrammeRules(min_order_amount=20.0))
    assert list(rewards["order_id"]) == ["o1"]


def test_reconcile_finds_missing_and_unexpected_ledger_entries() -> None:
    referrals, orders = frames([("a1", 1, 0, ""), ("a1", 2, 0, "")], [(1, 1, 40.0), (2, 1, 40.0)])
    expected = expected_rewards(referrals, orders, ProgrammeRules())
    ledger = pd.DataFrame(
        {"idempotency_key": [reward_key("f1"), reward_key("f9")], "amount": [20.0, 20.0], "entry": "earned"}
    )
    check = reconcile(expected, ledger)
    assert check["missing"] == [reward_key("f2")]
    assert check["unexpected"] == [reward_key("f9")]
    assert not check["ok"]
    full = expected.assign(entry="earned")
    assert reconcile(expected, full)["ok"]


def test_rules_come_from_yaml_and_mistakes_name_the_field() -> None:
    rules = parse_rules("reward_amount: 15\nmax_rewards_per_month: 2\n")
    assert (rules.reward_amount, rules.max_rewards_per_month) == (15.0, 2)
    with pytest.raises(ConfigError, match="min_order_amount"):
        parse_rules("min_order_amount: -1\n")
    with pytest.raises(ConfigError, match="reward_amout"):
        parse_rules("reward_amout: 5\n")


def test_a_full_month_granted_first_come_first_served_reconciles() -> None:
    """Issue 19: after the cap, the check reported missing and unexpected rewards for a correct ledger.

    Rewards are granted as conversions arrive, so a friend whose order is later in the month may fill
    the cap before an earlier order is imported; either reward is right, not both."""
    rules = ProgrammeRules(max_rewards_per_month=1)
    referrals, orders = frames([("a1", 1, 0, ""), ("a1", 2, 0, "")], [(1, 5, 40.0), (2, 2, 40.0)])
    expected = expected_rewards(referrals, orders, rules)
    assert dict(zip(expected["idempotency_key"], expected["status"], strict=True)) == {
        reward_key("f2"): "earned",
        reward_key("f1"): "capped",
    }
    granted_first = pd.DataFrame({"idempotency_key": [reward_key("f1")], "amount": [20.0], "entry": "earned"})
    check = reconcile(expected, granted_first, rules)
    assert check["ok"] and check["missing"] == [] and check["unexpected"] == []
    # both rewards in one month over a cap of one: the month is flagged, the check fails
    both = pd.DataFrame(
        {"idempotency_key": [reward_key("f1"), reward_key("f2")], "amount": [20.0, 20.0], "entry": "earned"}
    )
    check = reconcile(expected, both, rules)
    assert not check["ok"] and len(check["over_cap"]) == 1 and check["over_cap"][0].startswith("a1 ")
    # an empty month with room still misses the reward the rules call for
    assert reconcile(expected, both.iloc[:0], rules)["missing"] == [reward_key("f2")]
