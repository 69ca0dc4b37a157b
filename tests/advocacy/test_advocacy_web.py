"""Advocacy on the web: referral landing, story form with consent, staff approval, and rewards under real
concurrent HTTP requests against a uvicorn server (DuckDB and PostgreSQL)."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.advocacy.seed import add_customers, add_orders

from heedful.advocacy.rules import reward_key
from heedful.services.accounts import Role, create_token, create_user
from heedful.store import Store
from heedful.store import advocacy_repo as repo
from heedful.web.app import create_app

PASSWORD = "correct-horse-battery"


def _seed(store: Store) -> str:
    add_customers(
        store,
        [
            {"customer_id": "adv", "name": "Ann Lee", "email": "ann@example.com"},
            *({"customer_id": f"f{i}", "name": f"Friend {i}", "email": f"f{i}@example.com"} for i in range(6)),
        ],
    )
    add_orders(store, [("o-adv", "adv", "2024-06-01", 50.0)])
    return str(repo.enrol_advocates(store, ["adv"], status="joined")["code"].iloc[0])


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


def _signed_in(app: FastAPI, email: str) -> TestClient:
    client = TestClient(app, base_url="http://testserver")
    token = _csrf(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    return client


@pytest.fixture
def site(duck_store: Store) -> Iterator[tuple[FastAPI, Store, str]]:
    code = _seed(duck_store)
    create_user(duck_store, "analyst@example.com", Role.analyst, PASSWORD)
    create_user(duck_store, "viewer@example.com", Role.viewer, PASSWORD)
    yield create_app(store=duck_store, secret_key="test-secret"), duck_store, code


def test_referral_link_records_one_landing_per_visitor_and_sets_the_cookie(site: tuple[FastAPI, Store, str]) -> None:
    app, store, code = site
    visitor = TestClient(app, base_url="http://testserver")
    first = visitor.get(f"/r/{code.lower()}")
    assert first.status_code == 200 and code in first.text
    assert "hf_ref" in first.cookies
    visitor.get(f"/r/{code}")  # the same visitor again: the cookie names the landing
    assert store.count("referrals") == 1
    TestClient(app, base_url="http://testserver", headers={"user-agent": "Firefox/128"}).get(f"/r/{code}")
    assert store.count("referrals") == 2  # another visitor (another browser)
    token = _csrf(visitor, f"/r/{code}")
    visitor.post(f"/r/{code}", data={"email": "f1@example.com", "csrf_token": token})
    assert store.query("SELECT referred_email FROM referrals WHERE referred_email IS NOT NULL")[
        "referred_email"
    ].tolist() == ["f1@example.com"]
    assert TestClient(app, base_url="http://testserver").get("/r/NOSUCHCODE").status_code == 404


def test_landings_without_the_cookie_count_once_per_visitor_per_day(site: tuple[FastAPI, Store, str]) -> None:
    app, store, code = site
    for _ in range(5):  # a browser that keeps no cookie (or a crawler) following the link five times
        assert TestClient(app, base_url="http://testserver").get(f"/r/{code}").status_code == 200
    assert store.count("referrals") == 1
    other = TestClient(app, base_url="http://testserver", headers={"user-agent": "Mozilla/5.0 (Android)"})
    for _ in range(2):
        other.get(f"/r/{code}")
    assert store.count("referrals") == 2  # another user agent at the same address: another visitor
    leaves_email = TestClient(app, base_url="http://testserver")  # the first visitor once more
    token = _csrf(leaves_email, f"/r/{code}")
    leaves_email.cookies.delete("hf_ref")  # no referral cookie: found again by address and browser
    leaves_email.post(f"/r/{code}", data={"email": "f3@example.com", "csrf_token": token})
    assert store.count("referrals") == 2
    assert store.fetchall("SELECT COUNT(*) FROM referrals WHERE referred_email = 'f3@example.com'") == [(1,)]


def test_story_needs_explicit_consent_is_stored_once_and_published_after_approval(
    site: tuple[FastAPI, Store, str],
) -> None:
    app, store, code = site
    author = TestClient(app, base_url="http://testserver")
    form = author.get(f"/stories/new?code={code}").text
    assert 'type="checkbox"' in form and "checked" not in form  # nothing is ticked for the author
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    token = _csrf(author, "/stories/new")
    story = {"csrf_token": token, "idempotency_key": key, "code": code, "title": "Changed my week", "body": "Really."}
    refused = author.post("/stories", data=story)
    assert refused.status_code == 422 and store.count("stories") == 0
    for _ in range(2):  # a double click
        assert author.post("/stories", data={**story, "consent": ["website", "sales"]}).status_code == 200
    stored = repo.stories(store)
    assert len(stored) == 1 and stored["advocate_id"].iloc[0] == "adv"
    assert bool(stored["consent_website"].iloc[0]) and not bool(stored["consent_social"].iloc[0])

    viewer = _signed_in(app, "viewer@example.com")
    story_id = stored["story_id"].iloc[0]
    assert viewer.get("/advocacy/stories/export.json").json() == {"stories": []}  # not approved yet
    denied = viewer.post(
        f"/advocacy/stories/{story_id}/review", data={"decision": "approve", "csrf_token": _csrf(viewer, "/advocacy")}
    )
    assert denied.status_code == 403
    analyst = _signed_in(app, "analyst@example.com")
    page = analyst.get("/advocacy").text
    assert "Changed my week" in page
    analyst.post(
        f"/advocacy/stories/{story_id}/review", data={"decision": "approve", "csrf_token": _csrf(analyst, "/advocacy")}
    )
    assert [s["title"] for s in viewer.get("/advocacy/stories/export.json?scope=website").json()["stories"]] == [
        "Changed my week"
    ]
    assert viewer.get("/advocacy/stories/export.json?scope=social").json() == {"stories": []}


def test_advocacy_page_shows_the_programme_figures(site: tuple[FastAPI, Store, str]) -> None:
    app, store, code = site
    repo.record_landing(store, code, email="f2@example.com", at=datetime(2025, 1, 1))
    add_orders(store, [("o-f2", "f2", "2025-01-05", 80.0)])
    analyst = _signed_in(app, "analyst@example.com")
    analyst.post("/advocacy/attribute", data={"csrf_token": _csrf(analyst, "/advocacy")})
    html = analyst.get("/advocacy").text
    assert re.search(r'data-testid="kpi-referrals">1<', html)
    assert re.search(r'data-testid="kpi-converted">1<', html)
    assert re.search(r'data-testid="kpi-owed">20.00<', html)
    panel = analyst.get("/advocacy/customer/adv").text
    assert "Referrals made: 1 (1 converted)" in panel


def test_advocacy_page_says_when_a_month_is_over_the_caps(site: tuple[FastAPI, Store, str]) -> None:
    app, store, code = site
    for i in range(6):  # six friends convert in January; the default rules pay five a month
        repo.record_landing(store, code, email=f"f{i}@example.com", at=datetime(2025, 1, 1))
    add_orders(store, [(f"o-f{i}", f"f{i}", f"2025-01-{10 + i}", 80.0) for i in range(6)])
    analyst = _signed_in(app, "analyst@example.com")
    analyst.post("/advocacy/attribute", data={"csrf_token": _csrf(analyst, "/advocacy")})
    assert "does not match the programme rules" not in analyst.get("/advocacy").text
    refs = repo.referrals(store)
    repo.insert_reward(  # a sixth January reward, written past the cap
        store,
        idempotency_key=reward_key("f5"),
        advocate_id="adv",
        referral_id=str(refs.loc[refs["referred_customer_id"] == "f5", "referral_id"].iloc[0]),
        amount=20.0,
        currency="GBP",
        period="2025-01",
        order_id="o-f5",
    )
    html = analyst.get("/advocacy").text
    assert "0 missing, 0 unexpected, advocate-months over the caps: 1." in html


# ---------------------------------------------------------------- real server, real concurrent requests
@pytest.fixture
def server(store: Store) -> Iterator[tuple[str, Store, str, str]]:
    code = _seed(store)
    user, _ = create_user(store, "api@example.com", Role.analyst, PASSWORD)
    _, token = create_token(store, user.user_id, "concurrency test")
    app = create_app(store=store, secret_key="test-secret")
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", store, code, token
    srv.should_exit = True
    thread.join(timeout=10)


def _attribute(base: str, token: str, code: str, friend: str) -> str:
    response = httpx.post(
        f"{base}/api/v1/advocacy/referrals",
        json={"code": code, "customer_id": friend},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["referral_id"])


def test_concurrent_reward_requests_over_http_pay_once_and_respect_the_cap(server: tuple[str, Store, str, str]) -> None:
    base, store, code, token = server
    friends = [f"f{i}" for i in range(6)]
    referral_ids = [_attribute(base, token, code, f) for f in friends]
    assert _attribute(base, token, code, "f0") == referral_ids[0]  # attributing again is idempotent
    # attributions are dated now; the friends' first orders come after
    later = (datetime.now() + timedelta(days=1)).strftime("%Y-%m-%d")
    add_orders(store, [(f"o-{f}", f, later, 40.0) for f in friends])
    # every referral's reward is requested 5 times, all at once (double clicks, retries, two tabs)
    jobs = [rid for rid in referral_ids for _ in range(5)]
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:

        def hit(rid: str) -> str:
            response = client.post(f"{base}/api/v1/advocacy/referrals/{rid}/reward")
            assert response.status_code == 200, response.text
            return str(response.json()["reward"])

        with ThreadPoolExecutor(max_workers=10) as pool:
            outcomes = Counter(pool.map(hit, jobs))
    book = repo.ledger(store)
    # default rules: 20.00 a reward, at most 5 rewards and 100.00 a month per advocate
    assert outcomes["earned"] == 5 == len(book)
    assert book["idempotency_key"].is_unique
    assert book["amount"].sum() <= 100.0
    assert outcomes["duplicate"] + outcomes["capped"] == len(jobs) - 5


# ---------------------------------------------------------------- permissions
ADVOCACY_PUBLIC = {("GET", "/r/{code}"), ("POST", "/r/{code}"), ("GET", "/stories/new"), ("POST", "/stories")}
ADVOCACY_ROLES = {
    ("GET", "/advocacy"): Role.viewer,
    ("POST", "/advocacy/stories/{story_id}/review"): Role.analyst,
    ("POST", "/advocacy/matches/{match_id}/introduce"): Role.analyst,
    ("POST", "/advocacy/attribute"): Role.analyst,
    ("GET", "/advocacy/stories/export.{fmt}"): Role.viewer,
    ("GET", "/advocacy/customer/{customer_id}"): Role.viewer,
    ("POST", "/api/v1/advocacy/referrals"): Role.analyst,
    ("POST", "/api/v1/advocacy/referrals/{referral_id}/reward"): Role.analyst,
    ("GET", "/api/v1/advocacy/summary"): Role.viewer,
    ("GET", "/api/v1/advocacy/ledger"): Role.viewer,
}


def test_every_advocacy_route_is_public_on_purpose_or_declares_its_role() -> None:
    from fastapi.routing import APIRoute

    from heedful.web.advocacy import router

    seen = set()
    for route in router.routes:
        assert isinstance(route, APIRoute)
        for method in route.methods:
            seen.add((method, route.path))
            roles = [getattr(d.call, "required_role", None) for d in route.dependant.dependencies]
            declared = next((Role(r) for r in roles if r is not None), None)
            assert declared == ADVOCACY_ROLES.get((method, route.path)), (method, route.path)
    assert seen == ADVOCACY_PUBLIC | set(ADVOCACY_ROLES)


def test_anonymous_visitors_reach_only_the_public_pages(site: tuple[FastAPI, Store, str]) -> None:
    app, _, code = site
    anonymous = TestClient(app, base_url="http://testserver")
    assert anonymous.get(f"/r/{code}").status_code == 200
    assert anonymous.get("/stories/new").status_code == 200
    assert anonymous.get("/advocacy", follow_redirects=False).status_code == 303
    assert anonymous.get("/api/v1/advocacy/ledger").status_code == 401


def test_peer_matches_are_shown_in_words_not_ids() -> None:
    from heedful.web.advocacy import _match_view

    shown = _match_view({"reason": "at_risk", "status": "holdout", "reasons": '["same country: UK"]'})
    assert (shown["need_text"], shown["status_text"]) == ("at risk of leaving", "held out (not introduced)")
    assert shown["reasons"] == ["same country: UK"]
    assert _match_view({"reason": "onboarding", "status": "proposed", "reasons": None})["need_text"] == "new customer"
