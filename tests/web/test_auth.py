"""Signing in: passwords, session cookies and their expiry, CSRF, throttling, API tokens, security headers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from heedful.services import accounts
from heedful.services.accounts import Role
from heedful.services.credentials import token_digest
from heedful.store import Store
from heedful.web.app import create_app
from heedful.web.security import LoginThrottle, SessionPolicy

from .conftest import EMAILS, PASSWORD, csrf_of, sign_in


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def timed_app(web_store: Store, clock: FakeClock) -> FastAPI:
    policy = SessionPolicy(idle_seconds=600, absolute_seconds=3600)
    return create_app(store=web_store, secret_key="timed", session_policy=policy, clock=clock)


def _login(client: TestClient, email: str, password: str) -> Any:
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf_of(client)}, follow_redirects=False
    )


def test_sign_in_with_the_right_password_opens_the_overview(app: FastAPI) -> None:
    with TestClient(app) as client:
        response = _login(client, EMAILS[Role.viewer], PASSWORD)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        page = client.get("/")
        assert page.status_code == 200
        assert "Overview" in page.text and EMAILS[Role.viewer] in page.text


def test_wrong_password_is_refused_and_audited(app: FastAPI, web_store: Store) -> None:
    with TestClient(app) as client:
        response = _login(client, EMAILS[Role.analyst], "not the password")
        assert response.status_code == 401
        assert "wrong" in response.text
        assert client.get("/", follow_redirects=False).status_code == 303
    actions = [(a["action"], a["actor"]) for a in accounts.recent_audit(web_store)]
    assert ("login.failed", EMAILS[Role.analyst]) in actions


def test_passwords_are_stored_as_argon2_hashes(web_store: Store) -> None:
    (stored,) = web_store.fetchall("SELECT password_hash FROM users WHERE email = ?", [EMAILS[Role.admin]])[0]
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored


def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://testserver") as client:
        response = _login(client, EMAILS[Role.viewer], PASSWORD)
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
        assert "Strict-Transport-Security" in response.headers
    with TestClient(app) as client:
        cookie = _login(client, EMAILS[Role.viewer], PASSWORD).headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" not in cookie


def test_a_new_session_is_issued_at_sign_in(app: FastAPI) -> None:
    with TestClient(app) as client:
        before_token = csrf_of(client)
        before = client.cookies.get("heedful_session")
        _login(client, EMAILS[Role.viewer], PASSWORD)
        assert client.cookies.get("heedful_session") != before
        assert csrf_of(client, "/account") != before_token


def test_sessions_expire_after_idle_time(timed_app: FastAPI, clock: FakeClock) -> None:
    with TestClient(timed_app) as client:
        sign_in(client, EMAILS[Role.viewer])
        clock.now += 500
        assert client.get("/account", follow_redirects=False).status_code == 200  # activity refreshes the idle timer
        clock.now += 500
        assert client.get("/account", follow_redirects=False).status_code == 200
        clock.now += 601
        response = client.get("/account", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert client.get("/api/v1/me").status_code == 401


def test_sessions_expire_after_the_absolute_lifetime_even_when_active(timed_app: FastAPI, clock: FakeClock) -> None:
    with TestClient(timed_app) as client:
        sign_in(client, EMAILS[Role.viewer])
        for _ in range(7):
            clock.now += 550
            client.get("/account")
        assert clock.now - 1_700_000_000.0 > 3600
        assert client.get("/account", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(app: FastAPI) -> None:
    with TestClient(app) as client:
        sign_in(client, EMAILS[Role.viewer])
        token = csrf_of(client, "/account")
        assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
        assert client.get("/account", follow_redirects=False).status_code == 303


def test_disabled_user_loses_access_at_the_next_request(web_store: Store, app: FastAPI) -> None:
    user, _ = accounts.create_user(web_store, "leaver@example.com", Role.viewer, PASSWORD)
    with TestClient(app) as client:
        sign_in(client, user.email)
        assert client.get("/account").status_code == 200
        accounts.update_user(web_store, user.user_id, accounts.UserUpdate(active=False))
        assert client.get("/account", follow_redirects=False).status_code == 303
        assert _login(client, user.email, PASSWORD).status_code == 401


# ---------------------------------------------------------------- CSRF
def test_unsafe_requests_without_the_csrf_token_are_refused(clients: dict[Role, TestClient], web_store: Store) -> None:
    admin = clients[Role.admin]
    before = web_store.count("departments")
    refused = admin.post("/settings/departments", data={"name": "Sales"}, follow_redirects=False)
    assert refused.status_code == 403
    wrong = admin.post("/settings/departments", data={"name": "Sales", "csrf_token": "forged"}, follow_redirects=False)
    assert wrong.status_code == 403
    assert web_store.count("departments") == before
    ok = admin.post(
        "/settings/departments",
        data={"name": "Sales", "csrf_token": csrf_of(admin, "/account")},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    assert web_store.count("departments") == before + 1


def test_csrf_token_may_come_as_a_header_for_htmx_and_api_calls(clients: dict[Role, TestClient]) -> None:
    analyst = clients[Role.analyst]
    files = {"file": ("o.csv", b"order_id,customer_id,order_date,quantity,price\nA1,C1,2024-01-02,1,5\n", "text/csv")}
    refused = analyst.post("/api/v1/imports", files=files, data={"entity": "orders"})
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    accepted = analyst.post(
        "/api/v1/imports",
        files=files,
        data={"entity": "orders"},
        headers={"X-CSRF-Token": csrf_of(analyst, "/account")},
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["accepted"] == 1


def test_sign_in_form_itself_needs_the_csrf_token(app: FastAPI) -> None:
    with TestClient(app) as client:
        client.get("/login")
        response = client.post(
            "/login", data={"email": EMAILS[Role.viewer], "password": PASSWORD}, follow_redirects=False
        )
        assert response.status_code == 403


def test_sign_in_only_redirects_within_the_site(app: FastAPI) -> None:
    with TestClient(app) as client:
        token = csrf_of(client)
        data = {
            "email": EMAILS[Role.viewer],
            "password": PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/x",
        }
        assert client.post("/login", data=data, follow_redirects=False).headers["location"] == "/"
    with TestClient(app) as client:
        token = csrf_of(client)
        data = {"email": EMAILS[Role.viewer], "password": PASSWORD, "csrf_token": token, "next": "/customers?q=a"}
        assert client.post("/login", data=data, follow_redirects=False).headers["location"] == "/customers?q=a"


# ---------------------------------------------------------------- throttling
def test_repeated_failures_lock_the_account_for_a_while(web_store: Store, clock: FakeClock) -> None:
    throttle = LoginThrottle(max_failures=3, lockout_seconds=300, clock=clock)
    locked_app = create_app(store=web_store, secret_key="t", login_throttle=throttle, clock=clock)
    with TestClient(locked_app) as client:
        for _ in range(3):
            assert _login(client, EMAILS[Role.admin], "guess").status_code == 401
        locked = _login(client, EMAILS[Role.admin], PASSWORD)
        assert locked.status_code == 429
        assert 0 < int(locked.headers["retry-after"]) <= 300
        clock.now += 301
        assert _login(client, EMAILS[Role.admin], PASSWORD).status_code == 303
    actions = [a["action"] for a in accounts.recent_audit(web_store)]
    assert "login.locked" in actions


def test_a_lockout_writes_one_audit_row_however_many_attempts_it_refuses(web_store: Store, clock: FakeClock) -> None:
    def lockouts() -> int:
        return [a["action"] for a in accounts.recent_audit(web_store, limit=10_000)].count("login.locked")

    before = lockouts()
    throttle = LoginThrottle(max_failures=2, lockout_seconds=300, clock=clock)
    locked_app = create_app(store=web_store, secret_key="t", login_throttle=throttle, clock=clock)
    with TestClient(locked_app) as client:
        for _ in range(2):
            _login(client, EMAILS[Role.admin], "guess")
        for _ in range(20):
            assert _login(client, EMAILS[Role.admin], "guess").status_code == 429
        clock.now += 301  # the next lockout is a new event
        for _ in range(2):
            _login(client, EMAILS[Role.admin], "guess")
        for _ in range(5):
            _login(client, EMAILS[Role.admin], "guess")
    assert lockouts() - before == 2


def test_lockout_of_one_email_leaves_others_able_to_sign_in(web_store: Store, clock: FakeClock) -> None:
    throttle = LoginThrottle(max_failures=2, lockout_seconds=300, clock=clock)
    locked_app = create_app(store=web_store, secret_key="t", login_throttle=throttle, clock=clock)
    with TestClient(locked_app) as client:
        for _ in range(2):
            _login(client, EMAILS[Role.admin], "guess")
        assert _login(client, EMAILS[Role.admin], PASSWORD).status_code == 429
        assert _login(client, EMAILS[Role.viewer], PASSWORD).status_code == 303


# ---------------------------------------------------------------- API tokens
def test_api_token_authenticates_scripts_with_the_users_role(web_store: Store, app: FastAPI) -> None:
    viewer = accounts.find_user(web_store, EMAILS[Role.viewer])
    assert viewer is not None
    record, token = accounts.create_token(web_store, viewer.user_id, "report script")
    stored = web_store.fetchall("SELECT token_hash FROM api_tokens WHERE token_id = ?", [record.token_id])[0][0]
    assert stored == token_digest(token) and token not in stored
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=auth).json()["email"] == EMAILS[Role.viewer]
        files = {"file": ("o.csv", b"order_id\n1\n", "text/csv")}
        denied = client.post("/api/v1/imports", headers=auth, files=files, data={"entity": "orders"})
        assert denied.status_code == 403  # no CSRF needed with a token, but a viewer may not import
        accounts.revoke_token(web_store, record.token_id)
        assert client.get("/api/v1/me", headers=auth).status_code == 401
        assert client.get("/api/v1/me", headers={"Authorization": "Bearer hf_nope_nope"}).status_code == 401


def test_account_page_creates_a_token_shown_once(clients: dict[Role, TestClient]) -> None:
    client = clients[Role.viewer]
    page = client.post("/account/tokens", data={"name": "cron", "csrf_token": csrf_of(client, "/account")})
    match = re.search(r'data-testid="new-token">(hf_[^<]+)<', page.text)
    assert match
    token = match.group(1)
    with TestClient(client.app) as script:
        assert script.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in client.get("/account").text


# ---------------------------------------------------------------- headers and assets
def test_pages_carry_a_strict_content_security_policy(clients: dict[Role, TestClient]) -> None:
    response = clients[Role.viewer].get("/")
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "http" not in csp  # no CDN allowed
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline scripts (the CSP would block them)


def test_docs_and_charts_work_offline_from_local_assets(app: FastAPI) -> None:
    with TestClient(app) as client:
        docs = client.get("/docs").text
        sources = re.findall(r'(?:src|href)="([^"]+)"', docs)
        assert sources and all(s.startswith("/") for s in sources)
        for source in sources:
            assert client.get(source).status_code == 200, source
        plotly = client.get("/vendor/plotly.min.js")
        assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
        assert client.get("/static/vendor/htmx.min.js").status_code == 200
        assert client.get("/openapi.json").json()["paths"]["/api/v1/customers"]


# ---------------------------------------------------------------- sessions end on the server
def _copy_of(client: TestClient, app: FastAPI) -> TestClient:
    """A second client holding the same session cookie (a stolen or forgotten copy)."""
    twin = TestClient(app, base_url="http://testserver")
    twin.cookies.update(client.cookies)
    return twin


def _fresh_user(store: Store, email: str, role: Role = Role.viewer) -> None:
    accounts.create_user(store, email, role, PASSWORD)


def test_sign_out_ends_the_session_on_the_server(app: FastAPI, web_store: Store) -> None:
    _fresh_user(web_store, "signed-out@example.com")
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, "signed-out@example.com")
        copy = _copy_of(client, app)
        assert copy.get("/api/v1/me").status_code == 200
        client.post("/logout", data={"csrf_token": csrf_of(client, "/account")}, follow_redirects=False)
        assert copy.get("/api/v1/me").status_code == 401
        sign_in(client, "signed-out@example.com")  # signing in again works
        assert client.get("/api/v1/me").status_code == 200


def test_a_password_change_ends_other_sessions_and_keeps_this_one(app: FastAPI, web_store: Store) -> None:
    _fresh_user(web_store, "changer@example.com")
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, "changer@example.com")
        copy = _copy_of(client, app)
        form = {"current": PASSWORD, "new": "a-brand-new-password", "csrf_token": csrf_of(client, "/account")}
        assert client.post("/account/password", data=form).status_code == 200
        assert client.get("/api/v1/me").status_code == 200
        assert copy.get("/api/v1/me").status_code == 401


def test_a_role_change_ends_the_users_sessions(app: FastAPI, web_store: Store) -> None:
    _fresh_user(web_store, "promoted@example.com", Role.analyst)
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, "promoted@example.com")
        user = accounts.find_user(web_store, "promoted@example.com")
        assert user is not None
        accounts.update_user(web_store, user.user_id, accounts.UserUpdate(role=Role.viewer))  # e.g. `users set-role`
        assert client.get("/api/v1/me").status_code == 401
        sign_in(client, "promoted@example.com")
        assert client.get("/api/v1/me").json()["role"] == "viewer"
