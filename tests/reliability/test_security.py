"""Security across the whole app: every route × role (enumerated from app.routes, so a new route is
covered the day it is added), respondent tokens, session fixation, CSRF on every form, sign-in
throttling, secrets kept out of logs, and the security headers."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from tests.web.conftest import EMAILS, PASSWORD, csrf_of, sign_in

from heedful.services.accounts import Role
from heedful.web.app import create_app
from heedful.web.deps import SAFE_METHODS
from heedful.web.security import LoginThrottle, redact_secrets

from .conftest import World

# Routes anyone may use: sign-in, the respondent survey pages, referral and story forms, assets.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("GET", "/s/{slug}"),
    ("POST", "/s/{slug}"),
    # no role: the invitee's own unsubscribe link, guarded by the invitation token in it
    # (tests/surveys/test_invites.py checks a wrong token changes nothing)
    ("GET", "/s/{slug}/unsubscribe"),
    ("POST", "/s/{slug}/unsubscribe"),
    ("GET", "/r/{code}"),
    ("POST", "/r/{code}"),
    ("GET", "/stories/new"),
    ("POST", "/stories"),
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/vendor/plotly.min.js"),
    # no role: a CLI command forwarded by the server's own user, guarded by the address file's token and
    # loopback (tests/cli/test_cli_through_server.py::test_the_local_route_refuses_anyone_without_the_token)
    ("POST", "/local/cli"),
}


def all_routes(app: FastAPI) -> list[tuple[str, str, Role | None]]:
    """(method, path, required role) for every API route of the app, included routers flattened."""
    found: list[tuple[str, str, Role | None]] = []

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            if isinstance(route, APIRoute):
                role = next(
                    (d.call.required_role for d in route.dependant.dependencies if hasattr(d.call, "required_role")),
                    None,
                )
                found.extend((m, prefix + route.path, Role(role) if role else None) for m in sorted(route.methods))
            elif hasattr(route, "original_router"):  # FastAPI >= 0.16x keeps included routers nested
                walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif hasattr(route, "routes") and hasattr(route, "path") and not hasattr(route, "app"):
                walk(route.routes, prefix + route.path)

    walk(app.routes, "")
    return found


def example_url(path: str) -> str:
    """Fill every path parameter with a harmless value (the role check answers before the handler runs)."""
    path = path.replace("{fmt}", "csv").replace("{name}", "revenue").replace("{slug}", "open-voice")
    return re.sub(r"\{[^}]+\}", "C1", path)


@pytest.fixture(scope="module")
def routes(world: World) -> list[tuple[str, str, Role | None]]:
    found = all_routes(world.app)
    assert len(found) > 60, "route enumeration found too few routes"
    return found


def test_every_non_public_route_declares_a_role(routes: list[tuple[str, str, Role | None]]) -> None:
    undeclared = [(m, p) for m, p, role in routes if role is None and (m, p) not in PUBLIC]
    assert undeclared == []
    # and the public list holds only routes that exist (a renamed route must not keep a stale exemption)
    assert {(m, p) for m, p, _ in routes} >= PUBLIC


def test_anonymous_users_cannot_read_or_write_anything_private(
    world: World, routes: list[tuple[str, str, Role | None]]
) -> None:
    with TestClient(world.app) as anonymous:
        for method, path, role in routes:
            if role is None:
                continue
            response = anonymous.request(method, example_url(path), data={}, follow_redirects=False)
            if path.startswith("/api/"):
                expected = {401} if method in SAFE_METHODS else {401, 403}
            else:
                expected = {303} if method in SAFE_METHODS else {303, 403}
            assert response.status_code in expected, (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login")


@pytest.mark.parametrize("via", ["session", "token"])
def test_each_role_is_refused_routes_above_it(
    world: World, clients: dict[Role, TestClient], routes: list[tuple[str, str, Role | None]], via: str
) -> None:
    """Viewers cannot write (nor see admin pages); analysts cannot administer — by cookie or by API token."""
    checked = 0
    for role in (Role.viewer, Role.analyst):
        client = clients[role]
        headers = {"X-CSRF-Token": csrf_of(client, "/account")}
        for method, path, least in routes:
            if least is None or role.allows(least):
                continue
            if via == "token":
                with TestClient(world.app) as bare:
                    got = bare.request(
                        method,
                        example_url(path),
                        headers={"Authorization": f"Bearer {world.tokens[role]}"},
                        data={},
                        follow_redirects=False,
                    )
            else:
                got = client.request(method, example_url(path), headers=headers, data={}, follow_redirects=False)
            assert got.status_code == 403, (role, method, path, got.status_code, got.text[:200])
            checked += 1
    assert checked > 20


def test_viewer_write_attempts_change_nothing(world: World, clients: dict[Role, TestClient]) -> None:
    before = world.store.count("departments")
    client = clients[Role.viewer]
    response = client.post(
        "/settings/departments",
        data={"name": "Sneaky", "csrf_token": csrf_of(client, "/account")},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert world.store.count("departments") == before


def test_an_invitation_token_opens_only_its_own_survey(world: World) -> None:
    token = world.invitations["open-voice"]
    with TestClient(world.app) as respondent:
        assert respondent.get(f"/s/open-voice?t={token}").status_code == 200
        # the same token on another survey, a made-up token, and the team's pages: all refused
        assert respondent.get(f"/s/other-voice?t={token}").status_code == 403
        assert respondent.get("/s/open-voice?t=not-a-real-token").status_code == 403
        for url in ("/surveys/open-voice", "/", "/customers/C1", f"/surveys?t={token}"):
            response = respondent.get(url, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), url
        api = respondent.get("/api/v1/customers", headers={"Authorization": f"Bearer {token}"})
        assert api.status_code == 401


def test_session_is_replaced_at_sign_in_so_a_planted_cookie_stays_anonymous(world: World) -> None:
    with TestClient(world.app) as victim:
        csrf_before = csrf_of(victim)
        planted = victim.cookies.get("heedful_session") or next(iter(victim.cookies.values()))
        cookie_name = next(iter(victim.cookies.keys()))
        sign_in(victim, EMAILS[Role.viewer])
        after = victim.cookies.get(cookie_name)
        assert after and after != planted
        assert csrf_of(victim, "/account") != csrf_before  # the CSRF token rotates too
        assert victim.get("/", follow_redirects=False).status_code == 200
    with TestClient(world.app, cookies={cookie_name: planted}) as attacker:
        response = attacker.get("/", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_every_unsafe_route_needs_the_csrf_token(world: World, clients: dict[Role, TestClient]) -> None:
    """An admin's browser, tricked into posting from another site (no token), is refused everywhere."""
    admin = clients[Role.admin]
    unsafe = [(m, p) for m, p, _ in all_routes(world.app) if m not in SAFE_METHODS and p != "/logout"]
    assert len(unsafe) > 20
    before = {t: world.store.count(t) for t in ("departments", "journey_stages", "users", "imports", "responses")}
    for method, path in unsafe:
        for data in ({}, {"csrf_token": "forged"}):
            response = admin.request(method, example_url(path), data=data, follow_redirects=False)
            assert response.status_code == 403, (method, path, response.status_code)
            assert "CSRF" in response.text or "stale" in response.text, (method, path)
    assert {t: world.store.count(t) for t in before} == before


def test_every_form_on_every_page_carries_the_csrf_token(world: World, clients: dict[Role, TestClient]) -> None:
    admin = clients[Role.admin]
    pages = [example_url(p) for m, p, _ in all_routes(world.app) if m == "GET" and "{" not in p and "." not in p]
    pages += ["/customers/C1", "/surveys/open-voice", f"/s/open-voice?t={world.invitations['open-voice']}"]
    forms_seen = 0
    for url in pages:
        response = admin.get(url)
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        for form in re.findall(r"<form\b.*?</form>", response.text, flags=re.S | re.I):
            if re.search(r'method="?post', form, flags=re.I):
                forms_seen += 1
                assert 'name="csrf_token"' in form, (url, form[:200])
    assert forms_seen >= 10


def test_password_spraying_from_one_address_is_locked_out(world: World) -> None:
    """Many e-mails from one address: the address is locked, even for a right password."""
    throttle = LoginThrottle(max_failures=100, ip_max_failures=4)
    app = create_app(store=world.store, secret_key="spray", login_throttle=throttle, warm_cache=False)
    with TestClient(app) as client:
        for n in range(4):
            token = csrf_of(client)
            response = client.post(
                "/login", data={"email": f"guess{n}@example.com", "password": "x" * 12, "csrf_token": token}
            )
            assert response.status_code == 401
        token = csrf_of(client)
        response = client.post(
            "/login",
            data={"email": EMAILS[Role.viewer], "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(world: World) -> Iterator[tuple[str, list[str]]]:
    """The app under a real Uvicorn (access log on) with every log record of the process captured."""
    lines: list[str] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.name.startswith(("httpx", "httpcore")):
                return  # the test's own HTTP client, not the server
            for flt in logging.getLogger(record.name).filters:
                flt.filter(record)
            lines.append(self.format(record))

    handler = Capture(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    watched = [logging.getLogger(), logging.getLogger("uvicorn.access"), logging.getLogger("uvicorn.error")]
    port = _free_port()
    config = uvicorn.Config(world.app, host="127.0.0.1", port=port, log_level="debug", access_log=True)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    for logger in watched:  # after uvicorn configured logging
        logger.addHandler(handler)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    yield f"http://127.0.0.1:{port}", lines
    logging.getLogger().setLevel(root_level)
    for logger in watched:
        logger.removeHandler(handler)
    server.should_exit = True
    thread.join(timeout=10)


def test_passwords_and_tokens_never_reach_the_logs(world: World, live: tuple[str, list[str]]) -> None:
    base, lines = live
    invitation = world.invitations["other-voice"]
    api_token = world.tokens[Role.analyst]
    wrong = "Wr0ng-but-secret-passw0rd"
    with httpx.Client(base_url=base) as client:
        html = client.get("/login").text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert csrf
        client.post("/login", data={"email": EMAILS[Role.admin], "password": wrong, "csrf_token": csrf.group(1)})
        client.post("/login", data={"email": EMAILS[Role.admin], "password": PASSWORD, "csrf_token": csrf.group(1)})
        assert client.get("/account").status_code == 200
        assert client.get(f"/s/other-voice?t={invitation}").status_code == 200
        assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {api_token}"}).status_code == 200
        client.get("/api/v1/me", headers={"Authorization": "Bearer hf_bogus_token_value"})
    text = "\n".join(lines)
    assert "GET /s/other-voice" in text, "the access log was not captured"
    for secret in (PASSWORD, wrong, invitation, api_token, "hf_bogus_token_value"):
        assert secret not in text
    # the audit trail keeps no secrets either
    audit = "\n".join(str(r) for r in world.store.fetchall("SELECT * FROM audit_log"))
    for secret in (PASSWORD, wrong, invitation, api_token):
        assert secret not in audit


def test_redaction_keeps_the_rest_of_the_line() -> None:
    assert (
        redact_secrets("GET /s/pulse?page=2&t=abc123&x=1 HTTP/1.1") == "GET /s/pulse?page=2&t=[redacted]&x=1 HTTP/1.1"
    )


@pytest.mark.parametrize("url", ["/login", "/", "/api/v1/me", "/static/favicon.svg", "/nowhere", "/s/open-voice"])
def test_security_headers_on_every_kind_of_response(clients: dict[Role, TestClient], url: str) -> None:
    response = clients[Role.viewer].get(url)
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "'unsafe-eval'" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")
    assert "strict-transport-security" not in response.headers  # plain HTTP: no HSTS


def test_hsts_only_behind_tls(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    with TestClient(world.app) as client:
        assert "strict-transport-security" not in client.get("/login").headers
        proxied = client.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert proxied.headers["strict-transport-security"].startswith("max-age=")
        assert "strict-transport-security" not in client.get("/login", headers={"X-Forwarded-Proto": "http"}).headers
    with TestClient(world.app, base_url="https://testserver") as tls:
        assert "max-age=31536000" in tls.get("/login").headers["strict-transport-security"]
    monkeypatch.setenv("HEEDFUL_HSTS", "1")
    with TestClient(world.app) as client:
        assert "strict-transport-security" in client.get("/login").headers
