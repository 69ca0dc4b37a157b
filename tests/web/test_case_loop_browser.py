"""The closed loop end to end in Chromium: a detractor's survey answer becomes a case that an analyst opens,
takes, answers by e-mail (caught by a real local SMTP server set on the mail settings page) and resolves.

Skipped (with the reason) where /usr/bin/chromium is missing, except under CI=true.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

import pandas as pd
import pytest
from tests.receivers import smtp_server

from heedful.services import cases as case_service
from heedful.services.accounts import Role, create_user
from heedful.services.surveys import create_survey, invite
from heedful.store import Store, connect
from heedful.web.app import create_app

from .conftest import EMAILS, PASSWORD
from .test_browser import browser, served  # noqa: F401  (the Chromium fixture, skipped where it is missing)

pytestmark = pytest.mark.browser

SURVEY = """\
slug: after-delivery
title: How did we do?
pages:
  - id: main
    questions:
      - id: recommend
        type: nps
        text: How likely is it that you would recommend us to a friend?
      - id: why
        type: text
        text: What is the main reason for your score?
        required: false
"""
CUSTOMER = {"customer_id": "C42", "name": "Ann Lee", "email": "ann.lee@example.com"}


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store, str]]:
    """The app on a free port over a store with one customer, an NPS survey and her personal survey link."""
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('case-loop') / 'heedful.duckdb'}")
    store.insert_new(
        "customers",
        pd.DataFrame([{**CUSTOMER, "kind": "customer", "created_at": pd.Timestamp("2024-01-05")}]),
    )
    for role in (Role.analyst, Role.admin):
        create_user(store, EMAILS[role], role, PASSWORD)
    create_survey(store, SURVEY, "after-delivery.yaml")
    with served(create_app(store=store, secret_key="loop")) as url:
        link = invite(store, "after-delivery", "customer_id = 'C42'", url)[0]["link"]
        yield url, store, link
    store.close()


def _sign_in(page: Any, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def test_a_detractor_is_answered_by_email_and_the_case_resolved(browser: Any, loop: tuple[str, Store, str]) -> None:  # noqa: F811
    base_url, store, link = loop
    with smtp_server() as (port, smtp):
        received = smtp.envelopes
        # the admin sets the mail server on the mail settings page …
        admin = browser.new_context(base_url=base_url).new_page()
        _sign_in(admin, EMAILS[Role.admin])
        admin.goto("/settings/mail")
        assert admin.get_by_test_id("mail-off").is_visible()
        admin.get_by_label("Mail server (host)").fill("127.0.0.1")
        admin.get_by_label("Port").fill(str(port))
        admin.get_by_label("Security").select_option("none")
        admin.get_by_label("Sender address").fill("care@shop.example")
        admin.get_by_role("button", name="Save the mail settings").click()
        assert "Mail settings saved" in admin.get_by_test_id("mail-message").inner_text()
        # and follows up every case (no holdout: a random one in ten would otherwise be kept back)
        admin.goto("/settings/cases")
        admin.get_by_label("Cases kept back, not followed up (%, 0 to 50)").fill("0")
        admin.get_by_role("button", name="Save the case rules").click()
        assert "Case rules saved" in admin.get_by_test_id("flash").inner_text()
        admin.context.close()

        # the customer answers 3 on her personal survey link
        customer = browser.new_context(java_script_enabled=False).new_page()
        customer.goto(link)
        customer.locator('input[name="recommend"][value="3"]').check()
        customer.get_by_label("What is the main reason for your score?").fill("The parcel came a week late")
        customer.get_by_role("button", name="Send answers").click()
        customer.wait_for_load_state()
        assert "Thank you" in customer.inner_text("body")
        customer.context.close()

        # the analyst opens cases, finds hers in the inbox, takes it, replies and resolves it
        page = browser.new_context(base_url=base_url).new_page()
        _sign_in(page, EMAILS[Role.analyst])
        page.goto("/cases")
        page.get_by_role("button", name="Open cases now").click()
        assert re.search(r"Opened 1 new case", page.get_by_test_id("flash").inner_text())
        row = page.get_by_test_id("case-row").filter(has_text="Ann Lee")
        assert row.count() == 1
        row.get_by_role("link", name="Unhappy survey answer").click()
        page.wait_for_url("**/cases/*")
        assert page.get_by_role("heading", level=1).inner_text() == "Unhappy survey answer: Ann Lee"
        page.get_by_role("button", name="Assign to me").click()
        assert page.get_by_test_id("case-assignee").inner_text() == EMAILS[Role.analyst]
        reply = page.get_by_label("Reply", exact=True)
        draft = reply.input_value()
        assert draft.startswith("Dear Ann Lee,") and "recommend us 3 out of 10" in draft
        reply.fill(draft.replace("\n\n\n\nKind regards", "\n\nA new parcel is on its way today.\n\nKind regards"))
        page.get_by_role("button", name="Send the reply").click()
        assert page.get_by_test_id("flash").inner_text() == "Reply sent to the customer, and logged on the case."
        assert page.get_by_test_id("case-status").inner_text() == "Waiting for customer"
        page.get_by_role("button", name="Resolved").click()
        assert page.get_by_test_id("case-status").inner_text() == "Resolved"
        history = page.get_by_test_id("case-history").inner_text()
        page.context.close()

    assert len(received) == 1
    envelope = received[0]
    assert envelope.rcpt_tos == [CUSTOMER["email"]]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["To"] == CUSTOMER["email"] and message["From"] == "care@shop.example"
    body = message.get_body().get_content()  # type: ignore[union-attr]
    assert body.startswith("Dear Ann Lee,")
    assert "You told us you would recommend us 3 out of 10." in body
    assert "A new parcel is on its way today." in body

    analyst = EMAILS[Role.analyst]
    lines = [line for line in history.splitlines() if line.strip()]
    assert len(lines) == 5, history
    assert "opened the case: Unhappy survey answer" in lines[0]
    assert f"{analyst} assigned it to {analyst}" in lines[1]
    assert f"{analyst} replied by e-mail to {CUSTOMER['email']}: Dear Ann Lee," in lines[2]
    assert "moved it from New to Waiting for customer" in lines[3]
    assert "moved it from Waiting for customer to Resolved" in lines[4]
    [case] = case_service.list_cases(store, status="all").to_dict(orient="records")
    assert case["customer_id"] == "C42" and case["status"] == "resolved" and case["assignee"] == analyst
