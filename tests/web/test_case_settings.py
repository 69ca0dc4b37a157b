"""The closed loop's settings in the web app: case rules (admins change, everyone reads), mail settings with a
test message caught by a local SMTP server, and department members working their own department's cases."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.receivers import smtp_server

from heedful.services import accounts, case_rules, mail
from heedful.services import cases as case_service
from heedful.services.accounts import Role
from heedful.store import Store

from .conftest import PASSWORD, csrf_header, sign_in

RAW = re.compile(r"\bNone\b|\bnan\b|\{'|\['|Traceback")


def _post(client: TestClient, path: str, data: dict[str, Any] | None = None) -> Any:
    return client.post(path, data=data or {}, headers=csrf_header(client), follow_redirects=False)


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html.split("<body", 1)[-1])


# ---------------------------------------------------------------- case rules
def test_everyone_may_read_the_case_rules_and_only_admins_change_them(clients: dict[Role, TestClient]) -> None:
    for role in (Role.viewer, Role.analyst):
        page = clients[role].get("/settings/cases")
        assert page.status_code == 200
        assert "Only an admin can change these rules." in page.text
        assert "Save the case rules" not in page.text and "<fieldset disabled" in page.text
        assert _post(clients[role], "/settings/cases", {"holdout_share": "5"}).status_code == 403
        assert _post(clients[role], "/settings/cases/reset").status_code == 403
    page = clients[Role.admin].get("/settings/cases")
    assert "Save the case rules" in page.text and "<fieldset disabled" not in page.text
    assert 'name="departments.delivery.high"' in page.text  # an SLA row per department
    assert not RAW.search(_text(page.text))


def _rules_form(client: TestClient, **change: str) -> dict[str, Any]:
    """The rules form as the admin's browser would post it, with `change` typed in (dots as __)."""
    html = client.get("/settings/cases").text
    form: dict[str, Any] = {}
    for tag in re.findall(r"<input[^>]+>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or name.group(1) == "csrf_token":
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                form.setdefault(name.group(1), []).append(value.group(1) if value else "on")
        else:
            form[name.group(1)] = value.group(1) if value else ""
    for select in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', select[1])
        form[select[0]] = chosen.group(1) if chosen else ""
    form.update({k.replace("__", "."): v for k, v in change.items()})
    return form


def test_an_admin_saves_the_rules_and_mistakes_are_shown_next_to_the_field(
    clients: dict[Role, TestClient], web_store: Store
) -> None:
    admin = clients[Role.admin]
    refused = _post(
        admin,
        "/settings/cases",
        _rules_form(admin, triggers__survey__nps_max="six", holdout_share="60", departments__delivery__high="-2"),
    )
    assert refused.status_code == 400
    text = _text(refused.text)
    assert "The rules were not saved: 3 settings to correct" in text
    assert re.search(r'name="triggers.survey.nps_max"[^>]*value="six"', refused.text)  # what was typed stays
    assert 'data-testid="problem-triggers.survey.nps_max">Must be a number.' in refused.text
    assert 'data-testid="problem-holdout_share">Must be a percentage from 0 to 50%.' in refused.text
    assert 'data-testid="problem-departments.delivery.high">Must be more than 0.' in refused.text
    assert case_rules.saved_rules(web_store) is None

    form = _rules_form(admin, triggers__survey__nps_max="5", holdout_share="0", departments__delivery__high="8")
    form.pop("triggers.churn.enabled", None)  # unticked
    saved = _post(admin, "/settings/cases", form)
    assert saved.status_code == 303, saved.text[:500]
    rules = case_service.load_rules(web_store)
    assert rules.triggers.survey.nps_max == 5 and rules.holdout_share == 0
    assert not rules.triggers.churn.enabled and rules.triggers.survey.enabled
    assert rules.sla_for("delivery").high == 8 and rules.sla_for("delivery").low == rules.sla_hours.low
    assert set(rules.departments) == {"delivery"}
    page = admin.get("/settings/cases").text
    assert "Case rules saved" in page and "used instead of the rules file" in page
    assert re.search(r'name="departments.delivery.high"[^>]*value="8"', page)

    assert _post(admin, "/settings/cases/reset").status_code == 303
    assert case_rules.saved_rules(web_store) is None


# ---------------------------------------------------------------- mail
def test_mail_settings_are_for_admins_only(clients: dict[Role, TestClient]) -> None:
    for role in (Role.viewer, Role.analyst):
        assert clients[role].get("/settings/mail").status_code == 403
        for path in ("/settings/mail", "/settings/mail/test", "/settings/mail/forget"):
            assert _post(clients[role], path, {"host": "x"}).status_code == 403


def test_mail_settings_saved_in_the_web_app_send_a_test_message_and_can_be_forgotten(
    clients: dict[Role, TestClient], web_store: Store
) -> None:
    admin = clients[Role.admin]
    assert 'data-testid="mail-off"' in admin.get("/settings/mail").text
    with smtp_server() as (port, smtp):
        received = smtp.envelopes
        bad = _post(admin, "/settings/mail", {"host": "127.0.0.1", "port": str(port), "password_env": "hunter2 secret"})
        assert bad.status_code == 400
        assert "not the password itself" in bad.text
        assert mail.saved_delivery_settings(web_store) is None
        form = {
            "host": "127.0.0.1",
            "port": str(port),
            "security": "none",
            "sender": "care@shop.example",
            "username": "",
            "password_env": "SHOP_SMTP_PASSWORD",
            "webhook_url": "",
        }
        assert _post(admin, "/settings/mail", form).status_code == 303
        saved = mail.delivery_settings(web_store)
        assert saved.smtp is not None and saved.smtp.port == port and saved.smtp.sender == "care@shop.example"
        assert saved.smtp.password_env == "SHOP_SMTP_PASSWORD" and saved.smtp.recipients == ["care@shop.example"]
        assert "hunter2" not in str(web_store.fetchall("SELECT value FROM app_settings"))
        sent = _post(admin, "/settings/mail/test")
        assert "A test message was sent to admin@example.com via 127.0.0.1:" in sent.text
        assert len(received) == 1 and received[0].rcpt_tos == ["admin@example.com"]
        assert message_from_bytes(received[0].content)["From"] == "care@shop.example"
    # the server is gone now: the error is said in words
    failed = _post(admin, "/settings/mail/test")
    assert "The test message could not be sent via 127.0.0.1:" in failed.text
    assert "connection refused" in failed.text and not RAW.search(_text(failed.text))
    assert _post(admin, "/settings/mail/forget").status_code == 303
    assert mail.saved_delivery_settings(web_store) is None
    assert 'data-testid="mail-off"' in admin.get("/settings/mail").text


# ---------------------------------------------------------------- department members
@pytest.fixture(scope="module")
def department_cases(web_store: Store) -> dict[str, str]:
    """A product case (C2's broken product) and a support case (C1's late delivery), none held out."""
    now = datetime(2024, 6, 30, 12, 0)
    web_store.insert_new(
        "feedback",
        pd.DataFrame(
            [
                {
                    "feedback_id": "FP",
                    "channel": "review",
                    "customer_id": "C2",
                    "author_kind": "customer",
                    "text": "The product broke after a week",
                    "rating": 1.0,
                    "rating_scale": 5.0,
                    "created_at": now - timedelta(days=2),
                }
            ]
        ),
    )
    web_store.insert_new(
        "feedback_enriched",
        pd.DataFrame(
            [
                {
                    "feedback_id": "FP",
                    "text_hash": "hFP",
                    "sentiment": "negative",
                    "sentiment_score": -0.9,
                    "themes": "product_quality",
                    "department": "product",
                    "redacted_text": "The product broke after a week",
                    "model_version": "t",
                    "processed_at": now,
                }
            ]
        ),
    )
    rules = case_service.load_rules(web_store).model_copy(update={"holdout_share": 0.0})
    case_service.open_cases(web_store, rules)
    frame = case_service.list_cases(web_store, status="all", limit=100)
    by_department = {str(r.department): str(r.case_id) for r in frame.itertuples()}
    assert {"product", "support"} <= set(by_department), by_department
    return by_department


@pytest.fixture(scope="module")
def member(app: FastAPI, web_store: Store) -> Iterator[TestClient]:
    """A viewer who belongs to the product department, signed in."""
    accounts.create_user(web_store, "pat@example.com", Role.viewer, PASSWORD, department="product")
    with TestClient(app, base_url="http://testserver") as client:
        yield sign_in(client, "pat@example.com")


def test_a_department_member_works_their_departments_cases_only(
    member: TestClient, clients: dict[Role, TestClient], department_cases: dict[str, str]
) -> None:
    mine, theirs = department_cases["product"], department_cases["support"]
    page = member.get(f"/cases/{mine}").text
    assert "Assign to me" in page and "Send the reply" in page
    assert "Assign to me" not in member.get(f"/cases/{theirs}").text
    assert _post(member, f"/cases/{mine}/take").status_code == 303
    assert _post(member, f"/cases/{mine}/notes", {"text": "Calling them today"}).status_code == 303
    assert _post(member, f"/cases/{mine}/status", {"status": "in_progress"}).status_code == 303
    replied = _post(member, f"/cases/{mine}/reply", {"text": "Dear Grace, a new one is on its way."})
    assert replied.status_code == 303
    assert "Mail is off" in member.get(f"/cases/{mine}").text  # no mail settings: logged, and said so
    case = case_service.get_case(member.app.state.store, mine)  # type: ignore[attr-defined]
    assert case["assignee"] == "pat@example.com" and case["status"] == "waiting_for_customer"
    assert [h["action"] for h in case["history"]][-5:] == ["assigned", "note", "status", "reply", "status"]
    assert {h["actor"] for h in case["history"][1:]} == {"pat@example.com"}
    for path, data in (
        (f"/cases/{theirs}/take", {}),
        (f"/cases/{theirs}/notes", {"text": "x"}),
        (f"/cases/{theirs}/status", {"status": "in_progress"}),
        (f"/cases/{theirs}/reply", {"text": "x"}),
        ("/cases/assign", {"case_id": mine, "assignee": "pat@example.com"}),  # bulk assign: analysts
        ("/cases/open", {}),
    ):
        refused = _post(member, path, data)
        assert refused.status_code == 403, path
    assert "belongs to another department" in _post(member, f"/cases/{theirs}/notes", {"text": "x"}).text
    # a viewer in no department works no case; analysts work every case
    assert _post(clients[Role.viewer], f"/cases/{mine}/notes", {"text": "x"}).status_code == 403
    assert _post(clients[Role.analyst], f"/cases/{theirs}/notes", {"text": "Looked at it"}).status_code == 303


def test_the_api_lets_a_department_member_take_and_work_their_cases(
    member: TestClient, department_cases: dict[str, str]
) -> None:
    mine, theirs = department_cases["product"], department_cases["support"]
    headers = csrf_header(member)
    assert member.patch(f"/api/v1/cases/{mine}", json={"note": "via the API"}, headers=headers).status_code == 200
    given = member.patch(f"/api/v1/cases/{mine}", json={"assignee": "someone@example.com"}, headers=headers)
    assert given.status_code == 403 and "to themselves only" in given.json()["detail"]
    taken = member.patch(f"/api/v1/cases/{mine}", json={"assignee": "pat@example.com"}, headers=headers)
    assert taken.status_code == 200 and taken.json()["assignee"] == "pat@example.com"
    assert member.post(f"/api/v1/cases/{mine}/notes", json={"text": "more"}, headers=headers).status_code == 201
    refused = member.patch(f"/api/v1/cases/{theirs}", json={"note": "x"}, headers=headers)
    assert refused.status_code == 403 and refused.json()["required_role"] == "analyst"
    assert member.post(f"/api/v1/cases/{theirs}/reply", json={"text": "x"}, headers=headers).status_code == 403
    listed = member.get("/api/v1/cases?department=mine&status=all").json()
    assert listed["items"] and {i["department"] for i in listed["items"]} == {"product"}


def test_the_inbox_filters_my_department(
    member: TestClient, clients: dict[Role, TestClient], department_cases: dict[str, str]
) -> None:
    page = member.get("/cases?department=mine&status=all").text
    assert "My department (Product management)" in page and "You belong to Product management" in page
    assert department_cases["product"] in page and department_cases["support"] not in page
    assert "Open cases now" not in page  # opening cases is for analysts
    assert "My department" not in clients[Role.analyst].get("/cases").text  # the analyst belongs to none
    assert clients[Role.analyst].get("/cases?department=mine").status_code == 400


def test_admins_set_a_users_department_on_the_settings_page(clients: dict[Role, TestClient], web_store: Store) -> None:
    admin = clients[Role.admin]
    added = _post(admin, "/settings/users", {"email": "sam@example.com", "role": "viewer", "department": "sales"})
    assert added.status_code == 200 and "Added sam@example.com as viewer." in added.text
    sam = accounts.find_user(web_store, "sam@example.com")
    assert sam is not None and sam.department == "sales"
    assert _post(admin, f"/settings/users/{sam.user_id}", {"department": "support"}).status_code == 303
    assert accounts.get_user(web_store, sam.user_id).department == "support"
    assert _post(admin, f"/settings/users/{sam.user_id}", {"role": "viewer"}).status_code == 303  # kept
    assert accounts.get_user(web_store, sam.user_id).department == "support"
    assert _post(admin, f"/settings/users/{sam.user_id}", {"department": "none"}).status_code == 303
    assert accounts.get_user(web_store, sam.user_id).department is None
    wrong = _post(admin, f"/settings/users/{sam.user_id}", {"department": "finance"})
    assert wrong.status_code == 400 and "There is no department" in wrong.text
    page = admin.get("/settings").text
    assert 'href="/settings/cases"' in page and 'href="/settings/mail"' in page


def test_an_analyst_opens_cases_now_from_the_inbox(clients: dict[Role, TestClient], department_cases: Any) -> None:
    analyst = clients[Role.analyst]
    assert "Open cases now" in analyst.get("/cases").text
    opened = _post(analyst, "/cases/open")
    assert opened.status_code == 303
    assert "No new cases to open." in analyst.get("/cases").text  # everything already has its case


def test_the_inbox_figures_follow_a_change_at_once(
    clients: dict[Role, TestClient], department_cases: dict[str, str]
) -> None:
    analyst = clients[Role.analyst]

    def resolved() -> int:
        found = re.search(r'data-testid="cases-resolved">([\d,]+)<', analyst.get("/cases").text)
        assert found
        return int(found.group(1).replace(",", ""))

    before = resolved()
    assert resolved() == before  # kept between visits
    case_id = department_cases["support"]
    for status in ("in_progress", "resolved"):
        assert _post(analyst, f"/cases/{case_id}/status", {"status": status}).status_code == 303
    assert resolved() == before + 1
