"""Which signals open a case, priority, due dates, the rules file and the status flow (pure)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest

from heedful.cases.flow import TRANSITIONS, check_transition, plan_cases, priority_of, value_percentiles, value_tier
from heedful.cases.rules import CaseRules, ValueTiers, default_rules, dump_rules, parse_rules
from heedful.cases.triggers import evidence_text, find_candidates
from heedful.errors import ConfigError, InputError

NOW = datetime(2026, 11, 1, 9, 0)
DEPARTMENTS = ["marketing", "sales", "delivery", "services", "support", "product"]


def _answers() -> pd.DataFrame:
    rows = [
        ("r1", "c1", "nps", "nps", 2),  # detractor, low half: high severity
        ("r2", "c2", "nps", "nps", 6),  # detractor
        ("r3", "c3", "nps", "nps", 7),  # passive: no case
        ("r4", "c4", "csat", "csat", 2),  # low CSAT
        ("r5", "c5", "csat", "csat", 3),  # no case
        ("r6", "c6", "ces", "ces", 3),  # low CES
        ("r7", "c7", "ces", "ces", 4),  # no case
        ("r8", None, "nps", "nps", 0),  # anonymous: nobody to answer
        ("r1", "c1", "ces", "ces", 1),  # the same response's second unhappy answer: still one case
    ]
    frame = pd.DataFrame(rows, columns=["response_id", "customer_id", "question_id", "kind", "score"])
    return frame.assign(answered_at=pd.Timestamp("2026-10-20"))


def _feedback() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "feedback_id": ["f1", "f2", "f3", "f4"],
            "customer_id": ["c1", "c9", None, "c2"],
            "created_at": pd.to_datetime(["2026-10-01"] * 4),
            "sentiment": ["negative", "mixed", "positive", "negative"],
            "sentiment_score": [-0.9, -0.1, 0.8, -0.3],
            "themes": ["delivery_speed;price_value", "price_value", "staff_friendliness", None],
            "department": ["delivery", "sales", "support", None],
            "journey_stage": ["delivery", "purchase", "support", None],
            "text": ["Late again and nobody answered.", "Nice but pricey", "Lovely", "Meh"],
            "rating": [1.0, 3.0, 5.0, 2.0],
        }
    )


def test_unhappy_answers_of_completed_responses_open_one_case_per_response() -> None:
    found = find_candidates(default_rules(), answers=_answers())
    assert sorted(found["trigger_id"]) == ["r1", "r2", "r4", "r6"]
    r1 = found.set_index("trigger_id").loc["r1"]
    assert r1["severity"] == "high" and r1["customer_id"] == "c1" and r1["department"] == "support"
    assert r1["evidence"]["score"] == "CES 1 of 7" and len(r1["evidence"]["answers"]) == 2
    assert found.set_index("trigger_id").loc["r2", "severity"] == "medium"
    assert found["idempotency_key"].is_unique and found["case_id"].is_unique


def test_negative_and_mixed_feedback_open_cases_owned_by_the_main_themes_department() -> None:
    found = find_candidates(default_rules(), feedback=_feedback()).set_index("trigger_id")
    assert sorted(found.index) == ["f1", "f2", "f4"]
    assert found.loc["f1", ["theme", "department", "severity"]].tolist() == ["delivery_speed", "delivery", "high"]
    assert found.loc["f2", ["theme", "severity"]].tolist() == ["price_value", "low"]
    assert found.loc["f4", "department"] == "support"  # no owner named: the rules' default
    assert evidence_text(found.loc["f1", "evidence"]) == "Late again and nobody answered."
    only_negative = parse_rules("triggers:\n  feedback:\n    sentiments: [negative]\n")
    assert sorted(find_candidates(only_negative, feedback=_feedback())["trigger_id"]) == ["f1", "f4"]


def test_alerts_and_valuable_customers_newly_at_risk_open_cases() -> None:
    alerts = pd.DataFrame(
        {
            "alert_id": ["a1", "a2"],
            "kind": ["emerging_negative_theme", "need_worsened"],
            "severity": ["high", "medium"],
            "audience": ["external", "staff"],
            "subject": ["delivery_speed", "x"],
            "department_id": ["delivery", "support"],
            "period": ["2026-10", "2026-10"],
            "title": ["Delivery speed complaints doubled", "Staff"],
            "detail": ["", ""],
            "created_at": [NOW, NOW],
        }
    )
    value = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10)], "clv": [float(i) for i in range(10)]})
    churn = pd.DataFrame(
        {
            "customer_id": ["c9", "c8", "c1", "c7"],
            "churn_risk": [0.8, 0.6, 0.9, 0.3],
            "clv": [9.0, 8.0, 1.0, 7.0],
            "scored_at": [NOW] * 4,
        }
    )
    found = find_candidates(default_rules(), alerts=alerts, churn=churn, customer_value=value)
    by = found.set_index("trigger_id")
    assert list(by.loc["a1", ["theme", "department", "severity"]]) == ["delivery_speed", "delivery", "high"]
    assert "a2" not in by.index  # staff alerts are not a customer's case by default
    assert sorted(found.loc[found["trigger"] == "churn", "trigger_id"]) == ["churn:c8:2026-11", "churn:c9:2026-11"]
    assert by.loc["churn:c9:2026-11", "severity"] == "high" and by.loc["churn:c8:2026-11", "severity"] == "medium"
    again = find_candidates(default_rules(), churn=churn, customer_value=value, open_churn_customers={"c9"})
    assert list(again["trigger_id"]) == ["churn:c8:2026-11"]  # c9 already has an open churn case


def test_priority_adds_severity_and_value_tier() -> None:
    assert priority_of("high", "top") == priority_of("medium", "top") == priority_of("high", "mid") == "high"
    assert priority_of("high", "low") == priority_of("medium", "mid") == priority_of("low", "top") == "medium"
    assert priority_of("low", "low") == priority_of("medium", "low") == priority_of("low", None) == "low"
    pct = value_percentiles(pd.DataFrame({"customer_id": list("abcdefghij"), "clv": range(10)}))
    tiers = ValueTiers()
    assert [value_tier(pct[c], tiers) for c in "jihgfa"] == ["top", "top", "mid", "mid", "mid", "low"]
    assert value_tier(None, tiers) is None


def test_due_dates_follow_the_departments_sla() -> None:
    rules = parse_rules("sla_hours: {high: 12}\ndepartments:\n  delivery: {high: 4, medium: 8, low: 16}\n")
    candidates = find_candidates(rules, feedback=_feedback())
    pct = pd.Series({"c1": 1.0, "c9": 0.1, "c2": 0.6})
    planned = plan_cases(candidates, pct, rules, NOW).set_index("trigger_id")
    assert planned.loc["f1", "priority"] == "high"  # strongly negative, top customer
    assert planned.loc["f1", "due_at"] == NOW + timedelta(hours=4)  # delivery's own SLA
    assert planned.loc["f2", "priority"] == "low"  # mixed, low-value customer
    assert planned.loc["f2", "due_at"] == NOW + timedelta(hours=168)  # default low
    assert planned.loc["f4", "priority"] == "medium"
    assert planned.loc["f4", "due_at"] == NOW + timedelta(hours=72)
    assert (planned["status"] == "new").all() and (planned["opened_at"] == NOW).all()
    assert default_rules().sla_for("support").model_dump() == {"high": 24, "medium": 72, "low": 168}


def test_rules_file_errors_name_their_line() -> None:
    text = "sla_hours:\n  high: 24\ndepartments:\n  delivery: {high: 4}\n  finance: {high: 8}\n"
    with pytest.raises(ConfigError, match=r"cases.yaml line 5: departments.finance: unknown department 'finance'"):
        parse_rules(text, known_departments=DEPARTMENTS)
    with pytest.raises(ConfigError, match=r"line 3: triggers.churn.department: unknown department 'cs'"):
        parse_rules("triggers:\n  churn:\n    department: cs\n", known_departments=DEPARTMENTS)
    with pytest.raises(ConfigError, match=r"line 2: sla_hours.high: Input should be greater than 0"):
        parse_rules("sla_hours:\n  high: -1\n")
    with pytest.raises(ConfigError, match=r"line 1: tirggers: Extra inputs"):
        parse_rules("tirggers: {}\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_rules("a: [\n")
    assert parse_rules("") == CaseRules()
    assert parse_rules(dump_rules(default_rules()), known_departments=DEPARTMENTS) == default_rules()


def test_status_flow_allows_the_documented_moves_and_refuses_others() -> None:
    check_transition("c1", "new", "in_progress")
    check_transition("c1", "in_progress", "waiting_for_customer")
    check_transition("c1", "waiting_for_customer", "resolved")
    check_transition("c1", "resolved", "in_progress")  # reopen
    check_transition("c1", "wont_fix", "in_progress")
    with pytest.raises(InputError, match="Case c1 is resolved; it cannot become waiting_for_customer: reopen"):
        check_transition("c1", "resolved", "waiting_for_customer")
    with pytest.raises(InputError, match="cannot become new"):
        check_transition("c1", "in_progress", "new")
    with pytest.raises(InputError, match="Unknown case status 'done'"):
        check_transition("c1", "new", "done")
    assert all(s not in targets for s, targets in TRANSITIONS.items())
