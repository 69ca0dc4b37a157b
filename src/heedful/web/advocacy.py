"""Advocacy pages: referral landing /r/<code>, story form with consent, staff approval, the Advocacy page, API."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from heedful.advocacy.rules import ProgrammeRules
from heedful.advocacy.stories import SCOPE_LABELS, SCOPES, publishable, stories_html
from heedful.config import load_settings
from heedful.errors import ConfigError, InputError
from heedful.services import accounts
from heedful.services import advocacy as service
from heedful.services.advocacy import ADVOCATE_FIELDS, ranked_advocates, referral_report
from heedful.store import Store
from heedful.store import advocacy_repo as repo
from heedful.web.cache import AggregateCache
from heedful.web.deps import AnalystUser, StoreDep, ViewerUser, client_ip
from heedful.web.survey_responses import signing_key
from heedful.web.templating import records, render

REFERRAL_COOKIE = "hf_ref"
COOKIE_DAYS = 90

router = APIRouter()
API = "/api/v1/advocacy"
PAGE: dict[str, Any] = {"include_in_schema": False}  # pages stay out of the OpenAPI document
API_DOC: dict[str, Any] = {"tags": ["advocacy"]}


def programme_rules() -> ProgrammeRules:
    """The programme rules from the `[advocacy]` table of heedful.toml, else the defaults."""
    extra = load_settings().extra.get("advocacy")
    if extra is None:
        return ProgrammeRules()
    if not isinstance(extra, dict):
        raise ConfigError("[advocacy] in heedful.toml must be a table of programme rules.")
    return ProgrammeRules.model_validate(extra)


# ---------------------------------------------------------------- public: referral landing
@router.get("/r/{code}", **PAGE)
def referral_landing(request: Request, store: StoreDep, code: str) -> Response:
    """A friend followed an advocate's link: record the landing once per visitor and remember it in a cookie."""
    referral_id = _landing(request, store, code)
    response = render(request, "advocacy_landing.html", {"code": repo.normalise_code(code), "section": "public"})
    _set_referral_cookie(response, referral_id)
    return response


@router.post("/r/{code}", **PAGE)
def referral_email(
    request: Request, store: StoreDep, code: str, email: Annotated[str, Form(max_length=320)]
) -> Response:
    """The friend left their e-mail, so the referral follows them when they sign up or order."""
    referral_id = _landing(request, store, code)
    service.set_landing_email(store, referral_id, email)
    response = render(
        request, "advocacy_landing.html", {"code": repo.normalise_code(code), "thanks": True, "section": "public"}
    )
    _set_referral_cookie(response, referral_id)
    return response


def _landing(request: Request, store: Store, code: str) -> str:
    """Record the landing once per visitor per day: the visitor is the cookie, else their address and browser."""
    return service.record_landing(
        store,
        code,
        signing_key(request.app, "referral-visitor"),
        cookie=request.cookies.get(REFERRAL_COOKIE),
        client_ip=client_ip(request),
        user_agent=request.headers.get("user-agent", "")[:500],
    )


def _set_referral_cookie(response: Response, referral_id: str) -> None:
    response.set_cookie(
        REFERRAL_COOKIE, referral_id, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="lax", path="/"
    )


# ---------------------------------------------------------------- public: story submission
@router.get("/stories/new", **PAGE)
def story_form(request: Request, code: Annotated[str | None, Query(max_length=40)] = None) -> Response:
    """The story form: every consent box starts unticked; the hidden key makes a double submit store one story."""
    return render(
        request,
        "advocacy_story_form.html",
        {"code": code or "", "key": uuid.uuid4().hex, "scopes": SCOPE_LABELS, "section": "public"},
    )


@router.post("/stories", **PAGE)
def story_submit(
    request: Request,
    store: StoreDep,
    idempotency_key: Annotated[str, Form(min_length=8, max_length=64)],
    title: Annotated[str, Form(max_length=200)],
    body: Annotated[str, Form(max_length=10_000)],
    author_name: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=40)] = "",
    consent: Annotated[list[str] | None, Form()] = None,
) -> Response:
    scopes = [c for c in (consent or []) if c]
    context: dict[str, Any] = {"scopes": SCOPE_LABELS, "section": "public", "code": code, "key": idempotency_key}
    if not scopes:
        context |= {"error": "Tick at least one place where we may publish your story.", "title": title, "body": body}
        return render(request, "advocacy_story_form.html", context, 422)
    advocate = repo.advocate_by_code(store, code) if code else None
    service.submit_story(
        store,
        idempotency_key=idempotency_key,
        title=title,
        body=body,
        consent=scopes,
        advocate_id=advocate["advocate_id"] if advocate else None,
        author_name=author_name.strip() or None,
    )
    return render(request, "advocacy_story_form.html", context | {"submitted": True})


# ---------------------------------------------------------------- staff: the Advocacy page
def _top_advocates(store: Store) -> Any:
    ranked = ranked_advocates(store)
    return ranked[ranked["eligible"]].head(20)[ADVOCATE_FIELDS]


@router.get("/advocacy", **PAGE)
def advocacy_page(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    cache: AggregateCache = request.app.state.aggregates
    # ranking reads every customer: cached until the data changes; everything else is read live
    top = cache.get(store, "advocacy.advocates", _top_advocates).copy()
    enrolled = repo.advocates(store)
    consent = dict(zip(enrolled["advocate_id"], enrolled["status"], strict=True))
    top["consent_status"] = [consent.get(c, "not_invited") for c in top["customer_id"]]
    stories = repo.stories(store)
    matches = repo.peer_matches(store)
    effect = service.current_effect(store)
    return render(
        request,
        "advocacy.html",
        {
            "summary": referral_report(store, programme_rules()),
            "advocates": records(top),
            "enrolled": len(enrolled),
            "pending": records(stories[stories["status"] == "submitted"]) if not stories.empty else [],
            "approved": records(publishable(stories)),
            "matches": [_match_view(m) for m in records(matches.tail(50).iloc[::-1])] if not matches.empty else [],
            "effect": effect,
            "scopes": SCOPES,
        },
    )


def _match_view(match: dict[str, Any]) -> dict[str, Any]:
    from heedful.services.advocacy import MATCH_STATUSES, PEER_NEEDS

    match["need_text"] = PEER_NEEDS.get(str(match.get("reason")), match.get("reason") or "")
    match["status_text"] = MATCH_STATUSES.get(str(match.get("status")), match.get("status"))
    reasons = match.get("reasons")
    try:
        match["reasons"] = json.loads(reasons) if isinstance(reasons, str) else []
    except ValueError:
        match["reasons"] = []
    return match


@router.post("/advocacy/stories/{story_id}/review", **PAGE)
def review_story(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    story_id: str,
    decision: Annotated[str, Form(pattern="^(approve|reject)$")],
) -> Response:
    repo.review_story(store, story_id, approve=decision == "approve", reviewer=user.email)
    accounts.record_audit(store, f"advocacy.story.{decision}", user=user, target=story_id, ip=client_ip(request))
    return RedirectResponse("/advocacy#stories", status_code=303)


@router.post("/advocacy/matches/{match_id}/introduce", **PAGE)
def introduce(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    match_id: str,
    status: Annotated[str, Form(pattern="^(introduced|declined|completed)$")] = "introduced",
) -> Response:
    repo.record_introduction(store, match_id, status=status)
    accounts.record_audit(
        store, "advocacy.introduction", user=user, target=match_id, detail={"status": status}, ip=client_ip(request)
    )
    return RedirectResponse("/advocacy#matches", status_code=303)


@router.post("/advocacy/attribute", **PAGE)
def attribute(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    """Attribute referred customers, record conversions and earn rewards (idempotent)."""
    result = service.process_referrals(store, programme_rules())
    accounts.record_audit(store, "advocacy.attribute", user=user, detail=result, ip=client_ip(request))
    return RedirectResponse("/advocacy", status_code=303)


@router.get("/advocacy/stories/export.{fmt}", **PAGE)
def export_stories(
    store: StoreDep,
    user: ViewerUser,
    fmt: str,
    scope: Annotated[str | None, Query(pattern="^(website|social|sales)$")] = None,
) -> Response:
    chosen = publishable(repo.stories(store), scope)
    if fmt == "html":
        return HTMLResponse(stories_html(chosen))
    if fmt == "json":
        fields = ["story_id", "title", "body", "author_name", "consent_website", "consent_social", "consent_sales"]
        return JSONResponse({"stories": records(chosen.reindex(columns=fields))})
    raise InputError("Export as .json or .html.")


@router.get("/advocacy/customer/{customer_id}", **PAGE)
def customer_panel(request: Request, store: StoreDep, user: ViewerUser, customer_id: str) -> Response:
    """Advocacy panel for the customer profile (an HTMX fragment): advocate status, referrals, rewards, matches."""
    profile = service.advocacy_profile(store, customer_id)
    profile["matches"] = [_match_view(m) for m in records(profile["matches"])]
    profile["stories"] = records(profile["stories"])
    return render(request, "advocacy_customer.html", {"customer_id": customer_id, "profile": profile})


# ---------------------------------------------------------------- API
class AttributionIn(BaseModel):
    code: str = Field(max_length=40, description="the advocate's referral code")
    customer_id: str = Field(max_length=200, description="the referred customer")


@router.post(API + "/referrals", **API_DOC, summary="Attribute a customer to a referral code (idempotent)")
def api_attribute(body: AttributionIn, store: StoreDep, user: AnalystUser) -> dict[str, str]:
    return {"referral_id": repo.attribute_referral(store, body.code, body.customer_id)}


@router.post(
    API + "/referrals/{referral_id}/reward",
    **API_DOC,
    summary="Reward the friend's first qualifying order (exactly once)",
)
def api_reward(referral_id: str, store: StoreDep, user: AnalystUser) -> dict[str, Any]:
    """Safe to retry: a repeated or concurrent call answers `duplicate` and pays nothing more."""
    return service.reward_referral(store, referral_id, programme_rules())


@router.get(
    API + "/summary",
    **API_DOC,
    summary="Referrals, conversion, rewards owed and paid, referred revenue, CLV comparison",
)
def api_summary(store: StoreDep, user: ViewerUser) -> dict[str, Any]:
    from heedful.jsonable import to_jsonable

    result: dict[str, Any] = to_jsonable(referral_report(store, programme_rules()))
    return result


@router.get(API + "/ledger", **API_DOC, summary="The rewards ledger, oldest first")
def api_ledger(store: StoreDep, user: ViewerUser) -> list[dict[str, Any]]:
    frame = repo.ledger(store)
    return records(frame.assign(created_at=frame["created_at"].astype(str))) if not frame.empty else []


__all__ = ["programme_rules", "router"]
