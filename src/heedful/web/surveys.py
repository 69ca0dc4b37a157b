"""Survey pages: the public respondent form /s/<slug> (plain HTML forms, no JavaScript needed) and
the team's Surveys pages with results.

Respondent flow: GET shows the page the response is at; POST validates it (messages per answer),
saves it durably with the form's idempotency key (a double submit records once), then redirects
to the next page under skip logic (post/redirect/get). The response is found again from its
cookie or its invitation token, so people can come back and finish.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import NotFoundError
from heedful.store import Store
from heedful.store import surveys_repo as repo
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


def _survey_or_404(store: Store, slug: str) -> tuple[dict[str, Any], SurveyDefinition]:
    row, survey = repo.latest_survey(store, slug)
    if row["status"] == "draft":
        raise NotFoundError(f"No survey at /s/{slug}.")
    return row, survey


def _respondent(
    request: Request, store: Store, slug: str, row: dict[str, Any], survey: SurveyDefinition, token: str
) -> tuple[dict[str, Any] | None, Response | None]:
    """The response this visitor is answering (created on first visit), or a page to show instead."""
    if token:
        invitation = repo.find_invitation(store, slug, token)
        if invitation is None:
            return None, render(
                request,
                "survey_message.html",
                {
                    "heading": "This link is not valid",
                    "message": "Please check that you copied the whole link from your invitation.",
                    "survey": survey,
                },
                403,
            )
        rid = repo.start_response(
            store, row["survey_id"], slug, invitation["customer_id"], invitation["token_hash"], survey.wave
        )
        return repo.response_state(store, rid), None
    rid = request.cookies.get(_cookie(slug), "")
    state = repo.response_state(store, rid) if rid else None
    if state is None or state["slug"] != slug:
        rid = repo.start_response(store, row["survey_id"], slug, None, None, survey.wave)
        state = repo.response_state(store, rid)
    return state, None


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
    answered = repo.response_answers(store, state["response_id"])
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
        "idempotency_key": secrets.token_urlsafe(16),
        "token": token,
        "can_go_back": page_index > 0,
        "other": OTHER,
    }
    response = render(request, "survey_form.html", context, status_code)
    _remember(response, survey.slug, state["response_id"])
    return response


def _remember(response: Response, slug: str, response_id: str) -> None:
    response.set_cookie(
        _cookie(slug), response_id, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="lax", path=f"/s/{slug}"
    )


def _closed(request: Request, survey: SurveyDefinition) -> Response:
    return render(
        request,
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
    row, survey = _survey_or_404(store, slug)
    if row["status"] == "closed":
        return _closed(request, survey)
    state, refusal = _respondent(request, store, slug, row, survey, t)
    if refusal is not None:
        return refusal
    assert state is not None
    if state["completed_at"] is not None:
        response = render(
            request,
            "survey_message.html",
            {"heading": "Thank you", "message": survey.thank_you, "survey": survey, "done": True},
        )
        _remember(response, slug, state["response_id"])
        return response
    answered = repo.response_answers(store, state["response_id"])
    current = int(state["current_page"] or 0)
    if page is not None and page in _previous_pages(survey, known_values(answered), current):
        current = page  # going back to a page already answered
    values = form_values(answered)
    for key, value in request.query_params.items():
        if key.startswith("a.") and key[2:] not in values:  # pre-filled from an embedded snippet: ?a.nps=9
            values[key[2:]] = [value]
    return _page_response(request, store, survey, state, current, values, {}, t)


@router.post("/s/{slug}")
async def survey_submit(request: Request, slug: str, store: StoreDep) -> Response:
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    token = (values.get("t") or [""])[0]
    row, survey = _survey_or_404(store, slug)
    if row["status"] == "closed":
        return _closed(request, survey)
    state, refusal = _respondent(request, store, slug, row, survey, token)
    if refusal is not None:
        return refusal
    assert state is not None
    target = f"/s/{slug}" + (f"?t={quote(token)}" if token else "")
    if state["completed_at"] is not None:
        return RedirectResponse(target, status_code=303)
    try:
        page_index = int((values.get("page") or ["-1"])[0])
    except ValueError:
        page_index = -1
    if not 0 <= page_index < len(survey.pages):
        return RedirectResponse(target, status_code=303)
    key = (values.get("idempotency_key") or [""])[0]
    answered = repo.response_answers(store, state["response_id"])
    page = survey.pages[page_index]
    result = validate_page(survey, page, values, state["response_id"], known_values(answered))
    if not result.ok:
        return _page_response(request, store, survey, state, page_index, values, result.errors, token, 422)
    page_ids = {q.id for q in page.questions}
    known = known_values([a for a in answered if a[0] not in page_ids])
    known.update(known_values(result.answers))
    following = next_page(survey, page_index, known)
    repo.save_page(
        store,
        state["response_id"],
        page.id,
        sorted(page_ids),
        result.answers,
        key or secrets.token_urlsafe(16),
        following,
    )
    response = RedirectResponse(target, status_code=303)
    _remember(response, slug, state["response_id"])
    return response


# ---------------------------------------------------------------------------- team pages
@router.get("/surveys")
def surveys_list(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    table = repo.list_surveys(store)
    return render(request, "survey_list.html", {"surveys": table.to_dict(orient="records"), "section": "surveys"})


@router.get("/surveys/{slug}")
def survey_results_page(request: Request, slug: str, store: StoreDep, user: ViewerUser) -> Response:
    from heedful.surveys.results import survey_results

    row, survey = repo.latest_survey(store, slug)
    responses, answers, invited = repo.survey_data(store, slug)
    result = survey_results(survey, responses, answers, invited)
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
    }
    return render(request, "survey_results.html", context)


@router.post("/surveys/{slug}/status")
async def survey_status(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    form = await request.form()
    status = str(form.get("status", ""))
    repo.set_status(store, slug, status)
    return RedirectResponse(f"/surveys/{slug}", status_code=303)
