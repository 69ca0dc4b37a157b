"""The survey builder pages over HTTP: create a survey with every question type in the form, edit it, see
messages next to fields, preview without storing anything, and the business's name and colour on /s/<slug>."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.surveys.conftest import ANALYST, seed_survey_store

from heedful.services import surveys as service
from heedful.services.accounts import Role, create_user
from heedful.services.survey_brand import contrast_ratio
from heedful.store import Store, connect
from heedful.surveys.definition import parse_survey, survey_to_json
from heedful.web.app import create_app

ADMIN = ("admin@example.com", "correct-horse-battery")
BUILDER = "/surveys/builder"

# What the clicks and typing in `test_a_survey_built_in_the_form_is_saved_and_edits_back_unchanged` make.
BUILT = """
slug: spring-pulse
title: Spring pulse
intro: Hi {{customer.name}}!
thank_you: Thanks a lot.
pages:
  - id: page_1
    questions:
      - {id: nps, type: nps, text: "How likely is it that you would recommend us to a friend or colleague?"}
      - {id: csat_1, type: csat, text: Question csat}
      - {id: ces_1, type: ces, text: Question ces, required: false}
      - {id: single_1, type: single, text: Question single, options: [Search, Friend], other: true}
      - {id: multiple_1, type: multiple, text: Question multiple, options: [A, B], max_choices: 1}
    next:
      - {if: {question: nps, more_than: 8}, goto: end}
  - id: page_2
    questions:
      - {id: likert_1, type: likert, text: Question likert, rows: [Fast, Fair]}
      - {id: ranking_1, type: ranking, text: Question ranking, options: [X, Y]}
      - {id: numeric_1, type: numeric, text: Question numeric, min: 0, integer: true}
      - {id: text_1, type: text, text: Question text, show_if: {question: single_1, equals: search}}
      - {id: maxdiff_1, type: maxdiff, text: Question maxdiff, items: [P, Q, R], items_per_task: 3}
      - {id: conjoint_1, type: conjoint, text: Question conjoint, attributes: {size: [S, M], price: [5, 10]}, price: price}
      - {id: van_westendorp_1, type: van_westendorp, text: Question van_westendorp, currency: EUR}
"""


class _Form(HTMLParser):
    """The fields a browser would post from the form with action `action` (checked boxes, selected options)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.fields = action, False, {}
        self.textarea: str | None = None
        self.select: str | None = None
        self.options: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            else:
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a["name"]
            self.fields[self.textarea] = ""
        elif tag == "select":
            self.select, self.options = a["name"], []
        elif tag == "option" and self.select:
            self.options.append((a.get("value", ""), "selected" in a))

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.fields[self.textarea] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self.textarea:
            self.fields[self.textarea] = self.fields[self.textarea].removeprefix("\n")
            self.textarea = None
        elif tag == "select" and self.select:
            chosen = [v for v, selected in self.options if selected] or [v for v, _ in self.options[:1]]
            self.fields[self.select] = chosen[0] if chosen else ""
            self.select = None
        elif tag == "form":
            self.inside = False


def form_fields(html: str, action: str = BUILDER) -> dict[str, str]:
    parser = _Form(action)
    parser.feed(html)
    return parser.fields


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    st = connect(f"duckdb:///{tmp_path / 'builder.duckdb'}")
    seed_survey_store(st)
    create_user(st, ADMIN[0], Role.admin, ADMIN[1])
    yield st
    st.close()


def _signed_in(store: Store, who: tuple[str, str]) -> TestClient:
    client = TestClient(create_app(store=store, secret_key="s"), base_url="http://testserver")
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
    assert token
    data = {"email": who[0], "password": who[1], "csrf_token": token.group(1)}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def analyst(store: Store) -> TestClient:
    return _signed_in(store, ANALYST)


def _step(client: TestClient, fields: dict[str, str], action: str, status: int = 200) -> dict[str, str]:
    response = client.post(BUILDER, data={**fields, "action": action}, follow_redirects=False)
    assert response.status_code == status, response.text[:500]
    return form_fields(response.text)


def _question(fields: dict[str, str], qid: str) -> str:
    """The field prefix (q<j>) of the question with id `qid`."""
    return next(key.removesuffix(".id") for key, value in fields.items() if key.endswith(".id") and value == qid)


def test_a_survey_built_in_the_form_is_saved_and_edits_back_unchanged(analyst: TestClient, store: Store) -> None:
    fields = form_fields(analyst.get("/surveys/builder/new").text)
    fields.update(slug="spring-pulse", title="Spring pulse", intro="Hi {{customer.name}}!", thank_you="Thanks a lot.")
    fields = _step(analyst, fields, "add_page")
    for kind in ("csat", "ces", "single", "multiple"):
        fields = _step(analyst, {**fields, "new_type_0": kind}, "add_question:0")
    for kind in ("likert", "ranking", "numeric", "text", "maxdiff", "conjoint", "van_westendorp"):
        fields = _step(analyst, {**fields, "new_type_1": kind}, "add_question:1")
    for kind in ("csat", "ces", "single", "multiple", "likert", "ranking", "numeric", "text", "maxdiff"):
        fields[f"{_question(fields, f'{kind}_1')}.text"] = f"Question {kind}"
    for kind in ("conjoint", "van_westendorp"):
        fields[f"{_question(fields, f'{kind}_1')}.text"] = f"Question {kind}"
    q = {kind: _question(fields, f"{kind}_1") for kind in ("ces", "single", "multiple", "likert", "ranking")}
    del fields[f"{q['ces']}.required"]  # untick "Required"
    fields[f"{q['single']}.x.options"] = "Search\nFriend"
    fields[f"{q['single']}.x.other"] = "1"
    fields[f"{q['multiple']}.x.options"] = "A\nB"
    fields[f"{q['multiple']}.x.max_choices"] = "1"
    fields[f"{q['likert']}.x.rows"] = "Fast\nFair"
    fields[f"{q['ranking']}.x.options"] = "X\nY"
    numeric, text = _question(fields, "numeric_1"), _question(fields, "text_1")
    fields.update({f"{numeric}.x.min": "0", f"{numeric}.x.integer": "1"})
    fields.update({f"{text}.show_if.question": "single_1", f"{text}.show_if.value": "search"})
    maxdiff, conjoint, vw = (_question(fields, f"{k}_1") for k in ("maxdiff", "conjoint", "van_westendorp"))
    fields.update({f"{maxdiff}.x.items": "P\nQ\nR", f"{maxdiff}.x.items_per_task": "3"})
    fields.update({f"{conjoint}.x.attributes": "size: S, M\nprice: 5, 10", f"{conjoint}.x.price": "price"})
    fields[f"{vw}.x.currency"] = "EUR"
    fields = _step(analyst, fields, "add_rule:0")
    fields.update({"p0.next0.question": "nps", "p0.next0.test": "more_than", "p0.next0.value": "8"})
    saved = analyst.post(BUILDER, data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/surveys/spring-pulse/edit?saved=1"
    row, survey = service.latest_survey(store, "spring-pulse")
    assert survey_to_json(survey) == survey_to_json(parse_survey(BUILT))
    assert row["version"] == 1 and row["status"] == "open"

    edit = analyst.get("/surveys/spring-pulse/edit")
    assert "Saved as version" not in edit.text and 'value="Question likert"' in edit.text
    again = analyst.post(BUILDER, data={**form_fields(edit.text), "action": "save"}, follow_redirects=False)
    assert again.status_code == 303
    row, same = service.latest_survey(store, "spring-pulse")
    assert row["version"] == 1 and survey_to_json(same) == survey_to_json(survey)  # nothing changed: no new version


def test_the_sample_survey_with_every_type_edits_back_to_the_same_definition(analyst: TestClient, store: Store) -> None:
    _, before = service.latest_survey(store, "customer-pulse")
    fields = form_fields(analyst.get("/surveys/customer-pulse/edit").text)
    fields[f"{_question(fields, 'comment')}.text"] = "Anything else at all?"
    saved = analyst.post(BUILDER, data={**fields, "action": "save"}, follow_redirects=False)
    assert saved.headers["location"] == "/surveys/customer-pulse/edit?saved=2"
    _, after = service.latest_survey(store, "customer-pulse")
    changed = survey_to_json(before)
    changed["pages"][2]["questions"][4]["text"] = "Anything else at all?"
    assert survey_to_json(after) == changed


def test_a_bad_form_says_what_is_wrong_next_to_the_field_and_saves_nothing(analyst: TestClient, store: Store) -> None:
    fields = form_fields(analyst.get("/surveys/builder/new").text)
    fields = _step(analyst, {**fields, "new_type_0": "single"}, "add_question:0")
    single = _question(fields, "single_1")
    fields.update(
        {"slug": "Spring Pulse!", "title": "Spring", f"{single}.text": "Where?", f"{single}.x.options": "Only"}
    )
    fields[f"{_question(fields, 'nps')}.id"] = "Net Promoter"
    response = analyst.post(BUILDER, data={**fields, "action": "save"})
    assert response.status_code == 422
    text = response.text
    assert 'id="err-slug">Use lower-case letters, digits and hyphens' in text
    assert 'id="err-q0-id">Use lower-case letters, digits and underscores' in text
    assert 'id="err-q1-x-options">Give at least 2, one per line.' in text
    assert 'aria-invalid="true"' in text and "please check 3 things" in text
    assert 'value="Where?"' in text  # what was typed stays in the form
    assert store.fetchall("SELECT COUNT(*) FROM surveys") == [(2,)]


def test_preview_shows_phone_and_desktop_frames_and_stores_nothing(analyst: TestClient, store: Store) -> None:
    page = analyst.get("/surveys/customer-pulse/preview")
    assert 'width="390"' in page.text and 'width="1024"' in page.text
    assert page.text.count('src="/surveys/customer-pulse/preview/frame"') == 2
    frame = analyst.get("/surveys/customer-pulse/preview/frame")
    assert (
        frame.headers["x-frame-options"] == "SAMEORIGIN"
        and "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    )
    assert "answers are checked but not saved" in frame.text
    fields = form_fields(frame.text, "/surveys/customer-pulse/preview/frame")
    bad = analyst.post("/surveys/customer-pulse/preview/frame", data={**fields, "nps": "12"})
    assert bad.status_code == 422 and "Choose a number from 0 to 10." in bad.text
    detractor = analyst.post("/surveys/customer-pulse/preview/frame", data={**fields, "nps": "3", "csat": "2"})
    assert "What went wrong?" in detractor.text and "Page 2 of 4" in detractor.text  # skip logic as on /s/
    promoter = analyst.post("/surveys/customer-pulse/preview/frame", data={**fields, "nps": "10", "csat": "5"})
    assert "Page 3 of 4" in promoter.text
    counts = [store.count(t) for t in ("responses", "answers", "invitations")]
    assert counts == [0, 0, 0] and not [c for c in analyst.cookies if c.startswith("hf_resp_")]
    assert analyst.get("/surveys/customer-pulse").status_code == 200
    assert service.results(store, "customer-pulse").result["responses"] == 0


def test_the_brand_name_and_colour_appear_on_the_public_page_readably(store: Store) -> None:
    admin = _signed_in(store, ADMIN)
    form = form_fields(admin.get("/surveys/brand").text, "/surveys/brand")
    bad = admin.post("/surveys/brand", data={**form, "name": "Bloom & Co", "colour": "blue-ish"})
    assert bad.status_code == 422 and 'id="err-colour">“blue-ish” is not a colour' in bad.text
    saved = admin.post("/surveys/brand", data={**form, "name": "Bloom & Co", "colour": "#FFD700"})
    assert saved.status_code == 200 and "Saved: the survey pages show it now." in saved.text
    public = TestClient(admin.app, base_url="http://testserver").get("/s/customer-pulse")
    assert '<header class="survey-brand" data-brand-colour="#ffd700"><p>Bloom &amp; Co</p></header>' in public.text
    header_text = re.search(r"\.survey-brand \{ background: #ffd700; color: (#[0-9a-f]{6})", public.text)
    accent = re.search(r"--brand: (#[0-9a-f]{6}); --brand-ink: (#[0-9a-f]{6})", public.text)
    assert header_text and accent
    assert contrast_ratio("#ffd700", header_text.group(1)) >= 4.5  # gold: dark text on it
    assert contrast_ratio(accent.group(1), "#ffffff") >= 4.5  # buttons and links darkened to read on white
    assert contrast_ratio(accent.group(1), accent.group(2)) >= 4.5
    analyst = _signed_in(store, ANALYST)
    assert analyst.get("/surveys/brand").status_code == 403


def test_builder_pages_are_for_analysts(store: Store) -> None:
    create_user(store, "viewer@example.com", Role.viewer, ADMIN[1])
    viewer = _signed_in(store, ("viewer@example.com", ADMIN[1]))
    for path in ("/surveys/builder/new", "/surveys/customer-pulse/edit", "/surveys/customer-pulse/preview"):
        assert viewer.get(path).status_code == 403


def test_every_builder_and_invitation_route_states_who_may_use_it() -> None:
    from fastapi.routing import APIRoute

    from heedful.web import survey_builder, survey_invites

    public = {"/s/{slug}/unsubscribe"}  # the link in every e-mail: the token is the permission
    admins = {"/surveys/brand"}
    for module in (survey_builder, survey_invites):
        for route in module.router.routes:
            assert isinstance(route, APIRoute)
            roles = [getattr(d.call, "required_role", None) for d in route.dependant.dependencies]
            roles = [Role(r) for r in roles if r is not None]
            if route.path in public:
                assert roles == [], route.path
            else:
                assert roles == [Role.admin if route.path in admins else Role.analyst], route.path
