"""Cases over the store, on DuckDB and PostgreSQL: opening once, the flow, lists, replies and figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from heedful.errors import InputError, NotFoundError
from heedful.journey.delivery import DeliverySettings, SmtpSettings
from heedful.services import cases as service
from heedful.services.surveys import answers_of_type
from heedful.store import Store

from .conftest import fill_signals


def test_opening_twice_never_duplicates_a_case(store: Store) -> None:
    fill_signals(store)
    first = service.open_cases(store)
    assert first["opened"] > 0 and first["already_open"] == 0
    assert set(first["by_trigger"]) == {"survey", "feedback", "alert", "churn"}
    assert first["by_trigger"]["alert"] == 1 and first["by_trigger"]["churn"] == 1  # C0000001; C0000002 is low value
    again = service.open_cases(store)
    assert again == {"opened": 0, "already_open": first["opened"], "by_trigger": {}, "held_out": 0}
    assert store.count("cases") == first["opened"]
    keys = store.fetchall("SELECT COUNT(DISTINCT idempotency_key), COUNT(*) FROM cases")[0]
    assert keys[0] == keys[1] == first["opened"]
    assert store.count("case_events") == first["opened"]  # one "opened" event each
    # one case per completed unhappy response: partial responses open none
    nps = answers_of_type(store, "nps", completed_only=True)
    recent = pd.to_datetime(nps["answered_at"]) >= pd.to_datetime(nps["answered_at"]).max() - timedelta(days=90)
    detractors = set(nps.loc[(nps["score"] <= 6) & recent, "response_id"])
    assert detractors and set(nps.loc[(nps["score"] <= 6) & ~recent, "response_id"])  # older ones: past the lookback
    survey_ids = {r[0] for r in store.fetchall("SELECT trigger_id FROM cases WHERE trigger = 'survey'")}
    assert detractors <= survey_ids
    store.execute("UPDATE responses SET completed_at = NULL")
    store.execute("DELETE FROM cases")
    assert "survey" not in service.open_cases(store)["by_trigger"]


def test_alert_and_churn_cases_carry_owner_stage_and_evidence(store: Store) -> None:
    fill_signals(store)
    service.open_cases(store)
    alert = service.list_cases(store, department="delivery", status="all", limit=1000)
    row = alert[alert["trigger"] == "alert"].iloc[0]
    case = service.get_case(store, row["case_id"])
    assert case["journey_stage"] == "delivery" and case["department_name"] == "Delivery / logistics"
    assert case["evidence"]["alert_title"] == "Deliveries on time fell from 95% to 80%"
    assert case["customer_id"] is None and case["priority"] == "high"
    churn = service.list_cases(store, status="all", limit=1000).query("trigger == 'churn'").iloc[0]
    assert churn["trigger_id"] == "churn:C0000001:2026-10" and churn["priority"] == "high"
    assert churn["department_name"] == "Services" and churn["evidence_text"] == "churn risk 80%"


def test_status_flow_records_history_and_refuses_invalid_moves(store: Store) -> None:
    fill_signals(store)
    service.open_cases(store)
    case_id = service.list_cases(store, limit=1).iloc[0]["case_id"]
    case = service.set_status(store, case_id, "in_progress", "ann@shop.example")
    assert case["status"] == "in_progress"
    case = service.set_status(store, case_id, "resolved", "ann@shop.example", note="refunded")
    assert case["status"] == "resolved" and case["resolved_at"] is not None
    with pytest.raises(InputError, match="reopen"):
        service.set_status(store, case_id, "waiting_for_customer", "ann@shop.example")
    with pytest.raises(InputError, match="reopen"):
        service.reply(store, case_id, "Hello", "ann@shop.example")
    case = service.set_status(store, case_id, "in_progress", "bob@shop.example")
    assert case["resolved_at"] is None
    actions = [(e["action"], e["detail"].get("to")) for e in case["history"]]
    assert actions == [("opened", None), ("status", "in_progress"), ("status", "resolved"), ("status", "in_progress")]
    assert case["history"][2]["detail"]["note"] == "refunded" and case["history"][3]["actor"] == "bob@shop.example"
    with pytest.raises(NotFoundError):
        service.get_case(store, "nope")
    with pytest.raises(NotFoundError):
        service.assign(store, [case_id, "nope"], "ann", "me")


def test_list_filters_sorts_and_overdue(store: Store) -> None:
    fill_signals(store)
    opened = datetime.now() - timedelta(hours=100)  # past the 24 h and 72 h SLAs, within the 168 h one
    result = service.open_cases(store, now=opened)
    total = result["opened"] - result["held_out"]  # the holdout is not listed
    assert service.count_cases(store) == total == service.count_cases(store, status="all")
    overdue = service.list_cases(store, overdue_only=True, limit=1000)
    assert len(overdue) == service.count_cases(store, overdue_only=True) > 0
    assert overdue["overdue"].all() and set(overdue["priority"]) <= {"high", "medium"}
    listed = service.list_cases(store, limit=1000)
    assert list(listed.columns) == service.LIST_COLUMNS
    assert listed["overdue"].tolist() == sorted(listed["overdue"].tolist(), reverse=True)  # overdue first
    assert (listed.loc[~listed["overdue"], "priority"] == "low").all()
    by_value = service.list_cases(store, sort="value", limit=5)
    assert by_value.iloc[0]["customer_id"] == "C0000001"
    page = service.list_cases(store, limit=3, offset=2)
    assert list(page["case_id"]) == list(listed["case_id"][2:5])
    ids = list(listed["case_id"][:3])
    assert service.assign(store, ids, "ann@shop.example", "lead@shop.example") == 3
    mine = service.list_cases(store, assignee="ann@shop.example")
    assert set(mine["case_id"]) == set(ids) and service.count_cases(store, assignee="ann@shop.example") == 3
    service.set_status(store, ids[0], "wont_fix", "ann@shop.example")
    assert service.count_cases(store) == total - 1
    assert list(service.list_cases(store, status="wont_fix")["case_id"]) == [ids[0]]
    assert service.count_cases(store, status="all") == total
    support = service.list_cases(store, department="support", limit=1000)
    assert (support["department"] == "support").all() and (support["department_name"] == "Customer support").all()
    themed = listed.dropna(subset=["theme"])
    assert not themed.empty and (themed["theme_label"] != themed["theme"]).any()
    with pytest.raises(InputError, match="Unknown sort"):
        service.list_cases(store, sort="size")
    with pytest.raises(InputError, match="Unknown case status"):
        service.count_cases(store, status="done")


def test_reply_without_smtp_is_logged_and_says_mail_is_off(store: Store) -> None:
    fill_signals(store)
    service.open_cases(store)
    case_id = service.list_cases(store, limit=1).iloc[0]["case_id"]
    result = service.reply(
        store, case_id, "Sorry about that — a refund is on its way.", "ann", settings=DeliverySettings()
    )
    assert result["sent"] is False and result["reason"] == "Mail is off: no SMTP settings."
    case = result["case"]
    assert case["status"] == "waiting_for_customer" and case["first_response_at"] is not None
    replies = [e for e in case["history"] if e["action"] == "reply"]
    assert replies[0]["detail"]["text"] == "Sorry about that — a refund is on its way."
    first = case["first_response_at"]
    again = service.reply(store, case_id, "Any news?", "ann", settings=DeliverySettings())["case"]
    assert again["first_response_at"] == first  # the first response is kept
    note = service.add_note(store, case_id, "Called them too.", "ann")
    assert note["history"][-1]["action"] == "note" and note["history"][-1]["detail"]["text"] == "Called them too."
    with pytest.raises(InputError):
        service.add_note(store, case_id, "  ", "ann")


def test_reply_is_emailed_to_the_customer_when_smtp_is_set(
    duck_store: Store, smtp_inbox: tuple[int, list[Any]]
) -> None:
    port, received = smtp_inbox
    fill_signals(duck_store)
    service.open_cases(duck_store)
    churn = service.list_cases(duck_store, limit=1000).query("customer_id == 'C0000001'").iloc[0]
    settings = DeliverySettings(smtp=SmtpSettings(host="127.0.0.1", port=port, recipients=["ops@shop.example"]))
    result = service.reply(duck_store, churn["case_id"], "We miss you.", "ann", settings=settings)
    assert result["sent"] is True and result["to"] == "ann@example.com"
    assert received[0].rcpt_tos == ["ann@example.com"] and b"We miss you." in received[0].content


def test_figures_per_department(store: Store) -> None:
    fill_signals(store)
    now = datetime.now()
    service.open_cases(store, now=now - timedelta(hours=30))
    case_id = service.list_cases(store, department="support", limit=1).iloc[0]["case_id"]
    service.reply(store, case_id, "Hello", "ann", settings=DeliverySettings())
    service.set_status(store, case_id, "resolved", "ann")
    figures = service.case_figures(store).set_index("department")
    assert list(figures.columns) == [
        "department_name",
        "open",
        "overdue",
        "resolved_this_month",
        "median_hours_to_first_response",
    ]
    counts = pd.Series(service.list_cases(store, limit=10_000)["department"]).value_counts()
    assert figures.loc["support", "open"] == counts["support"]
    assert figures.loc["support", "resolved_this_month"] == 1
    assert figures.loc["support", "median_hours_to_first_response"] == pytest.approx(30, abs=0.5)
    assert figures.loc["support", "overdue"] > 0  # high-priority cases are past their 24 h
    assert figures.loc["marketing", "open"] == counts.get("marketing", 0)
    assert figures.loc["marketing", "department_name"] == "Marketing"
    assert figures["open"].sum() == len(counts.index.repeat(counts))


def test_demo_step_opens_cases_once(store: Store) -> None:
    fill_signals(store, customers=60, feedback=120)
    first = service.demo_step(store)
    assert first["opened"] > 0 and first["open"] == first["opened"] - first["held_out"] and first["overdue"] == 0
    assert service.demo_step(store)["opened"] == 0


def test_erasing_a_person_removes_their_cases_and_each_case_history(store: Store) -> None:
    from heedful.services.privacy import erase_subject

    fill_signals(store)
    service.open_cases(store)
    who = store.fetchall(
        "SELECT customer_id FROM cases WHERE customer_id IS NOT NULL AND customer_id <> '' "
        "AND NOT coalesce(holdout, FALSE) GROUP BY customer_id ORDER BY COUNT(*) DESC, customer_id LIMIT 1"
    )[0][0]
    theirs = [r[0] for r in store.fetchall("SELECT case_id FROM cases WHERE customer_id = ?", [who])]
    worked = store.fetchall(
        "SELECT case_id FROM cases WHERE customer_id = ? AND NOT coalesce(holdout, FALSE) ORDER BY case_id", [who]
    )[0][0]
    service.add_note(store, worked, "Called them back.", "agent@example.com")  # held-out cases take no work
    others = store.count("cases") - len(theirs)
    erase_subject(store, who)
    assert store.fetchall("SELECT COUNT(*) FROM cases WHERE customer_id = ?", [who])[0][0] == 0
    marks = ", ".join("?" for _ in theirs)
    assert store.fetchall(f"SELECT COUNT(*) FROM case_events WHERE case_id IN ({marks})", theirs)[0][0] == 0
    assert store.count("cases") == others  # nobody else's case went with them
