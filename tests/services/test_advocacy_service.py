"""Advocacy use cases through the services (DuckDB and PostgreSQL): NPS signals, exactly-once rewards, caps."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pandas as pd
from tests.advocacy.seed import add_customers, add_orders

from heedful.advocacy.rules import ProgrammeRules, reward_key
from heedful.services import advocacy, referrals
from heedful.services.surveys import save_definition, save_page
from heedful.store import Store, surveys_repo
from heedful.store import advocacy_repo as repo
from heedful.surveys.collect import Answer
from heedful.surveys.definition import survey_from_json

LANDED = datetime(2025, 1, 2)


def _programme(store: Store, friends: int) -> str:
    add_customers(
        store,
        [
            {"customer_id": "adv", "name": "Ann Lee", "email": "ann@example.com"},
            *({"customer_id": f"f{i}", "name": f"Friend {i}", "email": f"f{i}@example.org"} for i in range(friends)),
        ],
    )
    add_orders(store, [("o-adv", "adv", "2024-06-01", 50.0)])
    return str(repo.enrol_advocates(store, ["adv"], status="joined")["code"].iloc[0])


def test_processing_referrals_twice_credits_each_friend_once(store: Store) -> None:
    code = _programme(store, 2)
    for i in range(2):
        repo.record_landing(store, code, email=f"f{i}@example.org", at=LANDED)
    add_orders(store, [("o-f0", "f0", "2025-01-10", 40.0), ("o-f1", "f1", "2025-01-11", 40.0)])
    rules = ProgrammeRules(reward_amount=10.0)
    first = referrals.process_referrals(store, rules)
    again = referrals.process_referrals(store, rules)
    assert (first["linked"], first["converted"], first["rewards"]["earned"]) == (2, 2, 2)
    assert (again["linked"], again["converted"], again["rewards"]["earned"], again["rewards"]["duplicate"]) == (
        0,
        0,
        0,
        2,
    )
    assert list(repo.ledger(store)["amount"]) == [10.0, 10.0]


def test_the_monthly_cap_is_honoured_and_later_months_pay_again(store: Store) -> None:
    code = _programme(store, 4)
    for i in range(4):
        repo.record_landing(store, code, email=f"f{i}@example.org", at=LANDED)
    add_orders(
        store,
        [
            ("o-f0", "f0", "2025-01-10", 40.0),
            ("o-f1", "f1", "2025-01-11", 40.0),
            ("o-f2", "f2", "2025-01-12", 40.0),
            ("o-f3", "f3", "2025-02-01", 40.0),
        ],
    )
    rules = ProgrammeRules(reward_amount=10.0, max_rewards_per_month=2)
    result = referrals.process_referrals(store, rules)
    assert result["rewards"]["earned"] == 3 and result["rewards"]["capped"] == 1
    book = repo.ledger(store)
    assert Counter(book["period"]) == Counter({"2025-01": 2, "2025-02": 1})


def test_rewards_granted_first_come_reconcile_and_pay_holds_what_the_check_rejects(store: Store) -> None:
    """Issue 19: once a month's cap was reached, the ledger check said `ok: false` for a correct ledger,
    and `pay` paid entries the check flagged."""
    code = _programme(store, 2)
    rules = ProgrammeRules(reward_amount=10.0, max_rewards_per_month=1)
    late = repo.attribute_referral(store, code, "f1", at=LANDED)
    add_orders(store, [("o-f1", "f1", "2025-01-20", 40.0)])
    assert referrals.reward_referral(store, late, rules)["reward"] == "earned"  # fills January's cap
    repo.attribute_referral(store, code, "f0", at=LANDED)
    add_orders(store, [("o-f0", "f0", "2025-01-05", 40.0)])  # an earlier January order, imported later
    assert referrals.process_referrals(store, rules)["rewards"]["capped"] == 1
    check = advocacy.referral_report(store, rules)["ledger_check"]
    assert check["ok"] and check["missing"] == [] and check["unexpected"] == [], check
    repo.insert_reward(
        store,
        idempotency_key=reward_key("stranger"),
        advocate_id="adv",
        referral_id="r-none",
        amount=10.0,
        currency="GBP",
        period="2025-03",
        order_id=None,
    )
    check = advocacy.referral_report(store, rules)["ledger_check"]
    assert not check["ok"] and check["unexpected"] == [reward_key("stranger")]
    assert advocacy.pay_checked(store, rules) == {"paid": 1, "held": [reward_key("stranger")]}
    assert advocacy.pay_checked(store, rules) == {"paid": 0, "held": [reward_key("stranger")]}


def test_rewarding_one_referral_again_and_again_pays_once(store: Store) -> None:
    code = _programme(store, 1)
    rid = repo.attribute_referral(store, code, "f0", at=LANDED)
    assert referrals.reward_referral(store, rid, ProgrammeRules())["reward"] is None  # no order yet
    add_orders(store, [("o-f0", "f0", "2025-01-10", 40.0)])
    answers = [referrals.reward_referral(store, rid, ProgrammeRules(reward_amount=7.0)) for _ in range(3)]
    assert [a["reward"] for a in answers] == ["earned", "duplicate", "duplicate"]
    assert answers[0]["amount"] == 7.0
    assert repo.referrals(store).set_index("referral_id").loc[rid, "status"] == "converted"
    assert referrals.mark_paid(store) == 1 and referrals.mark_paid(store) == 0
    assert advocacy.advocacy_profile(store, "adv")["rewards"] == {"earned": 7.0, "paid": 7.0, "owed": 0.0}


def test_advocate_nps_comes_from_the_question_types_of_stored_surveys(store: Store) -> None:
    add_customers(store, [{"customer_id": "c1"}, {"customer_id": "c2"}])
    document = {
        "slug": "pulse",
        "title": "Pulse",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "likely", "type": "nps", "text": "Would you recommend us?"},
                    {"id": "nps", "type": "numeric", "text": "How many shops do you run?"},
                ],
            }
        ],
    }
    info = save_definition(store, survey_from_json(document))
    for customer, likely, shops in (("c1", 9.0, 3.0), ("c2", 2.0, 7.0)):
        rid = surveys_repo.start_response(store, info["survey_id"], "pulse", customer)
        answers = [Answer("likely", "", str(int(likely)), likely), Answer("nps", "", str(int(shops)), shops)]
        assert save_page(store, rid, "p1", ["likely", "nps"], answers, f"k-{customer}", None)
    nps = advocacy.nps_answers(store)
    # the typed question counts, whatever its id; a numeric question called "nps" does not
    assert sorted(zip(nps["customer_id"], nps["score"], strict=True)) == [("c1", 9.0), ("c2", 2.0)]
    assert list(advocacy.advocate_signals(store)["nps"].columns) == ["customer_id", "score", "answered_at"]


def test_match_profiles_read_themes_with_the_codec(store: Store) -> None:
    add_customers(store, [{"customer_id": "mentor", "country": "UK"}, {"customer_id": "newbie", "country": "UK"}])
    add_orders(store, [("m1", "mentor", "2023-01-01", 10.0), ("n1", "newbie", "2025-01-01", 10.0)])
    repo.enrol_advocates(store, ["mentor"], status="joined", peer_opt_in=True)
    now = pd.Timestamp("2025-01-02")
    store.insert_new(
        "feedback",
        pd.DataFrame(
            {
                "feedback_id": ["fb1", "fb2"],
                "channel": "review",
                "author_kind": "customer",
                "text": ["slow delivery", "great coffee"],
                "customer_id": ["newbie", "newbie"],
                "created_at": now,
            }
        ),
    )
    store.insert_new(
        "feedback_enriched",
        pd.DataFrame(
            {
                "feedback_id": ["fb1", "fb2"],
                "text_hash": ["h1", "h2"],
                "sentiment": "neutral",
                "sentiment_score": 0.0,
                "themes": ["delivery;speed", "coffee;delivery"],
                "model_version": "test",
                "processed_at": now,
            }
        ),
    )
    candidates, advocates = advocacy.match_profiles(store, onboarding_days=30)
    assert candidates.set_index("customer_id").loc["newbie", "themes"] == ["coffee", "delivery", "speed"]
    assert list(advocates["customer_id"]) == ["mentor"]
