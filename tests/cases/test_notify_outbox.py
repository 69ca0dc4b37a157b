"""Notifications over the store, on DuckDB and PostgreSQL: queued once per key, sent once to a real SMTP server
or webhook, retried with back-off, and covered by erasure."""

from __future__ import annotations

import email
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from heedful.errors import InputError, NotFoundError
from heedful.journey.alerts import Alert
from heedful.journey.config import default_config
from heedful.journey.delivery import DeliverySettings, SmtpSettings
from heedful.services import cases, notifications
from heedful.services.accounts import Role, create_user
from heedful.services.journey import save_alerts
from heedful.services.privacy import erase_subject, export_subject
from heedful.store import Store

from .conftest import fill_signals

LATER = datetime(2030, 1, 1, 9, 0)  # every case is overdue by then
START = datetime(2031, 1, 1, 10, 0)  # after every message was queued (they are queued due now)
MAIL_OFF = DeliverySettings()


def smtp_at(port: int) -> DeliverySettings:
    return DeliverySettings(smtp=SmtpSettings(host="127.0.0.1", port=port, recipients=["unused@shop.example"]))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends: nothing answers there


def outbox(store: Store) -> pd.DataFrame:
    return store.query("SELECT * FROM outbox ORDER BY idempotency_key")


@pytest.fixture
def loop_store(store: Store) -> Iterator[Store]:
    """Signals with cases opened, two web users (bob and lead), delivery's lead reachable by e-mail."""
    fill_signals(store)
    departments = default_config().departments
    store.insert_new(
        "departments",
        pd.DataFrame(
            [
                {"department_id": d.id, "name": d.name, "email": "lead@shop.example" if d.id == "delivery" else None}
                for d in departments
            ]
        ).astype({"email": "object"}),
    )
    for who in ("bob@shop.example", "sub@shop.example"):
        create_user(store, who, Role.analyst, "correct-horse-battery")
    cases.open_cases(store, now=datetime(2026, 11, 1, 9, 0))
    yield store


def _some_case(store: Store, department: str | None = None) -> str:
    frame = cases.list_cases(store, department=department, limit=1)
    return str(frame.iloc[0]["case_id"])


# ---------------------------------------------------------------- queued once


def test_assigning_queues_one_message_to_the_assignee_and_reassigning_adds_none(loop_store: Store) -> None:
    case_id = _some_case(loop_store)
    cases.assign(loop_store, [case_id], "Bob@shop.example", "ann@shop.example")
    cases.assign(loop_store, [case_id], "bob@shop.example", "ann@shop.example")  # again: same key
    rows = outbox(loop_store)
    assert list(rows["idempotency_key"]) == [f"case_assigned:{case_id}:bob@shop.example"]
    row = rows.iloc[0]
    assert row["status"] == "pending" and row["attempts"] == 0 and row["recipient"] == "bob@shop.example"
    assert "assigned to you by ann@shop.example" in row["body"]
    # taking a case yourself, or giving it to someone who is not a user, e-mails nobody
    other = cases.list_cases(loop_store, limit=3).iloc[1:]["case_id"].tolist()
    cases.assign(loop_store, other[:1], "sub@shop.example", "sub@shop.example")
    cases.assign(loop_store, other[1:], "stranger@elsewhere.example", "ann@shop.example")
    assert loop_store.count("outbox") == 1


def test_new_cases_reach_matching_subscribers_once_and_holdout_cases_nobody(store: Store) -> None:
    fill_signals(store)
    create_user(store, "sub@shop.example", Role.viewer, "correct-horse-battery")
    sub = notifications.subscribe(
        store, "sub@shop.example", "new_case", department="delivery", actor="sub@shop.example"
    )
    assert sub["department_name"] == "Delivery / logistics" and sub["event_label"] == "New case"
    again = notifications.subscribe(store, "SUB@shop.example", "new_case", department="delivery", actor="admin")
    assert again["subscription_id"] == sub["subscription_id"] and store.count("subscriptions") == 1
    cases.open_cases(store)
    delivery = cases.list_cases(store, department="delivery", status="all", limit=10000, include_holdout=True)
    followed = set(delivery.loc[~delivery["holdout"], "case_id"])
    assert followed and delivery["holdout"].any()  # the fixture's signals put some in the holdout
    rows = outbox(store)
    assert set(rows["subject_id"]) == followed and set(rows["event"]) == {"new_case"}
    assert (rows["recipient"] == "sub@shop.example").all()
    cases.open_cases(store)  # nothing new: nothing queued
    assert store.count("outbox") == len(followed)


def test_overdue_cases_reach_the_department_lead_and_subscribers_once_per_case(loop_store: Store) -> None:
    notifications.subscribe(loop_store, "sub@shop.example", "case_overdue", theme="delivery_speed", actor="x")
    assert notifications.notify_overdue(loop_store, now=datetime(2026, 11, 1, 9, 0)) == {"cases": 0, "queued": 0}
    first = notifications.notify_overdue(loop_store, now=LATER)
    rows = outbox(loop_store)
    delivery = set(cases.list_cases(loop_store, department="delivery", limit=10000)["case_id"])
    to_lead = set(rows.loc[rows["recipient"] == "lead@shop.example", "subject_id"])
    assert to_lead == delivery
    speed = rows[rows["recipient"] == "sub@shop.example"]
    assert len(speed) and all("Delivery speed" in s for s in speed["subject"])
    assert first["queued"] == len(rows) and first["cases"] == rows["subject_id"].nunique()
    assert notifications.notify_overdue(loop_store, now=LATER + timedelta(days=1)) == {"cases": 0, "queued": 0}
    assert loop_store.count("outbox") == len(rows)


def test_new_alerts_reach_their_subscribers_and_stored_ones_are_not_raised_again(store: Store) -> None:
    create_user(store, "sub@shop.example", Role.viewer, "correct-horse-battery")
    notifications.subscribe(store, "sub@shop.example", "alert_raised", alert_kind="emerging_negative_theme", actor="x")
    notifications.subscribe(
        store, "sub@shop.example", "alert_raised", channel="webhook", target="https://hooks.example/t", actor="x"
    )
    theme = Alert(
        "emerging_negative_theme", "high", "external", "delivery_speed", "2026-10", "Late parcels rise", "12 of 80"
    )
    need = Alert("need_worsened", "medium", "external", "on_time/x", "2026-10", "On time fell", "n=400", "on_time")
    save_alerts(store, [theme, need])
    rows = outbox(store)
    assert sorted(zip(rows["channel"], rows["subject_id"], strict=True)) == sorted(
        [("email", theme.alert_id), ("webhook", theme.alert_id), ("webhook", need.alert_id)]
    )
    save_alerts(store, [theme, need])  # raised before: no message
    assert store.count("outbox") == 3


def test_a_subscription_must_name_a_user_and_a_known_department(store: Store) -> None:
    with pytest.raises(InputError, match="not a user"):
        notifications.subscribe(store, "nobody@shop.example", "new_case", actor="x")
    create_user(store, "sub@shop.example", Role.viewer, "correct-horse-battery")
    with pytest.raises(InputError, match="Unknown department"):
        notifications.subscribe(store, "sub@shop.example", "new_case", department="nope", actor="x")
    made = notifications.subscribe(store, "sub@shop.example", "new_case", actor="x")
    with pytest.raises(NotFoundError):
        notifications.unsubscribe(store, made["subscription_id"], email="someone.else@shop.example")
    notifications.unsubscribe(store, made["subscription_id"], email="sub@shop.example")
    assert notifications.list_subscriptions(store) == []


# ---------------------------------------------------------------- sent once


def test_a_closed_smtp_port_is_retried_with_back_off_then_marked_failed(loop_store: Store) -> None:
    case_id = _some_case(loop_store)
    cases.assign(loop_store, [case_id], "bob@shop.example", "ann@shop.example")
    settings = smtp_at(closed_port())
    start = START
    result = notifications.deliver_due(loop_store, now=start, settings=settings)
    assert result == {"sent": 0, "retrying": 1, "failed": 0, "waiting_for_mail": 0}
    row = outbox(loop_store).iloc[0]
    assert row["status"] == "pending" and row["attempts"] == 1 and "connection refused" in row["last_error"]
    assert pd.Timestamp(row["next_attempt_at"]) == pd.Timestamp(start + timedelta(minutes=1))
    # not due before its next attempt
    assert notifications.deliver_due(loop_store, now=start + timedelta(seconds=30), settings=settings)["retrying"] == 0
    when, waits = start, []
    for _ in range(5):
        when = pd.Timestamp(outbox(loop_store).iloc[0]["next_attempt_at"]).to_pydatetime()
        waits.append(when)
        notifications.deliver_due(loop_store, now=when, settings=settings)
    assert [b - a for a, b in zip([start, *waits], waits, strict=False)] == [
        timedelta(minutes=m) for m in (1, 5, 25, 125, 625)
    ]
    row = outbox(loop_store).iloc[0]
    assert row["status"] == "failed" and row["attempts"] == 6
    assert notifications.deliver_due(loop_store, now=LATER, settings=settings)["failed"] == 0  # given up
    log = notifications.delivery_log(loop_store)
    assert log["counts"]["failed"] == 1 and log["messages"][0]["status_label"] == "Failed"


def test_a_message_reaches_a_real_smtp_server_once_keyed_by_its_message_id(
    loop_store: Store,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    port, received = smtp_inbox
    case_id = _some_case(loop_store)
    cases.assign(loop_store, [case_id], "bob@shop.example", "ann@shop.example")
    assert notifications.deliver_due(loop_store, settings=smtp_at(port))["sent"] == 1
    assert notifications.deliver_due(loop_store, settings=smtp_at(port))["sent"] == 0
    assert len(received) == 1 and received[0].rcpt_tos == ["bob@shop.example"]
    mail = email.message_from_bytes(received[0].content)
    key = f"case_assigned:{case_id}:bob@shop.example"
    assert mail["X-Heedful-Id"] == key and mail["Message-ID"].endswith("@heedful.notifications>")
    assert mail["Subject"].startswith("Case assigned to you:")
    row = outbox(loop_store).iloc[0]
    assert row["status"] == "sent" and row["attempts"] == 1 and not pd.isna(row["sent_at"])


def test_mail_off_keeps_emails_waiting_until_there_is_a_mail_server(
    loop_store: Store,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    cases.assign(loop_store, [_some_case(loop_store)], "bob@shop.example", "ann@shop.example")
    assert notifications.deliver_due(loop_store, settings=MAIL_OFF) == {
        "sent": 0,
        "retrying": 0,
        "failed": 0,
        "waiting_for_mail": 1,
    }
    assert outbox(loop_store).iloc[0]["attempts"] == 0
    assert notifications.deliver_due(loop_store, settings=smtp_at(smtp_inbox[0]))["sent"] == 1


def test_a_webhook_gets_slack_json_with_the_key_and_a_failing_one_is_retried(
    loop_store: Store,
    webhook_inbox: tuple[str, list[dict[str, Any]]],
) -> None:
    base, received = webhook_inbox
    for path in ("/ok", "/broken"):
        notifications.subscribe(
            loop_store,
            "sub@shop.example",
            "case_overdue",
            channel="webhook",
            target=base + path,
            department="delivery",
            actor="x",
        )
    queued = notifications.notify_overdue(loop_store, now=LATER)["cases"]
    result = notifications.deliver_due(loop_store, now=LATER, settings=MAIL_OFF)
    assert result["sent"] == queued and result["retrying"] == queued  # /ok accepted, /broken answered 500
    ok = [r for r in received if r["headers"].get("Host") and r["json"]["heedful_id"].endswith("/ok")]
    assert len(ok) == queued
    first = ok[0]
    assert first["json"]["text"].startswith("*Case overdue:") and first["json"]["event"] == "case_overdue"
    assert first["headers"]["X-Heedful-Id"] == first["json"]["heedful_id"]
    broken = outbox(loop_store).query("status == 'pending' and channel == 'webhook'")
    assert len(broken) == queued and broken["last_error"].str.contains("500").all()


def test_a_claim_left_by_a_crashed_sender_is_taken_again_after_the_lease(
    loop_store: Store,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    from heedful.store import outbox_repo

    port, received = smtp_inbox
    cases.assign(loop_store, [_some_case(loop_store)], "bob@shop.example", "ann@shop.example")
    start = START
    claimed = outbox_repo.claim_due(loop_store, start, start, channels=["email"])  # then the sender died
    assert len(claimed) == 1
    assert notifications.deliver_due(loop_store, now=start + timedelta(minutes=4), settings=smtp_at(port))["sent"] == 0
    assert notifications.deliver_due(loop_store, now=start + timedelta(minutes=6), settings=smtp_at(port))["sent"] == 1
    assert len(received) == 1
    row = outbox(loop_store).iloc[0]
    assert row["status"] == "sent" and row["attempts"] == 2


def test_the_crash_window_after_the_server_accepted_repeats_the_same_message_id(
    loop_store: Store,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    """The one window left: the mail server accepted, the process died before marking it sent. The message
    goes again, and the receiver sees the same Message-ID / X-Heedful-Id on both copies to drop one."""
    port, received = smtp_inbox
    cases.assign(loop_store, [_some_case(loop_store)], "bob@shop.example", "ann@shop.example")
    notifications.deliver_due(loop_store, settings=smtp_at(port))
    loop_store.execute("UPDATE outbox SET status = 'sending', sent_at = NULL, claimed_at = ?", [datetime(2026, 1, 1)])
    notifications.deliver_due(loop_store, settings=smtp_at(port))
    ids = {email.message_from_bytes(r.content)["Message-ID"] for r in received}
    assert len(received) == 2 and len(ids) == 1


def test_retry_now_tries_a_failed_message_once_more(
    loop_store: Store,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    cases.assign(loop_store, [_some_case(loop_store)], "bob@shop.example", "ann@shop.example")
    message_id = str(outbox(loop_store).iloc[0]["message_id"])
    with pytest.raises(InputError, match="Only a failed message"):
        notifications.retry_now(loop_store, message_id, settings=smtp_at(smtp_inbox[0]))
    loop_store.execute("UPDATE outbox SET status = 'failed', attempts = 6, last_error = 'refused'")
    entry = notifications.retry_now(loop_store, message_id, settings=smtp_at(smtp_inbox[0]))
    assert entry["status"] == "sent" and entry["attempts"] == 7 and entry["last_error"] is None
    assert len(smtp_inbox[1]) == 1
    with pytest.raises(NotFoundError):
        notifications.retry_now(loop_store, "nope", settings=MAIL_OFF)


# ---------------------------------------------------------------- privacy


def test_export_and_erase_cover_a_persons_subscriptions_and_messages(loop_store: Store) -> None:
    loop_store.execute("UPDATE customers SET email = 'bob@shop.example' WHERE customer_id = 'C0000005'")
    notifications.subscribe(loop_store, "bob@shop.example", "new_case", actor="bob@shop.example")
    case_id = _some_case(loop_store)
    cases.assign(loop_store, [case_id], "bob@shop.example", "ann@shop.example")
    listed = cases.list_cases(loop_store, limit=1000)
    listed = listed[listed["customer_id"].notna() & (listed["customer_id"] != "C0000005")]
    about, customer = str(listed.iloc[-1]["case_id"]), str(listed.iloc[-1]["customer_id"])
    cases.assign(loop_store, [about], "sub@shop.example", "ann@shop.example")
    doc = export_subject(loop_store, "C0000005")
    assert len(doc["tables"]["subscriptions"]) == 1 and len(doc["tables"]["outbox"]) == 1
    erase_subject(loop_store, "C0000005")
    assert loop_store.count("subscriptions") == 0
    assert not loop_store.fetchall("SELECT 1 FROM outbox WHERE lower(recipient) = 'bob@shop.example'")
    erase_subject(loop_store, str(customer))  # the customer a message was about: the message goes with them
    assert not loop_store.fetchall("SELECT 1 FROM outbox WHERE subject_id = ?", [about])
