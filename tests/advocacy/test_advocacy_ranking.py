"""Advocate ranking: promoters, happy and valuable customers first; detractors and lapsed ones not eligible."""

from __future__ import annotations

import pandas as pd

from heedful.advocacy.advocates import rank_advocates


def test_signals_move_a_customer_up_the_ranking() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["base", "promoter", "happy", "valuable", "referrer", "staff1"],
            "kind": ["customer"] * 5 + ["staff"],
        }
    )
    orders = pd.DataFrame(
        {
            "customer_id": ["base", "promoter", "happy", "valuable", "referrer", "staff1"],
            "ordered_at": pd.to_datetime(["2024-01-01"] * 6),
            "amount": [10.0] * 6,
            "is_return": False,
        }
    )
    value = pd.DataFrame(
        {
            "customer_id": ["base", "promoter", "happy", "valuable", "referrer"],
            "clv": [10.0, 10.0, 10.0, 900.0, 10.0],
            "p_alive": 0.9,
            "segment": "x",
        }
    )
    nps = pd.DataFrame({"customer_id": ["promoter"], "score": [10.0], "answered_at": pd.to_datetime(["2024-06-01"])})
    feedback = pd.DataFrame({"customer_id": ["happy"] * 6, "sentiment": ["positive"] * 6})
    referrals = pd.DataFrame({"advocate_id": ["referrer", "referrer"], "status": ["converted", "converted"]})
    ranked = rank_advocates(
        customers,
        value=value,
        nps=nps,
        feedback=feedback,
        orders=orders,
        referrals=referrals,
        as_of=pd.Timestamp("2025-01-01"),
    ).set_index("customer_id")
    assert "staff1" not in ranked.index  # staff are not customers
    for better in ("promoter", "happy", "valuable", "referrer"):
        assert ranked.loc[better, "advocate_score"] > ranked.loc["base", "advocate_score"], better
    assert ranked.loc["referrer", "reasons"][-1] == "2 successful referrals"
    # the evidence as counted (the score smooths it; "88% positive feedback (smoothed, 6 items)" read oddly)
    assert "6 of 6 pieces of feedback positive" in ranked.loc["happy", "reasons"]


def test_detractors_and_lapsed_customers_are_not_eligible() -> None:
    customers = pd.DataFrame({"customer_id": ["grump", "gone", "fine"], "kind": "customer"})
    value = pd.DataFrame(
        {
            "customer_id": ["grump", "gone", "fine"],
            "clv": [999.0, 999.0, 5.0],
            "p_alive": [0.9, 0.05, 0.9],
            "segment": "x",
        }
    )
    nps = pd.DataFrame({"customer_id": ["grump"], "score": [3.0], "answered_at": pd.to_datetime(["2024-06-01"])})
    ranked = rank_advocates(customers, value=value, nps=nps).set_index("customer_id")
    assert ranked.loc[["grump", "gone", "fine"], "eligible"].tolist() == [False, False, True]
    assert ranked.loc["fine", "consent_status"] == "not_invited"
