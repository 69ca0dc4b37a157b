"""Who hears about a case or an alert, what the message says, and when a failed message is tried again."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from heedful.cases import notify
from heedful.cases.notify import AlertFacts, CaseFacts, Subscription
from heedful.errors import InputError

NOW = datetime(2026, 11, 2, 9, 0)
CASE = CaseFacts(
    case_id="k1",
    customer="Ann Example",
    customer_id="C1",
    what="Delivery speed",
    department="delivery",
    department_name="Delivery / logistics",
    theme="delivery_speed",
    priority="high",
    due_at=datetime(2026, 11, 3, 9, 0),
    quote="The parcel came a week late and the mug was chipped",
    link="https://shop.example/cases/k1",
)


def test_back_off_waits_1_5_25_125_625_minutes_then_gives_up_after_six_tries() -> None:
    waits = [notify.after_failure(n, NOW) for n in range(1, 7)]
    assert [w[0] for w in waits] == ["pending"] * 5 + ["failed"]
    assert [w[1] - NOW for w in waits[:5] if w[1] is not None] == [timedelta(minutes=m) for m in (1, 5, 25, 125, 625)]
    assert waits[5][1] is None


def _sub(email: str, event: str = "new_case", **narrow: str) -> Subscription:
    return Subscription(subscription_id=email, email=email, event=event, **narrow)  # type: ignore[arg-type]


def test_a_subscription_matches_only_what_it_narrows_to() -> None:
    subs = [
        _sub("all@shop.example"),
        _sub("delivery@shop.example", department="delivery"),
        _sub("quality@shop.example", theme="product_quality"),
        _sub("overdue@shop.example", event="case_overdue"),
    ]
    got = notify.recipients(subs, "new_case", "delivery", "delivery_speed")
    assert got == [("email", "all@shop.example"), ("email", "delivery@shop.example")]
    assert notify.recipients(subs, "new_case", "product", "product_quality") == [
        ("email", "all@shop.example"),
        ("email", "quality@shop.example"),
    ]
    kinds = [_sub("a@x.example", event="alert_raised", alert_kind="need_worsened")]
    assert notify.recipients(kinds, "alert_raised", None, None, "need_worsened") == [("email", "a@x.example")]
    assert notify.recipients(kinds, "alert_raised", None, None, "segment_nps_drop") == []


def test_everyone_hears_once_even_when_several_subscriptions_match() -> None:
    subs = [
        _sub("Lead@Shop.example", event="case_overdue"),
        _sub("lead@shop.example", event="case_overdue", department="delivery"),
        Subscription("h", "lead@shop.example", "case_overdue", channel="webhook", target="https://hooks.example/x"),
    ]
    got = notify.recipients(subs, "case_overdue", "delivery", also=[("email", "lead@shop.example")])
    assert got == [("email", "lead@shop.example"), ("webhook", "https://hooks.example/x")]


def test_messages_carry_a_stable_key_and_say_what_happened_in_words() -> None:
    assigned = notify.case_assigned(CASE, "Bob@Shop.example", "ann@shop.example")
    assert assigned.idempotency_key == "case_assigned:k1:bob@shop.example"
    assert assigned.recipient == "Bob@Shop.example" and assigned.customer_id == "C1"
    assert assigned.subject == "Case assigned to you: Ann Example — Delivery speed"
    assert "assigned to you by ann@shop.example" in assigned.body
    assert "“The parcel came a week late and the mug was chipped”" in assigned.body
    assert "Due: 2026-11-03 09:00" in assigned.body and "https://shop.example/cases/k1" in assigned.body
    overdue = notify.case_overdue(CASE, "email", "Lead@shop.example")
    assert overdue.idempotency_key == "case_overdue:k1:email:lead@shop.example"
    assert "past its due date" in overdue.body
    alert = AlertFacts(
        "a1", "need_worsened", "Deliveries on time fell", "n=400", "high", "2026-10", "delivery", "Delivery", None
    )
    message = notify.alert_raised(alert, "webhook", "https://hooks.example/x")
    assert message.idempotency_key == "alert:a1:webhook:https://hooks.example/x"
    assert "A customer need got worse" in message.body and message.customer_id is None
    # the same key always gives the same Message-ID, so a receiver can drop a repeat
    headers = notify.email_headers(assigned.idempotency_key)
    assert headers == notify.email_headers("case_assigned:k1:bob@shop.example")
    assert headers["X-Heedful-Id"] == assigned.idempotency_key and headers["Message-ID"].startswith("<")
    payload = notify.webhook_payload(message.subject, message.body, message.idempotency_key, "alert_raised")
    assert payload["text"].startswith("*Alert raised: Deliveries on time fell*")
    assert payload["heedful_id"] == message.idempotency_key


def test_a_subscription_names_a_known_event_channel_and_an_http_webhook() -> None:
    notify.check_subscription("alert_raised", "webhook", "https://hooks.slack.example/T1", "need_worsened", None)
    with pytest.raises(InputError, match="Choose what to hear about"):
        notify.check_subscription("case_assigned", "email", None, None, None)
    with pytest.raises(InputError, match="https://"):
        notify.check_subscription("new_case", "webhook", "file:///etc/passwd", None, None)
    with pytest.raises(InputError, match="alert notifications only"):
        notify.check_subscription("new_case", "email", None, "need_worsened", None)
    with pytest.raises(InputError, match="kind of alert"):
        notify.check_subscription("alert_raised", "email", None, "bogus", None)
    same = notify.subscription_id_of("A@x.example", "new_case", "email", None, "delivery", None, None)
    assert same == notify.subscription_id_of("a@x.example", "new_case", "email", None, "delivery", None, None)
