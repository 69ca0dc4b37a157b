"""Survey invitation pages: e-mail personal links to an audience, send the one reminder, see each invitation's
status, download the links as a spreadsheet, and the public unsubscribe page.

Sending runs `services.survey_invites`; each send form carries a batch id, so a form sent twice (a double click,
a reload) e-mails nobody twice. Without a mail server the page says mail is off and still offers the links.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from heedful.errors import ConfigError, InputError
from heedful.services import survey_invites as invites
from heedful.services import surveys as service
from heedful.web.deps import AnalystUser, StoreDep
from heedful.web.surveys import branded
from heedful.web.templating import csv_response, records, render

router = APIRouter(tags=["pages"], include_in_schema=False)


async def _fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {key: value for key, value in form.multi_items() if isinstance(value, str)}


def _page(
    request: Request,
    store: StoreDep,
    slug: str,
    *,
    audience: str = "all",
    outcome: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    row, survey = service.latest_survey(store, slug)
    rows, counts = invites.invitation_status(store, slug)
    context = {
        "survey": survey,
        "row": row,
        "mail_on": invites.mail_on(store),
        "mail_off": invites.MAIL_OFF,
        "audiences": invites.audiences(store),
        "audience": audience,
        "batch_id": invites.new_batch_id(),
        "invitations": records(rows),
        "counts": counts,
        "labels": invites.STATUS_LABELS,
        "outcome": outcome,
        "error": error,
        "section": "surveys",
    }
    return render(request, "survey_invites.html", context, status)


@router.get("/surveys/{slug}/invitations")
def invitations_page(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    return _page(request, store, slug)


@router.post("/surveys/{slug}/invitations/send")
async def invitations_send(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    fields = await _fields(request)
    audience = fields.get("audience", "all")
    batch_id = fields.get("batch_id", "")[:64] or invites.new_batch_id()
    try:
        # in a worker thread: talking to the mail server must not hold up other requests
        result = await asyncio.to_thread(
            invites.send_invitations, store, slug, audience, str(request.base_url), batch_id=batch_id, actor=user.email
        )
    except (ConfigError, InputError) as exc:
        return _page(request, store, slug, audience=audience, error=str(exc), status=422)
    return _page(request, store, slug, audience=audience, outcome={"kind": "invitations", **result.to_dict()})


@router.post("/surveys/{slug}/invitations/remind")
def invitations_remind(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    try:
        result = invites.send_reminders(store, slug, datetime.now(UTC).replace(tzinfo=None))
    except (ConfigError, InputError) as exc:
        return _page(request, store, slug, error=str(exc), status=422)
    return _page(request, store, slug, outcome={"kind": "reminders", **result.to_dict()})


@router.post("/surveys/{slug}/invitations/links.csv")
async def invitations_links(request: Request, slug: str, store: StoreDep, user: AnalystUser) -> Response:
    fields = await _fields(request)
    audience = fields.get("audience", "all")
    try:
        frame = invites.links(store, slug, audience, str(request.base_url))
    except InputError as exc:
        return _page(request, store, slug, audience=audience, error=str(exc), status=422)
    return csv_response(frame, f"{slug}-links.csv")


# ---------------------------------------------------------------------------- public: unsubscribe
@router.get("/s/{slug}/unsubscribe")
def unsubscribe_page(request: Request, slug: str, store: StoreDep, t: str = "") -> Response:
    """Ask before recording it: mail scanners open links, and must not unsubscribe anyone."""
    valid = invites.is_valid_link(store, slug, t)
    context = {"slug": slug, "token": t, "valid": valid, "done": False, "brand": branded(request, store)}
    return render(request, "survey_unsubscribed.html", context, 200 if valid else 404)


@router.post("/s/{slug}/unsubscribe")
async def unsubscribe(request: Request, slug: str, store: StoreDep) -> Response:
    fields = await _fields(request)
    done = invites.unsubscribe(store, slug, fields.get("t", ""))
    context = {"slug": slug, "token": "", "valid": done, "done": done, "brand": branded(request, store)}
    return render(request, "survey_unsubscribed.html", context, 200 if done else 404)
