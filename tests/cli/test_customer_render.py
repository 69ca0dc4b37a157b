"""`heedful customer show` in words: money with its currency, shares as percentages, missing figures as a dash."""

from __future__ import annotations

from heedful.cli.common import console
from heedful.cli.customer import _render


def _profile(value: dict[str, object]) -> dict[str, object]:
    orders = {"orders": 2, "revenue": 120.0, "currency": "GBP", "returns": 0, "returned_amount": 0.0}
    return {
        "customer_id": "42",
        "kind": "customer",
        "identity": {},
        "first_seen_at": None,
        "source": None,
        "orders": {**orders, "first_order_at": None, "last_order_at": None, "recent": []},
        "feedback": [],
        "survey_answers": [],
        "referrals": {"made": [], "referred_by": []},
        "value": value,
    }


def test_the_value_line_names_currency_horizon_and_churn_risk() -> None:
    with console.capture() as captured:
        _render(_profile({"clv": 968.917, "p_alive": 0.9731, "churn_risk": 0.706, "segment": "loyal"}))
    words = " ".join(captured.get().split())  # as printed, whatever the terminal's width
    assert "Value CLV (next 12 months) 968.92 GBP, P(alive) 97%, churn risk 71%, segment loyal" in words
    with console.capture() as captured:
        _render(_profile({"clv": 968.917, "p_alive": 0.97, "churn_risk": 0.706, "churn_horizon_days": 90}))
    assert "churn risk 71% (next 90 days)," in " ".join(captured.get().split())
    with console.capture() as captured:
        _render(_profile({"clv": 10.0, "p_alive": float("nan"), "churn_risk": None, "segment": None}))
    assert "P(alive) —, churn risk —, segment —" in " ".join(captured.get().split())
