"""Survey pages: the public respondent form /s/<slug> (plain HTML forms, no JavaScript needed) and
the team's Surveys pages with results.

Respondent flow: GET shows the page the response is at and stores nothing (a visit, a reload or a
bot is not a response); POST validates it (messages per answer), saves it durably with the form's
idempotency key (a double submit records once) — the first page saved creates the response — then
redirects to the next page under skip logic (post/redirect/get). The response is found again from
its cookie or its invitation token, so people can come back and finish; without the cookie, from
the signed response token every form carries (so a re-sent form continues its response).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import NotFoundError
from heedful.services import survey_brand, survey_invites
from heedful.services import surveys as service
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.store.surveys_repo import NewResponse
from heedful.surveys.builder import TYPE_LABELS
from heedful.surveys.collect import (
    OTHER,
    VW_FIELDS,
    VW_LABELS,
    conjoint_tasks,
    known_values,
    maxdiff_tasks,
    next_page,
    validate_page,
    visible_questions,
)
from heedful.surveys.definition import SurveyDefinition, pipe
from heedful.web.deps import AnalystUser, Role, StoreDep, ViewerUser
from heedful.web.survey_responses import (
    RESPONSE_FIELD,
    page_writer,
    responses_cache,
    sign_response,
    signed_response,
)
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

COOKIE_DAYS = 60


def _cookie(slug: str) -> str:
    return f"hf_resp_{slug.replace('-', '_')}"


def _customer(store: Store, customer_id: str | None) -> dict[str, Any]:
    if not customer_id:
        return {}
    rows = store.fetchall(
        "SELECT customer_id, name, email, company, country, city, kind FROM customers WHERE customer_id = ?",
        [customer_id],
    )
    if not rows:
        return {}
    return dict(zip(["customer_id", "name", "email", "company", "country", "city", "kind"], rows[0], strict=True))


def form_values(rows: Sequence[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Stored answers -> the form field values that show them again (going back, resuming)."""
    values: dict[str, list[str]] = {}
    for qid, field, value in rows:
        if field == "":
            values.setdefault(qid, []).append(OTHER if value == "other" else value)
        elif field == "other":
            values[f"{qid}.other"] = [value]
            values.setdefault(qid, []).append(OTHER)
        elif value == "1" and "." not in field:
            values.setdefault(qid, []).append(field)
            values.setdefault(f"{qid}.{field}", []).append(value)
        else:
            values[f"{qid}.{field}"] = [value]
    return values


def question_view(q: Any, response_id: str, customer: dict[str, Any]) -> dict[str, Any]:
    """What the template needs to draw one question."""
    view: dict[str, Any] = {"q": q, "text": pipe(q.text, customer), "type": q.type}
    if q.type == "nps":
        view["points"] = list(range(11))
    elif q.type == "csat":
        view["points"] = list(range(1, 6))
    elif q.type == "ces":
        view["points"] = list(range(1, 8))
    elif q.type == "maxdiff":
        labels = {o.value: o.label for o in q.items}
        view["tasks"] = [[(v, labels[v]) for v in task] for task in maxdiff_tasks(q, response_id)]
    elif q.type == "conjoint":
        view["tasks"] = conjoint_tasks(q, response_id)
        view["attributes"] = list(q.attributes)
    elif q.type == "van_westendorp":
        view["fields"] = [(f, VW_LABELS[f].format(p=q.product)) for f in VW_FIELDS]
    return view


STATUS_TTL_S = 1.0


def _latest(request: Request, store: Store, slug: str) -> tuple[dict[str, Any], SurveyDefinition]:
    """The newest version of a survey. The app keeps the parsed definition (immutable per version)
    and re-reads version and status at most a second old, so closing or a new version shows at once
    on this server's own pages and within a second when done from the CLI."""
    rows_cache: dict[str, tuple[float, tuple[Any, ...]]] | None = getattr(request.app.state, "survey_rows", None)
    if rows_cache is None:
        rows_cache = request.app.state.survey_rows = {}
    now = time.monotonic()
    hit = rows_cache.get(slug)
    found = hit[1] if hit is not None and hit[0] > now else repo.latest_row(store, slug)
    if found is None:
        raise NotFoundError(f"No survey at /s/{slug}.")
    rows_cache[slug] = (now + STATUS_TTL_S, found) if hit is None or hit[0] <= now else hit
    row = dict(zip(["survey_id", "slug", "version", "title", "audience", "status", "created_at"], found, strict=True))
    cache: dict[str, SurveyDefinition] | None = getattr(request.app.state, "survey_definitions", None)
    if cache is None:
        cache = request.app.state.survey_definitions = {}
    survey = cache.get(row["survey_id"])
    if survey is None:
        survey = cache[row["survey_id"]] = service.survey_version(store, row["survey_id"])
    return row, survey


def _survey_or_404(request: Request, store: Store, slug: str) -> tuple[dict[str, Any], SurveyDefinition]:
    row, survey = _latest(request, store, slug)
    if row["status"] == "draft":
        raise NotFoundError(f"No survey at /s/{slug}.")
    return row, survey


def branded(request: Request, store: Store) -> dict[str, Any] | None:
    """The business's name and readable colours for the public pages (re-read at most a second old)."""
    cached: tuple[float, dict[str, Any] | None] | None = getattr(request.app.state, "survey_brand", None)
    now = time.monotonic()
    if cached is None or cached[0] <= now:
        saved = survey_brand.brand(store)
        style = None if saved is None else {"name": saved.name, **vars(survey_brand.style_of(saved))}
        cached = request.app.state.survey_brand = (now + STATUS_TTL_S, style)
    return cached[1]


def _public(request: Request, store: Store, template: str, context: dict[str, Any], status: int = 200) -> Response:
    """Render a public survey page in the business's name and colours (when set)."""
    return render(request, template, {**context, "brand": branded(request, store)}, status)


Respondent = tuple[dict[str, Any] | None, list[tuple[str, str, str]], NewResponse | None, Response | None]


def _pending(response_id: str, new: NewResponse) -> dict[str, Any]:
    """The state of a response not stored yet: a visit stores nothing, the first page submitted creates it."""
    return {
        "response_id": response_id,
        "survey_id": new.survey_id,
        "slug": new.slug,
        "customer_id": new.customer_id,
        "token_hash": new.token_hash,
        "current_page": 0,
        "completed_at": None,
        "pending": True,
    }


def _respondent(
    request: Request,
    store: Store,
    slug: str,
    row: dict[str, Any],
    survey: SurveyDefinition,
    token: str,
    form_token: str = "",
) -> Respondent:
    """The response this visitor is answering, or a page to show instead: (state, answers, new, refusal).

    Found from the invitation token, else the survey cookie, else the response the submitted form
    names (its signed token). Nothing is created here: for a visitor without a stored response the
    state is pending and `new` says what the first page saved will create.
    """
    cache = responses_cache(request.app)
    if token:
        invitation = repo.find_invitation(store, slug, token)
        if invitation is None:
            refusal = _public(
                request,
                store,
                "survey_message.html",
                {
                    "heading": "This link is not valid",
                    "message": "Please check that you copied the whole link from your invitation.",
                    "survey": survey,
                },
                403,
            )
            return None, [], None, refusal
        found = repo.invitation_response(store, invitation["token_hash"], slug)
        if found is not None:
            state, answered = cache.get(store, found)
            if state is not None:
                return state, answered, None, None
        new = NewResponse(row["survey_id"], slug, survey.wave, invitation["customer_id"], invitation["token_hash"])
        return _pending(repo.invitation_response_id(invitation["token_hash"]), new), [], new, None
    rid = request.cookies.get(_cookie(slug), "")
    state, answered = cache.get(store, rid) if rid else (None, [])
    if state is not None and state["slug"] == slug:
        return state, answered, None, None
    named = signed_response(request.app, slug, form_token)
    rid = ""
    if named is not None:
        state, answered = cache.get(store, named[0])
        if state is not None and state["slug"] == slug:
            return state, answered, None, None
        if named[1]:  # the form was drawn for a response still to be created: this submit creates it
            rid = named[0]
    new = NewResponse(row["survey_id"], slug, survey.wave)
    return _pending(rid or secrets.token_urlsafe(16), new), [], new, None


def _page_response(
    request: Request,
    store: Store,
    survey: SurveyDefinition,
    state: dict[str, Any],
    page_index: int,
    values: Mapping[str, Sequence[str]],
    errors: dict[str, str],
    token: str,
    status_code: int = 200,
) -> Response:
    pending = bool(state.get("pending"))
    answered = [] if pending else responses_cache(request.app).get(store, state["response_id"])[1]
    known = known_values(answered)
    customer = _customer(store, state.get("customer_id"))
    page = survey.pages[page_index]
    questions = [question_view(q, state["response_id"], customer) for q in visible_questions(page, known)]
    context = {
        "survey": survey,
        "intro": pipe(survey.intro, customer) if page_index == 0 else "",
        "page": page,
        "page_index": page_index,
        "page_count": len(survey.pages),
        "questions": questions,
        "values": values,
        "errors": errors,
        "error_list": [(v["q"].id, v["text"], errors[v["q"].id]) for v in questions if v["q"].id in errors],
        "idempotency_key": secrets.token_urlsafe(16),
        "response_field": RESPONSE_FIELD,
        "response_token": sign_response(request.app, survey.slug, state["response_id"], pending),
        "token": token,
        "back_to": path[-1] if (path := _previous_pages(survey, known, page_index)) else None,
        "other": OTHER,
    }
    response = _public(request, store, "survey_form.html", context, status_code)
    if not pending:  # a cookie names stored responses only
        _remember(response, survey.slug, state["response_id"])
    return response


def _remember(response: Response, slug: str, response_id: str) -> None:
    response.set_cookie(
        _cookie(slug), response_id, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="lax", path=f"/s/{slug}"
    )


def _closed(request: Request, store: Store, survey: SurveyDefinition) -> Response:
    return _public(
        request,
        store,
        "survey_message.html",
        {
            "heading": "This survey is closed",
            "message": "It no longer collects answers. Thank you for your interest.",
            "survey": survey,
        },
        410,
    )


def _previous_pages(survey: SurveyDefinition, known: dict[str, list[str]], current: int) -> list[int]:
    """Pages this respondent has passed through under skip logic, in order, before `current`."""
    path: list[int] = []
    index: int | None = 0
    while index is not None and index < current:
        path.append(index)
        index = next_page(survey, index, known)
    return path


@router.get("/s/{slug}")
def survey_page(request: Request, slug: str, store: StoreDep, t: str = "", page: int | None = None) -> Response:
    row, survey = _survey_or_404(request, store, slug)
    if row["status"] == "closed":
        return _closed(request, store, survey)
    state, answered, _, refusal = _respondent(request, store, slug, row, survey, t)
    if refusal is not None:
        return refusal
    assert state is not None
    if t and state.get("token_hash"):
        survey_invites.record_opened(store, state["token_hash"])  # the first visit of an e-mailed link counts
    if state["completed_at"] is not None:
        response = _public(
            request,
            store,
            "survey_message.html",
            {"heading": "Thank you", "message": survey.thank_you, "survey": survey, "done": True},
        )
        _remember(response, slug, state["response_id"])
        return response
    current = int(state["current_page"] or 0)
    if page is not None and page in _previous_pages(survey, known_values(answered), current):
        current = page  # going back to a page already answered
    values = form_values(answered)
    for key, value in request.query_params.items():
        if key.startswith("a.") and key[2:] not in values:  # pre-filled from an embedded snippet: ?a.nps=9
            values[key[2:]] = [value]
    return _page_response(request, store, survey, state, current, values, {}, t)


Checked = tuple[dict[str, Any], list[tuple[str, str, str]], Any, int, SurveyDefinition, Any, NewResponse | None]


def _check_submission(
    request: Request, store: Store, slug: str, values: dict[str, list[str]], token: str, target: str
) -> Response | Checked:
    """Everything a submit reads: the survey, the response (or the one to create), and the page's validation."""
    row, survey = _survey_or_404(request, store, slug)
    if row["status"] == "closed":
        return _closed(request, store, survey)
    form_token = (values.get(RESPONSE_FIELD) or [""])[0]
    state, answered, new, refusal = _respondent(request, store, slug, row, survey, token, form_token)
    if refusal is not None:
        return refusal
    assert state is not None
    if state["completed_at"] is not None:
        return RedirectResponse(target, status_code=303)
    try:
        page_index = int((values.get("page") or ["-1"])[0])
    except ValueError:
        page_index = -1
    if not 0 <= page_index < len(survey.pages):
        return RedirectResponse(target, status_code=303)
    page = survey.pages[page_index]
    result = validate_page(survey, page, values, state["response_id"], known_values(answered))
    if not result.ok:
        return _page_response(request, store, survey, state, page_index, values, result.errors, token, 422)
    return state, answered, page, page_index, survey, result, new


def _check_from_memory(request: Request, slug: str, values: dict[str, list[str]], token: str) -> Checked | None:
    """The common case without touching the store (so without waiting for it): an open survey from
    the cache, a known respondent from the cache or a new visitor (no cookie, no invitation; their
    response is created with the page, under the id their form names), and a page that validates.
    None when anything else."""
    rows: dict[str, tuple[float, tuple[Any, ...]]] = getattr(request.app.state, "survey_rows", {})
    hit = rows.get(slug)
    responses = getattr(request.app.state, "survey_responses", None)
    rid = request.cookies.get(_cookie(slug), "")
    if token or hit is None or hit[0] <= time.monotonic():
        return None
    survey_id, status = hit[1][0], hit[1][5]
    survey = getattr(request.app.state, "survey_definitions", {}).get(survey_id)
    if survey is None or status != "open":
        return None
    named = None if rid else signed_response(request.app, slug, (values.get(RESPONSE_FIELD) or [""])[0])
    rid = rid or (named[0] if named is not None else "")
    cached = responses.entries.get(rid) if responses is not None and rid else None
    new: NewResponse | None = None
    if cached is not None:
        state, answered = dict(cached[0]), list(cached[1])
    elif rid and (named is None or not named[1]):
        return None  # a stored response not in memory: read it
    else:  # a new visitor: the form's response id (or, from a form without one, a fresh id)
        new = NewResponse(survey_id, slug, survey.wave)
        state = {"response_id": rid or secrets.token_urlsafe(16), "slug": slug, "completed_at": None}
        answered = []
    if state["slug"] != slug or state["completed_at"] is not None:
        return None
    try:
        page_index = int((values.get("page") or ["-1"])[0])
    except ValueError:
        return None
    if not 0 <= page_index < len(survey.pages):
        return None
    page = survey.pages[page_index]
    result = validate_page(survey, page, values, state["response_id"], known_values(answered))
    if not result.ok:
        return None
    return state, answered, page, page_index, survey, result, new


@router.post("/s/{slug}")
async def survey_submit(request: Request, slug: str) -> Response:
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    token = (values.get("t") or [""])[0]
    target = f"/s/{slug}" + (f"?t={quote(token)}" if token else "")
    checked: Response | Checked | None = _check_from_memory(request, slug, values, token)
    if checked is None:  # not all in memory (or a page to show): read the store, in a worker thread
        async with request.app.state.store_pool.acquire() as store:
            checked = await asyncio.to_thread(_check_submission, request, store, slug, values, token, target)
    if isinstance(checked, Response):
        return checked
    state, answered, page, page_index, survey, result, new = checked
    page_ids = {q.id for q in page.questions}
    known = known_values([a for a in answered if a[0] not in page_ids])
    known.update(known_values(result.answers))
    key = (values.get("idempotency_key") or [""])[0] or secrets.token_urlsafe(16)
    item = service.page_save(
        state["response_id"], page.id, sorted(page_ids), result.answers, key, next_page(survey, page_index, known)
    )
    await page_writer(request.app).save(request.app, item, new)  # returns after the commit: the answer is durable
    response = RedirectResponse(target, status_code=303)
    _remember(response, slug, state["response_id"])
    return response


# ---------------------------------------------------------------------------- team pages
@router.get("/surveys")
def surveys_list(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    table = repo.list_surveys(store)
    context = {
        "surveys": table.to_dict(orient="records"),
        "can_edit": user.role.allows(Role.analyst),
        "is_admin": user.role.allows(Role.admin),
        "section": "surveys",
    }
    return render(request, "survey_list.html", context)


@router.get("/surveys/new")
def survey_new(request: Request, user: AnalystUser) -> Response:
    text = service.EXAMPLE.read_text(encoding="utf-8")
    return render(request, "survey_new.html", {"text": text, "errors": [], "section": "surveys"})


@router.post("/surveys/new")
async def survey_create(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    from heedful.errors import InputError
    from heedful.surveys.definition import parse_survey

    form = await request.form()
    text = str(form.get("definition", ""))
    try:
        survey = parse_survey(text, "definition")
    except InputError as exc:
        errors = [line for line in str(exc).splitlines() if line.startswith("definition:")] or [str(exc)]
        return render(request, "survey_new.html", {"text": text, "errors": errors, "section": "surveys"}, 422)
    service.save_definition(
        store, survey, status=str(form.get("status", "open")) if form.get("status") == "draft" else "open"
    )
    getattr(request.app.state, "survey_rows", {}).pop(survey.slug, None)
    return RedirectResponse(f"/surveys/{survey.slug}", status_code=303)


@router.get("/surveys/{slug}")
def survey_results_page(request: Request, slug: str, store: StoreDep, user: ViewerUser) -> Response:
    report = service.results(store, slug)
    row, survey, result = report.row, report.survey, report.result
    base = str(request.base_url).rstrip("/")
    nps_q = next((q for q in survey.questions if q.type == "nps" and q in survey.pages[0].questions), None)
    context = {
        "row": row,
        "survey": survey,
        "result": result,
        "public_url": f"{base}/s/{slug}",
        "nps_question": nps_q,
        "can_edit": user.role.allows(Role.analyst),
        "section": "surveys",
        "type_labels": TYPE_LABELS,  # "Would recommend (NPS, 0–10)", not "nps"
    }
    return render(request, "survey_results.html", context)


@router.post("/surveys/{slug}/status")
async def survey_status(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    form = await request.form()
    status = str(form.get("status", ""))
    repo.set_status(store, slug, status)
    getattr(request.app.state, "survey_rows", {}).pop(slug, None)
    return RedirectResponse(f"/surveys/{slug}", status_code=303)
