"""Survey invitations by e-mail, to a real local SMTP server (aiosmtpd), on DuckDB and PostgreSQL: the right
links, status sent -> opened -> completed as the customer visits and answers, no e-mail twice, one reminder only
to non-responders, unsubscribe honoured, failures recorded with the reason, and mail off."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.receivers import smtp_server
from tests.surveys.conftest import ANALYST, hidden

from heedful.services import survey_invites as invites
from heedful.services.accounts import Role, create_user
from heedful.services.mail import save_delivery_settings
from heedful.services.privacy import erase_subject, export_subject
from heedful.services.surveys import save_definition
from heedful.store import Store
from heedful.surveys.definition import parse_survey
from heedful.web.app import create_app
from heedful.web.survey_responses import RESPONSE_FIELD

QUICK = """
slug: quick-pulse
title: Quick pulse
intro: Hi {{customer.name}}, one question.
pages:
  - id: only
    questions:
      - {id: nps, type: nps, text: "Would you recommend us?"}
"""
BOUNCE = "gone@shop.example"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == BOUNCE:
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list[Any]:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def inbox() -> Iterator[tuple[int, Inbox]]:
    with smtp_server(Inbox()) as served:
        yield served


def _seed(store: Store, port: int | None) -> None:
    save_definition(store, parse_survey(QUICK))
    now = datetime(2026, 5, 1)
    people = [
        ("C1", "customer", "Ada Lovelace", "ada@shop.example"),
        ("C2", "customer", "Grace Hopper", "grace@shop.example"),
        ("C3", "customer", "Alan Turing", None),
        ("C4", "prospect", "Pat Prospect", "pat@shop.example"),
        ("C5", "customer", "Gone Away", BOUNCE),
    ]
    store.insert_new(
        "customers",
        pd.DataFrame(
            [{"customer_id": c, "kind": k, "name": n, "email": e, "created_at": now} for c, k, n, e in people]
        ),
    )
    store.insert_new(
        "customer_value",
        pd.DataFrame(
            [
                {"customer_id": c, "model": "rfm", "segment": s, "computed_at": now}
                for c, s in (("C1", "at risk"), ("C2", "loyal"), ("C4", "at risk"))
            ]
        ),
    )
    create_user(store, ANALYST[0], Role.analyst, ANALYST[1])
    if port is not None:
        smtp = {"host": "127.0.0.1", "port": port, "recipients": ["ops@shop.example"], "sender": "survey@shop.example"}
        save_delivery_settings(store, {"smtp": smtp}, "test")


def _analyst(app: Any) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token
    data = {"email": ANALYST[0], "password": ANALYST[1], "csrf_token": token.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


def _links(message: Any) -> tuple[str, str]:
    body = message.get_content()
    survey = re.search(r"(http://testserver/s/quick-pulse\?t=[\w-]+)", body)
    leave = re.search(r"(http://testserver/s/quick-pulse/unsubscribe\?t=[\w-]+)", body)
    assert survey and leave, body
    return survey.group(1).removeprefix("http://testserver"), leave.group(1).removeprefix("http://testserver")


def _states(store: Store) -> dict[str, str]:
    rows, _ = invites.invitation_status(store, "quick-pulse")
    return dict(zip(rows["customer_id"], rows["state"], strict=True))


def _answer(app: Any, link: str, score: str = "9") -> None:
    visitor = TestClient(app, base_url="http://testserver")
    page = visitor.get(link)
    assert page.status_code == 200 and "Would you recommend us?" in page.text
    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "page": "0",
        RESPONSE_FIELD: hidden(page.text, RESPONSE_FIELD),
        "t": hidden(page.text, "t"),
        "nps": score,
    }
    assert visitor.post(link.split("?")[0], data=form, follow_redirects=False).status_code == 303


def test_invitations_are_emailed_once_with_personal_links_and_status_follows_the_customer(
    store: Store, inbox: tuple[int, Inbox]
) -> None:
    port, mail = inbox
    _seed(store, port)
    app = create_app(store=store, secret_key="s")
    analyst = _analyst(app)
    page = analyst.get("/surveys/quick-pulse/invitations")
    assert "E-mail is off" not in page.text and "Segment: at risk" in page.text
    form = {"csrf_token": hidden(page.text, "csrf_token"), "batch_id": hidden(page.text, "batch_id")}
    sent = analyst.post("/surveys/quick-pulse/invitations/send", data={**form, "audience": "customer"})
    assert sent.status_code == 200 and "Invitations sent: 2" in sent.text and "no e-mail address: 1" in sent.text
    assert "could not be sent: 1" in sent.text and "The mail server refused the address (550" in sent.text
    assert sorted(m["To"] for m in mail.messages) == ["ada@shop.example", "grace@shop.example"]
    ada = mail.to("ada@shop.example")[0]
    assert ada["Subject"] == "Quick pulse" and ada["From"] == "survey@shop.example"
    assert "Hello Ada Lovelace," in ada.get_content() and "Hi Ada Lovelace, one question." in ada.get_content()
    assert _states(store) == {"C1": "sent", "C2": "sent", "C5": "failed"}

    again = analyst.post("/surveys/quick-pulse/invitations/send", data={**form, "audience": "customer"})
    assert "Invitations sent: 0" in again.text and "already invited before, not e-mailed again: 3" in again.text
    other_batch = analyst.post(
        "/surveys/quick-pulse/invitations/send", data={**form, "batch_id": "b_other", "audience": "segment:at risk"}
    )
    assert "Invitations sent: 1" in other_batch.text  # Pat the prospect; Ada was invited already
    assert len(mail.messages) == 3 and len(mail.to("ada@shop.example")) == 1

    link, _ = _links(ada)
    visitor = TestClient(app, base_url="http://testserver")
    assert visitor.get(link).status_code == 200 and visitor.get(link).status_code == 200
    assert _states(store)["C1"] == "opened"
    (opened_at,) = store.fetchall("SELECT opened_at FROM invitations WHERE customer_id = 'C1'")[0]
    assert opened_at is not None
    _answer(app, link)
    assert _states(store) == {"C1": "completed", "C2": "sent", "C4": "sent", "C5": "failed"}
    status = analyst.get("/surveys/quick-pulse/invitations").text
    assert '<tr data-state="completed"><td>Ada Lovelace</td>' in status
    assert "Could not be sent" in status and "No such mailbox" in status
    assert store.fetchall("SELECT customer_id FROM responses") == [("C1",)]


def test_one_reminder_goes_only_to_those_who_have_not_answered(store: Store, inbox: tuple[int, Inbox]) -> None:
    port, mail = inbox
    _seed(store, port)
    app = create_app(store=store, secret_key="s")
    sent_at = datetime.now(UTC).replace(tzinfo=None)
    result = invites.send_invitations(store, "quick-pulse", "all", "http://testserver", batch_id="b1", now=sent_at)
    assert result.sent == 3 and set(result.failed) == {"C5"}
    first_link, _ = _links(mail.to("ada@shop.example")[0])
    _answer(app, first_link)  # Ada answers; Grace and Pat do not

    assert invites.send_reminders(store, "quick-pulse", sent_at, wait=timedelta(days=3)).sent == 0  # too early
    later = sent_at + timedelta(days=4)
    reminded = invites.send_reminders(store, "quick-pulse", later, wait=timedelta(days=3))
    assert reminded.sent == 2 and not reminded.failed
    reminders = [m for m in mail.messages if m["Subject"] == "Reminder: Quick pulse"]
    assert sorted(m["To"] for m in reminders) == ["grace@shop.example", "pat@shop.example"]
    assert invites.send_reminders(store, "quick-pulse", later + timedelta(days=9)).sent == 0  # once only
    assert len(mail.messages) == 5

    grace_first, _ = _links(mail.to("grace@shop.example")[0])
    grace_reminder, _ = _links(next(m for m in reminders if m["To"] == "grace@shop.example"))
    assert grace_first != grace_reminder
    assert TestClient(app, base_url="http://testserver").get(grace_first).status_code == 200  # still works
    _answer(app, grace_reminder)  # the reminder's link answers the same invitation
    assert _states(store) == {"C1": "completed", "C2": "completed", "C4": "sent", "C5": "failed"}
    _, counts = invites.invitation_status(store, "quick-pulse")
    assert (counts["completed"], counts["reminded"], counts["invited"]) == (2, 2, 4)


def test_unsubscribed_customers_are_never_emailed_again(store: Store, inbox: tuple[int, Inbox]) -> None:
    port, mail = inbox
    _seed(store, port)
    save_definition(store, parse_survey(QUICK.replace("quick-pulse", "next-pulse")))
    app = create_app(store=store, secret_key="s")
    now = datetime.now(UTC).replace(tzinfo=None)
    invites.send_invitations(store, "quick-pulse", "customer", "http://testserver", batch_id="b1", now=now)
    _, leave = _links(mail.to("grace@shop.example")[0])
    grace = TestClient(app, base_url="http://testserver")
    ask = grace.get(leave)
    assert ask.status_code == 200 and "No more survey e-mails?" in ask.text
    assert store.count("survey_unsubscribes") == 0  # opening the link (a mail scanner does) records nothing
    done = grace.post(
        "/s/quick-pulse/unsubscribe", data={"csrf_token": hidden(ask.text, "csrf_token"), "t": hidden(ask.text, "t")}
    )
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert grace.get("/s/quick-pulse/unsubscribe?t=not-a-real-token").status_code == 404

    assert invites.send_reminders(store, "quick-pulse", now + timedelta(days=1)).sent == 1  # Ada only
    assert [m["To"] for m in mail.messages if m["Subject"].startswith("Reminder")] == ["ada@shop.example"]
    result = invites.send_invitations(store, "next-pulse", "all", "http://testserver", batch_id="b2")
    assert (result.sent, result.unsubscribed) == (2, 1)  # Ada and Pat; Grace left out (C5 bounces)
    assert len(mail.to("grace@shop.example")) == 1
    links = invites.links(store, "next-pulse", "all", "http://testserver")
    assert "C2" not in set(links["customer_id"])


def test_without_mail_settings_the_page_says_mail_is_off_and_offers_the_links(store: Store) -> None:
    _seed(store, None)
    analyst = _analyst(create_app(store=store, secret_key="s"))
    page = analyst.get("/surveys/quick-pulse/invitations")
    assert "E-mail is off" in page.text and "Download the links" in page.text
    form = {"csrf_token": hidden(page.text, "csrf_token"), "batch_id": hidden(page.text, "batch_id")}
    refused = analyst.post("/surveys/quick-pulse/invitations/send", data={**form, "audience": "all"})
    assert refused.status_code == 422 and "E-mail is off" in refused.text
    assert store.fetchall("SELECT COUNT(*) FROM invitations") == [(0,)]
    csv = analyst.post("/surveys/quick-pulse/invitations/links.csv", data={**form, "audience": "segment:at risk"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("customer_id,name,email,link") and len(lines) == 3
    assert "http://testserver/s/quick-pulse?t=" in lines[1]


def test_erasing_a_customer_removes_their_invitation_address_and_unsubscribe(
    store: Store, inbox: tuple[int, Inbox]
) -> None:
    port, mail = inbox
    _seed(store, port)
    invites.send_invitations(store, "quick-pulse", "customer", "http://testserver", batch_id="b1")
    _, leave = _links(mail.to("grace@shop.example")[0])
    assert invites.unsubscribe(store, "quick-pulse", leave.split("t=")[1])
    exported = export_subject(store, "C2")["tables"]
    assert exported["invitations"][0]["email"] == "grace@shop.example" and exported["survey_unsubscribes"]
    erase_subject(store, "C2")
    assert store.fetchall("SELECT COUNT(*) FROM invitations WHERE lower(email) = 'grace@shop.example'") == [(0,)]
    assert store.count("survey_unsubscribes") == 0


def test_the_scheduled_reminder_run_reminds_each_waiting_invitee_once(store: Store, inbox: tuple[int, Inbox]) -> None:
    port, mail = inbox
    _seed(store, port)
    sent_at = datetime.now(UTC).replace(tzinfo=None)
    invites.send_invitations(store, "quick-pulse", "all", "http://testserver", batch_id="b1", now=sent_at)
    assert invites.send_due_reminders(store, sent_at + timedelta(days=1)) == {"surveys": 0, "sent": 0, "failed": 0}
    due = invites.send_due_reminders(store, sent_at + timedelta(days=4))
    assert due == {"surveys": 1, "sent": 3, "failed": 0}  # Ada, Grace and Pat; C5 was never e-mailed (refused)
    assert invites.send_due_reminders(store, sent_at + timedelta(days=9))["sent"] == 0  # never twice
    assert len([m for m in mail.messages if m["Subject"].startswith("Reminder")]) == 3
