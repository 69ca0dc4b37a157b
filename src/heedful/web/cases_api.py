"""The cases REST API under `/api/v1/cases`: list, one case, assign / status / note, reply.

Viewers read; analysts and admins work any case; a viewer who belongs to a case's department works that
case (takes it, notes, replies, moves it) but not other departments' cases. Every route calls one use case
of `heedful.services.cases`; the pages are in `heedful.web.cases`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from heedful.errors import InputError, NotFoundError
from heedful.jsonable import to_jsonable
from heedful.services import cases as service
from heedful.services.accounts import UserPublic
from heedful.store import Store
from heedful.web.deps import CaseWorker, StoreDep, ViewerUser, require_assignable
from heedful.web.templating import records

router = APIRouter()
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
API_DOC: dict[str, Any] = {
    "tags": ["cases"],
    "responses": {
        400: {"description": "Invalid input (the detail says what to fix)", **PROBLEM},
        401: {"description": "Not signed in", **PROBLEM},
        403: {"description": "Role not allowed, or a case of another department", **PROBLEM},
        404: {"description": "No such case", **PROBLEM},
    },
}
API = "/api/v1/cases"
STATUSES = ("new", "in_progress", "waiting_for_customer", "resolved", "wont_fix")
STATUS_PATTERN = "^(open|closed|all|" + "|".join(STATUSES) + ")$"


def _filter_status(status: str | None) -> str | None:
    """The status asked for as the service's: open cases (None), every case ("all") or one status."""
    return None if status in (None, "", "open") else status


def list_filters(department: str | None, assignee: str | None, user: UserPublic) -> dict[str, Any]:
    """`me` and `mine` resolved: the user's own cases, the cases of the user's department."""
    if department == "mine":
        if not user.department:
            raise InputError("You belong to no department; an admin can set yours under Settings → Users.")
        department = user.department
    who = (user.email if assignee == "me" else assignee.strip()) if assignee else None
    return {"department": department or None, "assignee": who}


def _missing(case_id: str) -> NotFoundError:
    return NotFoundError(f"There is no case {case_id}; it may have been mistyped or removed.")


class CasePublic(BaseModel):
    case_id: str
    customer_id: str | None = None
    customer_name: str | None = None
    trigger: str | None = None
    trigger_id: str | None = None
    theme: str | None = None
    theme_label: str | None = None
    department: str | None = None
    department_name: str | None = None
    priority: str | int | None = None
    status: str
    assignee: str | None = None
    opened_at: str | None = Field(None, description="ISO 8601, UTC")
    due_at: str | None = Field(None, description="ISO 8601, UTC")
    overdue: bool = False
    clv: float | None = None
    evidence_text: str | None = None


class CasePage(BaseModel):
    items: list[CasePublic]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class HistoryEntry(BaseModel):
    at: str | None = None
    actor: str | None = None
    action: str | None = None
    detail: Any = None


class CaseDetail(CasePublic):
    evidence: dict[str, Any] = {}
    history: list[HistoryEntry] = []


class CaseChange(BaseModel):
    status: str | None = Field(None, description=" | ".join(STATUSES))
    assignee: str | None = Field(None, description="E-mail address of the person who works the case.")
    note: str | None = Field(None, description="A note for the history (with a status change: why).")


class CaseText(BaseModel):
    text: str = Field(min_length=1, description="The note, or the reply to the customer.")


class ReplyText(CaseText):
    follow_up: bool = Field(
        False, description="End the reply with a personal link to the one-question follow-up survey."
    )


class ReplyResult(BaseModel):
    sent: bool
    reason: str | None = Field(None, description="Why it was not e-mailed (it is logged on the case anyway).")
    to: str | None = Field(None, description="The address it was e-mailed to.")


def _detail(store: Store, case_id: str) -> dict[str, Any]:
    try:
        case = service.get_case(store, case_id)
    except NotFoundError:
        raise _missing(case_id) from None
    detail: dict[str, Any] = to_jsonable(case)
    return detail


@router.get(API, **API_DOC, summary="Cases, filterable; open ones, overdue first, by default", response_model=CasePage)
def api_list(
    store: StoreDep,
    user: ViewerUser,
    department: Annotated[str | None, Query(description="Department id; `mine` for your department.")] = None,
    assignee: Annotated[str | None, Query(description="E-mail address; `me` for yourself.")] = None,
    status: Annotated[
        str | None, Query(pattern=STATUS_PATTERN, description="open (default) | all | " + " | ".join(STATUSES))
    ] = None,
    overdue_only: bool = False,
    sort: Annotated[str, Query(pattern="^(due|value|opened)$")] = "due",
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page (1-1000).")] = 100,
    offset: Annotated[int, Query(ge=0, le=2**53, description="Items to skip.")] = 0,
) -> Response:
    filters: dict[str, Any] = {
        **list_filters(department, assignee, user),
        "status": _filter_status(status),
        "overdue_only": overdue_only,
    }
    total = service.count_cases(store, **filters)
    frame = service.list_cases(store, **filters, sort=sort, limit=limit, offset=offset)
    body = {
        "items": [to_jsonable(r) for r in records(frame)],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if offset + limit < total else None,
    }
    return JSONResponse(body)


@router.get(API + "/{case_id}", **API_DOC, summary="One case with its evidence and history", response_model=CaseDetail)
def api_get(store: StoreDep, user: ViewerUser, case_id: str) -> Response:
    return JSONResponse(_detail(store, case_id))


@router.patch(
    API + "/{case_id}",
    **API_DOC,
    summary="Assign a case, change its status and/or add a note (analyst, or a member of its department)",
    response_model=CaseDetail,
)
def api_patch(store: StoreDep, user: CaseWorker, case_id: str, change: CaseChange) -> Response:
    if change.status is None and change.assignee is None and not (change.note and change.note.strip()):
        raise InputError("Give at least one of status, assignee or note.")
    _detail(store, case_id)  # a missing case answers 404 before anything changes
    require_assignable(user, change.assignee)
    note = change.note.strip() if change.note and change.note.strip() else None
    if change.assignee is not None:
        if not change.assignee.strip():
            raise InputError("assignee must be an e-mail address.")
        service.assign(store, [case_id], change.assignee.strip(), user.email)
    if change.status is not None:
        service.set_status(store, case_id, change.status, user.email, note=note)
    elif note is not None:
        service.add_note(store, case_id, note, user.email)
    return JSONResponse(_detail(store, case_id))


@router.post(
    API + "/{case_id}/notes",
    **API_DOC,
    status_code=201,
    summary="Add a note to a case (analyst, or a member of its department)",
)
def api_note(store: StoreDep, user: CaseWorker, case_id: str, body: CaseText) -> Response:
    if not body.text.strip():
        raise InputError("The note is empty.")
    return JSONResponse(to_jsonable(service.add_note(store, case_id, body.text.strip(), user.email)), status_code=201)


@router.post(
    API + "/{case_id}/reply",
    **API_DOC,
    summary="Reply to the customer (analyst, or a member of its department); logged on the case, e-mailed when "
    "SMTP is set",
    response_model=ReplyResult,
)
def api_reply(request: Request, store: StoreDep, user: CaseWorker, case_id: str, body: ReplyText) -> Response:
    if not body.text.strip():
        raise InputError("The reply is empty.")
    base = str(request.base_url) if body.follow_up else None
    result = service.reply(store, case_id, body.text.strip(), user.email, follow_up_base_url=base)
    return JSONResponse(to_jsonable({key: result.get(key) for key in ReplyResult.model_fields}))
