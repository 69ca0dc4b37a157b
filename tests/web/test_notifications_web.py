"""Notifications in the web app: each person manages their own subscriptions (admins anyone's), admins read the
delivery log and retry a failed message; pages speak in words."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from heedful.services import notifications
from heedful.services.accounts import Role
from heedful.store import Store
from heedful.web.app import create_app

from .conftest import EMAILS, seeded_store, sign_in

RAW = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|\{'|\['|Timestamp\(|Traceback|Error:|\bheedful notify\b")


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html.split("<body", 1)[-1])


@pytest.fixture(scope="module")
def notify_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = seeded_store(tmp_path_factory.mktemp("notify"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def notify_app(notify_store: Store) -> FastAPI:
    return create_app(store=notify_store, secret_key="test-secret", warm_cache=False)


@pytest.fixture(scope="module")
def people(notify_app: FastAPI) -> Iterator[dict[Role, TestClient]]:
    made = {role: TestClient(notify_app, base_url="http://testserver") for role in Role}
    for role, client in made.items():
        sign_in(client, EMAILS[role])
    yield made
    for client in made.values():
        client.close()


def _token(client: TestClient, path: str = "/notifications") -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def _post(client: TestClient, path: str, **data: str) -> str:
    response = client.post(path, data={**data, "csrf_token": _token(client)}, follow_redirects=True)
    assert response.status_code == 200, response.text
    return response.text


def test_a_viewer_subscribes_sees_only_their_own_and_unsubscribes(
    people: dict[Role, TestClient], notify_store: Store
) -> None:
    viewer = people[Role.viewer]
    page = viewer.get("/notifications")
    assert page.status_code == 200 and 'href="/notifications"' in page.text
    assert "/notifications/log" not in page.text  # the delivery log is the admins'
    html = _post(
        viewer, "/notifications/subscriptions", event="new_case", department="delivery", theme="delivery_speed"
    )
    assert "Subscribed viewer@example.com to “New case”" in html
    text = _text(html)
    assert "Delivery / logistics" in text and "Delivery speed" in text and not RAW.search(text)
    # someone else's subscription is neither listed nor removable for them
    other = notifications.subscribe(notify_store, EMAILS[Role.analyst], "alert_raised", actor="test")
    assert EMAILS[Role.analyst] not in _text(viewer.get("/notifications").text)
    html = _post(viewer, f"/notifications/subscriptions/{other['subscription_id']}/delete")
    assert "no such subscription" in html and notifications.list_subscriptions(notify_store, EMAILS[Role.analyst])
    # a viewer may not add a webhook, nor subscribe someone else
    html = _post(
        viewer, "/notifications/subscriptions", event="new_case", channel="webhook", target="http://127.0.0.1:9/x"
    )
    assert "Only admins add webhooks" in html
    _post(viewer, "/notifications/subscriptions", event="case_overdue", email=EMAILS[Role.admin])
    assert not notifications.list_subscriptions(notify_store, EMAILS[Role.admin])
    mine = notifications.list_subscriptions(notify_store, EMAILS[Role.viewer])
    assert {s["event"] for s in mine} == {"new_case", "case_overdue"}
    for s in mine:
        _post(viewer, f"/notifications/subscriptions/{s['subscription_id']}/delete")
    assert notifications.list_subscriptions(notify_store, EMAILS[Role.viewer]) == []


def test_an_admin_manages_anyones_subscriptions_and_adds_a_webhook(
    people: dict[Role, TestClient], notify_store: Store
) -> None:
    admin = people[Role.admin]
    html = _post(
        admin,
        "/notifications/subscriptions",
        email=EMAILS[Role.analyst],
        event="alert_raised",
        alert_kind="need_worsened",
        channel="webhook",
        target="https://hooks.slack.example/services/T0/B0/secret",
    )
    assert "Subscribed analyst@example.com to “Alert raised” (Webhook at hooks.slack.example)" in html
    text = _text(html)
    assert "A customer need got worse" in text and "secret" not in text and not RAW.search(text)
    html = _post(admin, "/notifications/subscriptions", event="new_case", alert_kind="need_worsened")
    assert "narrows alert notifications only" in html


def test_the_delivery_log_is_for_admins_and_retries_a_failed_message(
    people: dict[Role, TestClient], notify_store: Store
) -> None:
    for role in (Role.viewer, Role.analyst):
        assert people[role].get("/notifications/log").status_code == 403
    admin = people[Role.admin]
    notify_store.execute(
        "INSERT INTO outbox VALUES ('m1', 'case_assigned:k1:a@x.example', 'case_assigned', 'k1', NULL, 'email', "
        "'a@x.example', 'Case assigned to you: Ada — Delivery speed', 'body', 'failed', 6, NULL, NULL, "
        "'Nothing answers at the mail server''s host and port (connection refused).', TIMESTAMP '2024-06-30 12:00', NULL)"
    )
    page = admin.get("/notifications/log")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Case assigned to you: Ada — Delivery speed" in text and "connection refused" in text
    assert "Retry now" in text and not RAW.search(text)
    assert admin.get("/notifications/log?status=sent").text.count('data-testid="message"') == 0
    # mail is off in this store: the retry says so and the message waits instead of failing again
    html = _post(admin, "/notifications/log/m1/retry")
    assert "waits until a mail server is set" in html
    assert notify_store.fetchall("SELECT status FROM outbox WHERE message_id = 'm1'") == [("pending",)]
    html = _post(admin, "/notifications/log/send")
    assert "1 e-mails wait until a mail server is set" in html and not RAW.search(_text(html))
    html = _post(admin, "/notifications/log/m1/retry")
    assert "Only a failed message can be retried" in html
