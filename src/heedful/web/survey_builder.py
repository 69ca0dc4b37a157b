"""Survey builder pages: create and edit a survey in a form (no YAML), preview it at phone and desktop widths,
and set the business's name and colour for the public pages.

The form is plain HTML: adding, removing and moving questions and pages are submit buttons that redraw it
(`heedful.surveys.builder.apply`), so it needs no JavaScript. Saving builds the same `SurveyDefinition` YAML is
parsed into and stores it through `services.surveys.save_definition` (a changed survey becomes a new version).
The preview is the real respondent form in a frame; its answers are checked and never stored.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import InputError
from heedful.services import survey_brand
from heedful.services import surveys as service
from heedful.surveys import builder
from heedful.surveys.collect import OTHER, known_values, next_page, validate_page, visible_questions
from heedful.surveys.definition import QUESTION_TYPES, SurveyDefinition, pipe
from heedful.web.deps import AdminUser, AnalystUser, StoreDep
from heedful.web.security import CONTENT_SECURITY_POLICY
from heedful.web.surveys import branded, question_view
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

FRAME_WIDTHS = (("Phone", 390, 720), ("Desktop", 1024, 720))
# the preview frame may be shown inside this app's own pages, nowhere else
FRAME_POLICY = CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'")


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def _builder_page(
    request: Request,
    form: builder.SurveyForm,
    *,
    editing: str | None,
    errors: builder.BuilderErrors | None = None,
    saved: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "form": form,
        "editing": editing,
        "field_errors": errors.fields if errors else {},
        "general_errors": errors.general if errors else [],
        "saved": saved,
        "types": [(t, builder.TYPE_LABELS[t]) for t in QUESTION_TYPES],
        "type_labels": builder.TYPE_LABELS,
        "audiences": builder.AUDIENCES,
        "tests": builder.TESTS,
        "extras": builder.EXTRAS,
        "question_ids": [q.id for q in form.questions if q.id],
        "section": "surveys",
    }
    return render(request, "survey_builder.html", context, status)


@router.get("/surveys/builder/new")
def builder_new(request: Request, user: AnalystUser) -> Response:
    return _builder_page(request, builder.new_form(), editing=None)


@router.get("/surveys/{slug}/edit")
def builder_edit(request: Request, slug: str, store: StoreDep, user: AnalystUser, saved: int | None = None) -> Response:
    row, survey = service.latest_survey(store, slug)
    done = {"version": row["version"], "status": row["status"]} if saved else None
    return _builder_page(request, builder.form_of(survey), editing=slug, saved=done)


@router.post("/surveys/builder")
async def builder_post(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    fields = await _fields(request)
    form = builder.read_form(fields)
    editing = fields.get("editing") or None
    action = fields.get("action", "refresh")
    if action.startswith("add_question:"):
        action += ":" + fields.get(f"new_type_{action.removeprefix('add_question:')}", "text")
    if action != "save":
        return _builder_page(request, builder.apply(form, action), editing=editing)
    try:
        survey = builder.build(form)
    except builder.BuilderErrors as exc:
        return _builder_page(request, form, editing=editing, errors=exc, status=422)
    info = service.save_definition(store, survey, status="draft" if fields.get("draft") else "open")
    getattr(request.app.state, "survey_rows", {}).pop(survey.slug, None)
    return RedirectResponse(f"/surveys/{survey.slug}/edit?saved={info['version']}", status_code=303)


# ---------------------------------------------------------------------------- preview
@router.get("/surveys/{slug}/preview")
def preview(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    row, survey = service.latest_survey(store, slug)
    context = {"survey": survey, "row": row, "frames": FRAME_WIDTHS, "section": "surveys"}
    return render(request, "survey_builder_preview.html", context)


def _framed(response: Response) -> Response:
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = FRAME_POLICY
    return response


def _preview_page(
    request: Request,
    store: StoreDep,
    survey: SurveyDefinition,
    index: int,
    known: dict[str, list[str]],
    values: dict[str, list[str]],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    page = survey.pages[index]
    questions = [question_view(q, "preview", {}) for q in visible_questions(page, known)]
    context = {
        "survey": survey,
        "intro": pipe(survey.intro, {}) if index == 0 else "",
        "page": page,
        "page_index": index,
        "page_count": len(survey.pages),
        "questions": questions,
        "values": values,
        "errors": errors,
        "error_list": [(v["q"].id, v["text"], errors[v["q"].id]) for v in questions if v["q"].id in errors],
        "idempotency_key": "preview",
        "token": "",
        "back_to": None,
        "other": OTHER,
        "preview": True,
        "form_action": f"/surveys/{survey.slug}/preview/frame",
        "known_json": json.dumps(known),
        "brand": branded(request, store),
    }
    return _framed(render(request, "survey_form.html", context, status))


@router.get("/surveys/{slug}/preview/frame")
def preview_frame(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    _, survey = service.latest_survey(store, slug)
    return _preview_page(request, store, survey, 0, {}, {}, {})


def _known_from(raw: str) -> dict[str, list[str]]:
    try:
        data = json.loads(raw or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): [str(v) for v in vs] for k, vs in data.items() if isinstance(vs, list)}


@router.post("/surveys/{slug}/preview/frame")
async def preview_submit(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    """Check the page like the real form and show the next one under skip logic; nothing is stored."""
    _, survey = service.latest_survey(store, slug)
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    known = _known_from((values.get("_known") or ["{}"])[0])
    try:
        index = int((values.get("page") or ["0"])[0])
    except ValueError:
        index = 0
    index = min(max(index, 0), len(survey.pages) - 1)
    result = validate_page(survey, survey.pages[index], values, "preview", known)
    if not result.ok:
        return _preview_page(request, store, survey, index, known, values, result.errors, 422)
    known.update(known_values(result.answers))
    following = next_page(survey, index, known)
    if following is None:
        context = {
            "heading": "Thank you",
            "message": survey.thank_you,
            "survey": survey,
            "preview": True,
            "brand": branded(request, store),
        }
        return _framed(render(request, "survey_message.html", context))
    return _preview_page(request, store, survey, following, known, {}, {})


# ---------------------------------------------------------------------------- brand
def _brand_page(
    request: Request,
    name: str,
    colour: str,
    errors: dict[str, str] | None = None,
    saved: bool = False,
    status: int = 200,
) -> Response:
    style, contrast = None, None
    if colour and not errors:
        style = survey_brand.style_of(survey_brand.Brand(name, survey_brand.normalise_colour(colour)))
        contrast = {
            "header": survey_brand.contrast_ratio(style.header_background, style.header_text),
            "link": survey_brand.contrast_ratio(style.link, survey_brand.WHITE),
        }
    context = {
        "name": name,
        "colour": colour,
        "errors": errors or {},
        "saved": saved,
        "style": style,
        "contrast": contrast,
        "section": "surveys",
    }
    return render(request, "survey_builder_brand.html", context, status)


@router.get("/surveys/brand")
def brand_page(request: Request, store: StoreDep, user: AdminUser, saved: int = 0) -> Response:
    current = survey_brand.brand(store)
    return _brand_page(request, current.name if current else "", current.colour if current else "", saved=bool(saved))


@router.post("/surveys/brand")
async def brand_save(request: Request, store: StoreDep, user: AdminUser) -> Response:
    fields = await _fields(request)
    name, colour = fields.get("name", "").strip(), fields.get("colour", "").strip()
    if fields.get("action") == "forget":
        survey_brand.forget_brand(store)
    else:
        errors: dict[str, str] = {}
        try:
            survey_brand.normalise_colour(colour)
        except InputError as exc:
            errors["colour"] = str(exc)
        try:
            if not errors:
                survey_brand.save_brand(store, name, colour, user.email)
        except InputError as exc:
            errors["name"] = str(exc)
        if errors:
            return _brand_page(request, name, colour, errors=errors, status=422)
    request.app.state.survey_brand = None  # the public pages show the change at once
    return RedirectResponse("/surveys/brand?saved=1", status_code=303)
