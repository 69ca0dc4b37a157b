"""Did it work? The holdout drawn at opening, and the closed-loop figures: timings, within-SLA share and
recovery of followed-up customers against the holdout, on hand-built and planted data, both backends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from heedful.cases.flow import in_holdout, plan_cases
from heedful.cases.rules import CaseRules, parse_rules
from heedful.errors import ConfigError, InputError
from heedful.journey.delivery import DeliverySettings
from heedful.services import cases as service
from heedful.stats import wilson_interval
from heedful.store import Store
from heedful.store import cases_repo as repo

from .conftest import fill_signals

T0 = datetime(2026, 3, 2, 9, 0)


# ---------------------------------------------------------------- the holdout draw
def test_holdout_is_about_the_share_and_the_same_on_every_run() -> None:
    keys = [f"C{i:07d}|survey|r{i}" for i in range(20_000)]
    drawn = [in_holdout(k, 0.1) for k in keys]
    assert 0.09 < np.mean(drawn) < 0.11
    assert drawn == [in_holdout(k, 0.1) for k in keys]  # a re-run draws the same
    assert not any(in_holdout(k, 0.0) for k in keys[:1000])
    assert 0.28 < np.mean([in_holdout(k, 0.3) for k in keys]) < 0.32
    candidates = pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(400)],
            "idempotency_key": [f"{'-' if i % 2 else f'C{i}'}|feedback|f{i}" for i in range(400)],
            "customer_id": [None if i % 2 else f"C{i}" for i in range(400)],
            "trigger": "feedback",
            "department": "support",
            "severity": "medium",
        }
    )
    planned = plan_cases(candidates, pd.Series(dtype=float), CaseRules(holdout_share=0.5), T0)
    assert planned["holdout"].any() and not planned.loc[planned["customer_id"].isna(), "holdout"].any()
    again = plan_cases(candidates, pd.Series(dtype=float), CaseRules(holdout_share=0.5), T0 + timedelta(days=1))
    assert planned["holdout"].tolist() == again["holdout"].tolist()


def test_holdout_share_in_the_rules_file() -> None:
    assert parse_rules("holdout_share: 0\n").holdout_share == 0
    assert parse_rules("").holdout_share == 0.1
    with pytest.raises(ConfigError, match=r"cases\.yaml line 2: holdout_share"):
        parse_rules("lookback_days: 30\nholdout_share: 1.5\n")


def test_holdout_cases_are_stored_but_not_listed_or_worked(store: Store) -> None:
    fill_signals(store)
    opened = service.open_cases(store)
    held = {r[0] for r in store.fetchall("SELECT case_id FROM cases WHERE holdout")}
    assert len(held) == opened["held_out"] > 0
    with_customer = store.fetchall("SELECT COUNT(*) FROM cases WHERE customer_id IS NOT NULL")[0][0]
    assert 0.03 < len(held) / with_customer < 0.2
    assert store.fetchall("SELECT COUNT(*) FROM cases WHERE holdout AND customer_id IS NULL")[0][0] == 0
    listed = service.list_cases(store, status="all", limit=10_000)
    assert not set(listed["case_id"]) & held and not listed["holdout"].any()
    assert service.count_cases(store, status="all") == opened["opened"] - len(held)
    everything = service.list_cases(store, status="all", limit=10_000, include_holdout=True)
    assert set(everything.loc[everything["holdout"], "case_id"]) == held
    assert service.count_cases(store, status="all", include_holdout=True) == opened["opened"]
    one = sorted(held)[0]
    assert service.get_case(store, one)["holdout"] is True
    for work in (
        lambda: service.assign(store, [one], "ann@shop.example", "lead"),
        lambda: service.set_status(store, one, "in_progress", "ann"),
        lambda: service.add_note(store, one, "hello", "ann"),
        lambda: service.reply(store, one, "Sorry", "ann", settings=DeliverySettings()),
    ):
        with pytest.raises(InputError, match="holdout"):
            work()
    # re-running, or opening the same signals afresh, draws the same holdout
    assert service.open_cases(store)["held_out"] == 0
    store.execute("DELETE FROM cases")
    assert service.open_cases(store)["held_out"] == len(held)
    assert {r[0] for r in store.fetchall("SELECT case_id FROM cases WHERE holdout")} == held
    store.execute("DELETE FROM cases")
    assert service.open_cases(store, CaseRules(holdout_share=0))["held_out"] == 0


# ---------------------------------------------------------------- figures
def _case(case_id: str, department: str, *, hours: dict[str, float | None], **extra: Any) -> dict[str, Any]:
    at = {k: (T0 + timedelta(hours=v) if v is not None else None) for k, v in hours.items()}
    return {
        "case_id": case_id,
        "idempotency_key": f"{extra.get('customer_id') or '-'}|feedback|{case_id}",
        "customer_id": None,
        "trigger": "feedback",
        "trigger_id": case_id,
        "department": department,
        "priority": "high",
        "status": "resolved" if at.get("resolved_at") else "in_progress",
        "holdout": False,
        "evidence": "{}",
        "opened_at": T0,
        "due_at": at["due_at"],
        "first_response_at": at.get("first_response_at"),
        "resolved_at": at.get("resolved_at"),
        "updated_at": T0,
        **extra,
    }


def _insert(store: Store, rows: list[dict[str, Any]]) -> None:
    frame = pd.DataFrame(rows)
    for col in ("first_response_at", "resolved_at", "due_at"):
        frame[col] = pd.to_datetime(frame[col])
    repo.insert_cases(store, frame, [])


def test_timings_and_within_sla_on_a_hand_built_set(store: Store) -> None:
    _insert(
        store,
        [
            _case("a", "support", hours={"due_at": 24, "first_response_at": 2, "resolved_at": 10}),  # in time
            _case("b", "support", hours={"due_at": 24, "first_response_at": 4, "resolved_at": 30}),  # late
            _case("c", "support", hours={"due_at": 24}),  # open, past due: missed
            _case("d", "support", hours={"due_at": 72}),  # open, not due yet: not counted
            _case("e", "support", hours={"due_at": 1, "resolved_at": 0.5}, holdout=True, status="new"),
            _case("f", "delivery", hours={"due_at": 12, "first_response_at": 6, "resolved_at": 8}),  # in time
        ],
    )
    figures = service.closed_loop_figures(store, now=T0 + timedelta(hours=48))
    overall = figures["overall"]
    assert (overall["cases"], overall["held_out"], overall["first_responses"], overall["closed"]) == (5, 1, 3, 3)
    assert overall["median_hours_to_first_response"] == pytest.approx(4)
    assert overall["median_hours_to_resolve"] == pytest.approx(10)
    sla = overall["within_sla"]
    assert (sla["successes"], sla["n"], sla["share"]) == (2, 4, 0.5)
    assert (sla["low"], sla["high"]) == pytest.approx(wilson_interval(2, 4))
    support = next(d for d in figures["departments"] if d["department"] == "support")
    assert support["median_hours_to_first_response"] == pytest.approx(3)
    assert support["median_hours_to_resolve"] == pytest.approx(20)
    assert (support["within_sla"]["successes"], support["within_sla"]["n"]) == (1, 3)
    assert support["held_out"] == 1 and support["department_name"] == "Customer support"
    marketing = next(d for d in figures["departments"] if d["department"] == "marketing")
    assert marketing["cases"] == 0 and marketing["median_hours_to_resolve"] is None
    assert marketing["within_sla"]["share"] is None
    # the inbox's figures leave the holdout out too
    assert service.case_figures(store, now=T0 + timedelta(hours=48)).set_index("department").loc["support", "open"] == 2


def _plant(store: Store, arm_size: int, followed_rate: float, held_rate: float) -> None:
    """`arm_size` followed-up and `arm_size` holdout cases, one customer each; the given shares of each
    order again after the case was opened (every customer also ordered before it, and some return later)."""
    rng = np.random.default_rng(7)
    cases, orders, feedback, enriched = [], [], [], []
    for arm, rate in (("f", followed_rate), ("h", held_rate)):
        back = set(rng.choice(arm_size, size=round(arm_size * rate), replace=False).tolist())
        for i in range(arm_size):
            customer = f"{arm}{i:04d}"
            cases.append(
                _case(
                    f"case-{customer}",
                    "support",
                    hours={"due_at": 24},
                    customer_id=customer,
                    holdout=arm == "h",
                    status="new" if arm == "h" else "waiting_for_customer",
                )
            )
            when = [(-240, False), (24 * 5, True)] + ([(24 * (3 + i % 20), False)] if i in back else [])
            for j, (hours, is_return) in enumerate(when):
                amount = -10.0 if is_return else 10.0
                orders.append(
                    {
                        "order_line_id": f"{customer}-{j}",
                        "order_id": f"{customer}-{j}",
                        "customer_id": customer,
                        "ordered_at": T0 + timedelta(hours=hours),
                        "quantity": 1.0,
                        "unit_price": amount,
                        "amount": amount,
                        "is_return": is_return,
                    }
                )
    # a case to follow up that no one has acted on yet (still new) counts with the followed-up group, as drawn
    cases.append(_case("case-idle", "support", hours={"due_at": 24}, customer_id="idle", status="new"))
    # a held-out customer who did not order but left positive feedback counts as recovered
    feedback.append(
        {
            "feedback_id": "fb1",
            "channel": "review",
            "customer_id": "h9999",
            "author_kind": "customer",
            "text": "Lovely",
            "created_at": T0 + timedelta(days=2),
        }
    )
    enriched.append(
        {
            "feedback_id": "fb1",
            "text_hash": "x",
            "sentiment": "positive",
            "sentiment_score": 0.9,
            "model_version": "t",
            "processed_at": T0,
        }
    )
    cases.append(_case("case-h9999", "support", hours={"due_at": 24}, customer_id="h9999", holdout=True, status="new"))
    _insert(store, cases)
    store.insert_new("orders", pd.DataFrame(orders))
    store.insert_new("feedback", pd.DataFrame(feedback))
    store.insert_new("feedback_enriched", pd.DataFrame(enriched))


def test_recovery_is_higher_when_followed_up_customers_buy_again(store: Store) -> None:
    _plant(store, 80, followed_rate=0.6, held_rate=0.2)
    figures = service.closed_loop_figures(store, now=T0 + timedelta(days=60))
    rec = figures["overall"]["recovery"]
    # as randomised: the idle case no one acted on counts with the followed-up group (intent to treat)
    assert rec["enough"] and rec["followed_up"]["n"] == 81 and rec["holdout"]["n"] == 81
    assert rec["followed_up"]["successes"] == 48 and rec["holdout"]["successes"] == 17  # 16 orders + 1 feedback
    assert rec["acted_on_share"] == pytest.approx(80 / 81)
    assert rec["difference"] == pytest.approx(48 / 81 - 17 / 81)
    assert 0 < rec["low"] < rec["difference"] < rec["high"] and rec["p_value"] < 0.001
    assert rec["finding"].startswith("Following up works: 59% of followed-up customers came back against 21%")
    support = next(d for d in figures["departments"] if d["department"] == "support")
    assert support["recovery"]["difference"] == pytest.approx(rec["difference"])
    # before anyone could have come back, no one has
    early = service.closed_loop_figures(store, now=T0 + timedelta(hours=1))["overall"]["recovery"]
    assert early["followed_up"]["successes"] == 0 and early["holdout"]["successes"] == 0


def test_recovery_below_the_minimum_says_not_enough_data(store: Store) -> None:
    _plant(store, 10, followed_rate=0.6, held_rate=0.2)
    rec = service.closed_loop_figures(store, now=T0 + timedelta(days=60))["overall"]["recovery"]
    assert not rec["enough"] and rec["difference"] is None and rec["low"] is None
    assert rec["finding"] == (
        "not enough data (n = 11 followed up, 11 held out, counting cases with a known customer; "
        "needs 30 in each group)"
    )
    assert rec["followed_up"]["share"] == pytest.approx(6 / 11)
