"""Advocacy records on DuckDB and PostgreSQL: codes, consent, match profiles, introductions and outcomes."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pandas as pd
import pytest
from tests.advocacy.seed import add_customers, add_orders

from heedful.advocacy.effect import measure_outcomes
from heedful.advocacy.matching import match_peers
from heedful.advocacy.rules import ProgrammeRules
from heedful.errors import InputError, NotFoundError
from heedful.services.advocacy import match_profiles, record_landing, referral_report
from heedful.store import Store
from heedful.store import advocacy_repo as repo


def test_codes_are_short_unguessable_and_stable(store: Store) -> None:
    add_customers(store, [{"customer_id": f"c{i}"} for i in range(50)])
    first = repo.enrol_advocates(store, [f"c{i}" for i in range(50)])
    assert first["code"].is_unique
    assert all(re.fullmatch(f"[{repo.CODE_ALPHABET}]{{{repo.CODE_LENGTH}}}", c) for c in first["code"])
    again = repo.enrol_advocates(store, ["c1", "c2"], status="joined")  # enrolling again keeps code and status
    assert (
        again.set_index("advocate_id")["code"].to_dict()
        == first.set_index("advocate_id")["code"][["c1", "c2"]].to_dict()
    )
    assert set(again["status"]) == {"invited"}
    assert repo.advocate_by_code(store, first["code"].iloc[0].lower())["advocate_id"] == first["advocate_id"].iloc[0]


def test_consent_changes_are_recorded_and_checked(store: Store) -> None:
    add_customers(store, [{"customer_id": "a"}])
    repo.enrol_advocates(store, ["a"])
    repo.set_advocate(store, "a", status="joined", peer_opt_in=True, capacity=2)
    row = repo.advocates(store).iloc[0]
    assert (row["status"], bool(row["peer_opt_in"]), int(row["capacity"])) == ("joined", True, 2)
    assert pd.notna(row["joined_at"])
    with pytest.raises(InputError):
        repo.set_advocate(store, "a", status="maybe")
    with pytest.raises(NotFoundError):
        repo.set_advocate(store, "nobody", status="joined")
    repo.set_advocate(store, "a", status="opted_out")
    with pytest.raises(NotFoundError):  # an opted-out advocate's link no longer works
        repo.record_landing(store, str(row["code"]))


def test_a_landing_counts_once_per_visitor_per_utc_day(store: Store) -> None:
    add_customers(store, [{"customer_id": "adv"}])
    code = str(repo.enrol_advocates(store, ["adv"], status="joined")["code"].iloc[0])
    salt = b"server-secret"
    phone = {"client_ip": "203.0.113.7", "user_agent": "Mozilla/5.0 (iPhone)"}
    morning, evening = datetime(2025, 3, 4, 0, 5), datetime(2025, 3, 4, 23, 55)
    ids = {record_landing(store, code, salt, at=t, **phone) for t in (morning, evening, morning, evening, morning)}
    assert len(ids) == 1 and store.count("referrals") == 1  # five landings without a cookie, one day: one
    laptop = record_landing(store, code, salt, at=morning, client_ip="203.0.113.7", user_agent="Firefox/128")
    assert laptop not in ids and store.count("referrals") == 2  # another browser behind the same address
    (first,) = ids
    assert record_landing(store, code, salt, cookie=first, at=evening, **phone) == first  # the cookie names it
    assert record_landing(store, code, salt, cookie=first, at=datetime(2025, 3, 9), **phone) == first
    assert store.count("referrals") == 2
    next_day = record_landing(store, code, salt, at=datetime(2025, 3, 5, 0, 1), **phone)
    assert next_day not in ids and store.count("referrals") == 3  # the same visitor tomorrow counts again
    funnel = referral_report(store, ProgrammeRules())  # the programme's figures count these landings
    assert (funnel["referrals"], funnel["by_status"]) == (3, {"landed": 3})
    stored = store.query("SELECT * FROM referrals").astype(str).to_numpy().ravel().tolist()
    assert not any("203.0.113.7" in v or "iPhone" in v for v in stored)  # no raw address or browser is kept


def _journeys(store: Store) -> None:
    add_customers(
        store,
        [
            {"customer_id": "mentor", "country": "UK", "attributes": json.dumps({"industry": "cafe"})},
            {"customer_id": "busy", "country": "UK"},
            {"customer_id": "newbie", "country": "UK", "attributes": json.dumps({"industry": "cafe"})},
            {"customer_id": "other_new", "country": "FR"},
        ],
    )
    lines = [
        ("m1", "mentor", "2023-01-10", 30.0),
        ("m2", "mentor", "2024-12-01", 30.0),
        ("b1", "busy", "2023-03-01", 10.0),
        ("n1", "newbie", "2024-12-20", 15.0),
        ("x1", "other_new", "2024-12-28", 15.0),
    ]
    add_orders(store, lines)
    store.execute("UPDATE orders SET product_name = 'espresso beans' WHERE order_id IN ('m1', 'n1')")
    repo.enrol_advocates(store, ["mentor"], status="joined", peer_opt_in=True, capacity=1)
    repo.enrol_advocates(store, ["busy"], status="joined", peer_opt_in=False)


def test_match_profiles_find_new_and_at_risk_customers_and_opted_in_advocates(store: Store) -> None:
    _journeys(store)
    add_customers(store, [{"customer_id": "wobbly"}])
    add_orders(store, [("w1", "wobbly", "2024-02-01", 12.0)])
    store.insert_new(
        "churn_scores",
        pd.DataFrame(
            {"customer_id": ["wobbly"], "churn_risk": [0.8], "model_version": "t", "scored_at": datetime(2025, 1, 1)}
        ),
    )
    candidates, advocates = match_profiles(store, onboarding_days=30)
    needs = candidates.set_index("customer_id")["need"].to_dict()
    assert needs == {"newbie": "onboarding", "other_new": "onboarding", "wobbly": "at_risk"}
    assert list(advocates["customer_id"]) == ["mentor"]  # busy did not opt in
    mentor = advocates.iloc[0]
    assert mentor["products"] == ["espresso beans"] and mentor["attributes"] == {"country": "UK", "industry": "cafe"}
    result = match_peers(candidates, advocates)
    assert result.matches[["customer_id", "advocate_id"]].values.tolist() == [["newbie", "mentor"]]  # capacity 1
    assert result.slots == 1


def test_introductions_and_outcomes_are_tracked_and_the_holdout_is_protected(store: Store) -> None:
    _journeys(store)
    matches = pd.DataFrame(
        {
            "customer_id": ["newbie", "other_new"],
            "advocate_id": ["mentor", "mentor"],
            "score": [0.9, 0.4],
            "need": ["onboarding", "onboarding"],
            "reasons": [["same industry: cafe"], []],
        }
    )
    arms = pd.Series({"newbie": "matched", "other_new": "holdout"})
    assert repo.save_matches(store, matches, arms) == 2
    assert repo.save_matches(store, matches, arms) == 0  # proposing again adds nothing
    stored = repo.peer_matches(store).set_index("customer_id")
    assert stored.loc["other_new", "status"] == "holdout"
    assert json.loads(stored.loc["newbie", "reasons"]) == ["same industry: cafe"]
    assert repo.active_load(store).to_dict() == {"mentor": 1}
    repo.record_introduction(store, stored.loc["newbie", "match_id"])
    with pytest.raises(InputError):
        repo.record_introduction(store, stored.loc["other_new", "match_id"])
    # the match happened on 2025-01-01; newbie ordered again within 90 days, the data runs to 2025-06-01
    store.execute("UPDATE peer_matches SET created_at = ?", [datetime(2025, 1, 1)])
    add_orders(store, [("n2", "newbie", "2025-02-01", 20.0), ("z", "mentor", "2025-06-01", 5.0)])
    found, orders, as_of = repo.match_outcome_inputs(store)
    assert repo.record_outcomes(store, measure_outcomes(found, orders, as_of=as_of)) == 2
    outcome = repo.peer_matches(store).set_index("customer_id")["outcome"].to_dict()
    assert outcome == {"newbie": "retained", "other_new": "churned"}
    assert repo.peer_matches(store).set_index("customer_id").loc["newbie", "status"] == "introduced"
