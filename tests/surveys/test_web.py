"""Respondent pages over HTTP: validation messages, skip logic, idempotent saves, resume, tokens, closed surveys."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.surveys.conftest import ANALYST, hidden, seed_survey_store

from heedful.services import surveys as service
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.web.app import create_app
from heedful.web.survey_responses import RESPONSE_FIELD
from heedful.web.surveys import STATUS_TTL_S


@pytest.fixture
def client(survey_store: Store) -> TestClient:
    return TestClient(create_app(store=survey_store, secret_key="s"), base_url="http://testserver")


def _form(html: str, **answers: str | list[str]) -> dict[str, str | list[str]]:
    return {
        "csrf_token": hidden(html, "csrf_token"),
        "idempotency_key": hidden(html, "idempotency_key"),
        "page": hidden(html, "page"),
        RESPONSE_FIELD: hidden(html, RESPONSE_FIELD),
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


def _without_survey_cookie(client: TestClient) -> None:
    """As if the browser never stored the survey's cookie (the session and its CSRF token stay)."""
    for name in [n for n in client.cookies if n.startswith("hf_resp_")]:
        del client.cookies[name]


def test_visits_store_nothing_and_the_first_answer_creates_the_response(
    client: TestClient, survey_store: Store
) -> None:
    for _ in range(20):  # plain visits and bots: no cookie, no answer
        assert TestClient(client.app, base_url="http://testserver").get("/s/customer-pulse").status_code == 200
    for _ in range(3):  # one visitor reloading
        page = client.get("/s/customer-pulse")
    assert survey_store.count("responses") == 0 and "hf_resp_customer_pulse" not in client.cookies
    client.post("/s/customer-pulse", data=_form(page.text, nps="3", csat="2"), follow_redirects=False)
    assert survey_store.count("responses") == 1
    result = service.results(survey_store, "customer-pulse").result
    assert (result["responses"], result["completed"], result["partial"]) == (1, 0, 1)
    assert "Page 2 of 4" in client.get("/s/customer-pulse").text  # the cookie now names the stored response


@pytest.mark.parametrize("in_memory", [True, False], ids=["from-memory", "from-store"])
def test_a_form_sent_again_without_the_survey_cookie_is_stored_once(store: Store, in_memory: bool) -> None:
    seed_survey_store(store)
    app = create_app(store=store, secret_key="s")

    def post(visitor: TestClient, form: dict[str, str | list[str]]) -> None:
        if not in_memory:  # the server has no survey in memory (a new worker): the submit reads the store
            app.state.survey_rows = {}
        assert visitor.post("/s/customer-pulse", data=form, follow_redirects=False).status_code == 303

    visitor = TestClient(app, base_url="http://testserver")
    first = _form(visitor.get("/s/customer-pulse").text, nps="3", csat="2")
    post(visitor, first)
    _without_survey_cookie(visitor)
    post(visitor, first)  # a browser resend (or a double click) without the survey cookie
    assert store.count("responses") == 1 and store.count("answers") == 3  # nps, csat, the page mark: once
    second = _form(visitor.get("/s/customer-pulse").text, problems=["price"])  # page 2, via the cookie set
    _without_survey_cookie(visitor)
    post(visitor, second)  # the form names its response: page 2 continues it
    post(visitor, second)
    assert store.count("responses") == 1
    assert store.fetchall("SELECT COUNT(*) FROM answers WHERE question_id = 'problems'") == [(1,)]
    assert store.fetchall("SELECT current_page FROM responses") == [(2,)]
    other = TestClient(app, base_url="http://testserver")  # another visitor, another form
    post(other, _form(other.get("/s/customer-pulse").text, nps="9", csat="4"))
    assert store.count("responses") == 2


def test_a_forged_response_token_cannot_write_into_another_response(client: TestClient, survey_store: Store) -> None:
    page = client.get("/s/customer-pulse")
    client.post("/s/customer-pulse", data=_form(page.text, nps="3", csat="2"), follow_redirects=False)
    ((victim,),) = survey_store.fetchall("SELECT response_id FROM responses")
    attacker = TestClient(client.app, base_url="http://testserver")
    form = _form(attacker.get("/s/customer-pulse").text, nps="10", csat="5")
    for forged in (f"{victim}.1.{'A' * 24}", f"{victim}.0.{form[RESPONSE_FIELD].rsplit('.', 1)[1]}"):
        attacker.post("/s/customer-pulse", data={**form, RESPONSE_FIELD: forged}, follow_redirects=False)
    assert sorted(repo.response_answers(survey_store, str(victim))) == [("csat", "", "2"), ("nps", "", "3")]


def test_invitation_tokens_guessed_or_from_another_survey_are_refused(client: TestClient, survey_store: Store) -> None:
    ((_, token),) = repo.create_invitations(survey_store, "customer-pulse", ["c1"])
    ((_, other_token),) = repo.create_invitations(survey_store, "other-survey", ["c1"])
    page = client.get(f"/s/customer-pulse?t={token}")
    assert page.status_code == 200
    assert client.get("/s/customer-pulse?t=guessed-token-value").status_code == 403
    assert client.get(f"/s/customer-pulse?t={other_token}").status_code == 403
    assert survey_store.count("responses") == 0  # opening a link starts nothing; refused links neither
    form = {**_form(page.text, nps="3", csat="2"), "t": token}
    for _ in range(2):  # the first answer creates the invitation's one response (a double click included)
        assert client.post("/s/customer-pulse", data=form, follow_redirects=False).status_code == 303
    assert survey_store.fetchall("SELECT customer_id FROM responses") == [("c1",)]
    assert (
        "Page 2 of 4" in TestClient(client.app, base_url="http://testserver").get(f"/s/customer-pulse?t={token}").text
    )


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
