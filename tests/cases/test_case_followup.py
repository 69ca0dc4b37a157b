"""A case reply can end with the one-question follow-up survey: the link reaches the customer, their answer is
stored as theirs, and the closed-loop recovery figure does not count it (only followed-up customers are asked)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.surveys.conftest import hidden

from heedful.errors import InputError
from heedful.journey.delivery import DeliverySettings, SmtpSettings
from heedful.services import cases as service
from heedful.services.case_followup import FOLLOW_UP_SLUG
from heedful.services.surveys import answers_of_type
from heedful.store import Store
from heedful.web.app import create_app
from heedful.web.survey_responses import RESPONSE_FIELD

from .conftest import fill_signals


def test_a_reply_with_the_follow_up_question_reaches_the_customer_and_their_answer_is_theirs(
    duck_store: Store, smtp_inbox: tuple[int, list[Any]]
) -> None:
    port, received = smtp_inbox
    fill_signals(duck_store)
    service.open_cases(duck_store)
    case = service.list_cases(duck_store, limit=1000).query("customer_id == 'C0000001'").iloc[0]
    settings = DeliverySettings(smtp=SmtpSettings(host="127.0.0.1", port=port, recipients=["ops@shop.example"]))
    result = service.reply(
        duck_store, case["case_id"], "We miss you.", "ann", settings=settings, follow_up_base_url="http://testserver/"
    )
    assert result["sent"] is True and received[0].rcpt_tos == ["ann@example.com"]
    body = received[0].content.decode()
    found = re.search(rf"http://testserver/s/{FOLLOW_UP_SLUG}\?t=([\w-]+)", body)
    assert found and "We miss you." in body and "how we handled it" in body
    reply = next(e for e in result["case"]["history"] if e["action"] == "reply")
    assert reply["detail"]["follow_up"] is True and found.group(0) in reply["detail"]["text"]

    app = create_app(store=duck_store, secret_key="s")
    visitor = TestClient(app, base_url="http://testserver")
    link = found.group(0).removeprefix("http://testserver")
    page = visitor.get(link)
    assert page.status_code == 200 and "How satisfied are you with how we handled it?" in page.text
    form = {
        "csrf_token": hidden(page.text, "csrf_token"),
        "idempotency_key": hidden(page.text, "idempotency_key"),
        "page": "0",
        RESPONSE_FIELD: hidden(page.text, RESPONSE_FIELD),
        "t": hidden(page.text, "t"),
        "handled": "5",
    }
    assert visitor.post(link.split("?")[0], data=form, follow_redirects=False).status_code == 303
    csat = answers_of_type(duck_store, "csat", completed_only=True)
    mine = csat[csat["slug"] == FOLLOW_UP_SLUG]
    assert mine[["customer_id", "score"]].values.tolist() == [["C0000001", 5.0]]

    # a second follow-up reuses the survey (one definition) and gives a new personal link
    service.reply(duck_store, case["case_id"], "Any news?", "ann", settings=settings, follow_up_base_url="http://x/")
    assert duck_store.fetchall("SELECT COUNT(*) FROM surveys WHERE slug = ?", [FOLLOW_UP_SLUG]) == [(1,)]
    assert service._survey_answers(duck_store, follow_ups=False)["slug"].ne(FOLLOW_UP_SLUG).all()
    assert (service._survey_answers(duck_store)["slug"] == FOLLOW_UP_SLUG).sum() == 1


def test_the_follow_up_needs_a_customer_and_a_web_address(duck_store: Store) -> None:
    fill_signals(duck_store)
    service.open_cases(duck_store)
    cases = service.list_cases(duck_store, limit=1000)
    no_customer = cases[cases["customer_id"].isna()].iloc[0]["case_id"]
    with pytest.raises(InputError, match="no customer"):
        service.reply(duck_store, no_customer, "Hi", "ann", settings=DeliverySettings(), follow_up_base_url="http://x")
    someone = cases[cases["customer_id"].notna()].iloc[0]["case_id"]
    with pytest.raises(InputError, match="address"):
        service.reply(duck_store, someone, "Hi", "ann", settings=DeliverySettings(), follow_up_base_url="localhost")
    assert duck_store.count("invitations") == 0
