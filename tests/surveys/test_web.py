"""Respondent pages over HTTP: validation messages, skip logic, idempotent saves, resume, tokens, closed surveys."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.surveys.conftest import ANALYST, hidden

from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.web.app import create_app
from heedful.web.surveys import STATUS_TTL_S


@pytest.fixture
def client(survey_store: Store) -> TestClient:
    return TestClient(create_app(store=survey_store, secret_key="s"), base_url="http://testserver")


def _form(html: str, **answers: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "csrf_token": hidden(html, "csrf_token"),
        "idempotency_key": hidden(html, "idempotency_key"),
        "page": hidden(html, "page"),
        **answers,
    }


def test_first_page_shows_progress_and_every_answer_is_checked(client: TestClient) -> None:
    page = client.get("/s/customer-pulse")
    assert page.status_code == 200
    assert 'name="nps" value="10"' in page.text and "Page 1 of 4" in page.text and "<progress" in page.text
    bad = client.post("/s/customer-pulse", data=_form(page.text, nps="12"), follow_redirects=False)
    assert bad.status_code == 422
    assert "Choose a number from 0 to 10." in bad.text and "Please answer this question." in bad.text
    assert 'aria-invalid="true"' in bad.text


def test_double_submit_records_once_and_skip_logic_moves_promoters_on(client: TestClient, survey_store: Store) -> None:
    page = client.get("/s/customer-pulse")
    form = _form(page.text, nps="10", csat="5")
    first = client.post("/s/customer-pulse", data=form, follow_redirects=False)
    second = client.post("/s/customer-pulse", data=form, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert survey_store.count("answers") == 3  # nps, csat and the page mark, once
    following = client.get("/s/customer-pulse")
    assert "Page 3 of 4" in following.text  # a promoter skips "what went wrong"


def test_respondent_can_leave_and_resume_with_the_cookie(client: TestClient, survey_store: Store) -> None:
    page = client.get("/s/customer-pulse")
    client.post("/s/customer-pulse", data=_form(page.text, nps="3", csat="2"), follow_redirects=False)
    cookie = {name: value for name, value in client.cookies.items() if name.startswith("hf_resp_")}
    later = TestClient(client.app, base_url="http://testserver", cookies=cookie)
    resumed = later.get("/s/customer-pulse")
    assert "Page 2 of 4" in resumed.text and "What went wrong?" in resumed.text
    back = later.get("/s/customer-pulse?page=0")
    assert 'value="3" checked' in back.text  # earlier answers are shown again


def test_invitation_tokens_guessed_or_from_another_survey_are_refused(client: TestClient, survey_store: Store) -> None:
    ((_, token),) = repo.create_invitations(survey_store, "customer-pulse", ["c1"])
    ((_, other_token),) = repo.create_invitations(survey_store, "other-survey", ["c1"])
    assert client.get(f"/s/customer-pulse?t={token}").status_code == 200
    assert client.get("/s/customer-pulse?t=guessed-token-value").status_code == 403
    assert client.get(f"/s/customer-pulse?t={other_token}").status_code == 403
    assert survey_store.count("responses") == 1  # refused links start nothing


def test_closed_survey_says_so_and_saves_nothing(client: TestClient, survey_store: Store) -> None:
    page = client.get("/s/customer-pulse")
    repo.set_status(survey_store, "customer-pulse", "closed")  # as `heedful survey close` does
    time.sleep(STATUS_TTL_S + 0.1)  # the server re-reads a survey's status at least every second
    closed = client.get("/s/customer-pulse")
    assert closed.status_code == 410 and "This survey is closed" in closed.text
    post = client.post("/s/customer-pulse", data=_form(page.text, nps="9", csat="4"), follow_redirects=False)
    assert post.status_code == 410 and survey_store.count("answers") == 0


def test_team_pages_need_sign_in_and_show_results(client: TestClient) -> None:
    assert client.get("/surveys", follow_redirects=False).status_code == 303
    login = client.get("/login")
    client.post(
        "/login",
        data={"email": ANALYST[0], "password": ANALYST[1], "csrf_token": hidden(login.text, "csrf_token")},
        follow_redirects=False,
    )
    listing = client.get("/surveys")
    assert listing.status_code == 200 and "/surveys/customer-pulse" in listing.text
    detail = client.get("/surveys/customer-pulse")
    assert detail.status_code == 200 and "Embed" in detail.text and "?a.nps=10" in detail.text


def test_analyst_writes_a_survey_on_the_page_and_sees_errors_with_lines(client: TestClient) -> None:
    login = client.get("/login")
    client.post(
        "/login",
        data={"email": ANALYST[0], "password": ANALYST[1], "csrf_token": hidden(login.text, "csrf_token")},
        follow_redirects=False,
    )
    form = client.get("/surveys/new")
    token = hidden(form.text, "csrf_token")
    bad = "slug: quick\ntitle: Quick\npages:\n  - id: p\n    questions:\n      - {id: q, type: nps}\n"
    refused = client.post("/surveys/new", data={"definition": bad, "csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 422 and "definition:6:" in refused.text
    good = bad.replace("type: nps}", "type: nps, text: Would you recommend us}")
    saved = client.post("/surveys/new", data={"definition": good, "csrf_token": token}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/surveys/quick"
    assert client.get("/s/quick").status_code == 200


def test_only_the_respondent_pages_are_public() -> None:
    from fastapi.routing import APIRoute

    from heedful.services.accounts import Role
    from heedful.web import surveys as survey_pages

    expected = {
        ("GET", "/s/{slug}"): None,
        ("POST", "/s/{slug}"): None,
        ("GET", "/surveys"): Role.viewer,
        ("GET", "/surveys/{slug}"): Role.viewer,
        ("GET", "/surveys/new"): Role.analyst,
        ("POST", "/surveys/new"): Role.analyst,
        ("POST", "/surveys/{slug}/status"): Role.analyst,
    }
    found = {}
    for route in survey_pages.router.routes:
        assert isinstance(route, APIRoute)
        role = next(
            (
                getattr(d.call, "required_role", None)
                for d in route.dependant.dependencies
                if getattr(d.call, "required_role", None)
            ),
            None,
        )
        for method in route.methods:
            found[(method, route.path)] = Role(role) if role else None
    assert found == expected
