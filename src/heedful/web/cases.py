"""Cases: every unhappy customer becomes a case with an owner, a due date and a reply (issue 18).

The inbox (`/cases`: filter, sort, bulk-assign; figures per department), one page per case (evidence,
history, notes, status changes, a reply) and the REST API under `/api/v1/cases`. Every route calls one
use case of `heedful.services.cases`; viewers read, analysts and admins work cases.
"""

from __future__ import annotations

import contextlib
import math
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

import pandas as pd
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from heedful.cases.flow import CLOSED_STATUSES, TRANSITIONS
from heedful.errors import InputError, NotFoundError
from heedful.jsonable import to_jsonable
from heedful.services import cases as service
from heedful.services.accounts import Role, UserPublic
from heedful.store import Store
from heedful.web.deps import AnalystUser, StoreDep, ViewerUser
from heedful.web.templating import records, render

router = APIRouter()
PAGE: dict[str, Any] = {"include_in_schema": False}
PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
API_DOC: dict[str, Any] = {
    "tags": ["cases"],
    "responses": {
        400: {"description": "Invalid input (the detail says what to fix)", **PROBLEM},
        401: {"description": "Not signed in", **PROBLEM},
        403: {"description": "Role not allowed", **PROBLEM},
        404: {"description": "No such case", **PROBLEM},
    },
}
API = "/api/v1/cases"
PAGE_SIZE = 50

STATUSES: dict[str, str] = {
    "new": "New",
    "in_progress": "In progress",
    "waiting_for_customer": "Waiting for customer",
    "resolved": "Resolved",
    "wont_fix": "Won't fix",
}
SORTS: dict[str, str] = {"due": "Due date (overdue first)", "value": "Customer value"}
TRIGGERS: dict[str, str] = {
    "survey": "Unhappy survey answer",
    "feedback": "Negative feedback",
    "alert": "Journey alert",
    "churn": "Valuable customer at risk",
}
MAIL_OFF = "Mail is off: no SMTP settings — the reply is logged on the case."
STATUS_PATTERN = "^(open|closed|all|" + "|".join(STATUSES) + ")$"


# ---------------------------------------------------------------- words, not ids
def status_label(status: Any) -> str:
    return STATUSES.get(str(status), str(status).replace("_", " ").capitalize()) if status else "–"


def trigger_label(trigger: Any) -> str:
    return TRIGGERS.get(str(trigger), str(trigger).replace("_", " ").capitalize()) if trigger else "–"


def _present(value: Any) -> bool:
    """A value worth showing: not None, NaN, NaT or empty."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return False
    return not (isinstance(value, str | list | dict) and not value)


def _words(value: Any) -> str:
    """A history detail or evidence value as plain words (no Python reprs, no None)."""
    if isinstance(value, dict):
        return "; ".join(f"{str(k).replace('_', ' ')}: {_words(v)}" for k, v in value.items() if _present(v))
    if isinstance(value, list | tuple):
        return ", ".join(_words(v) for v in value if _present(v))
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value) if _present(value) else ""


def history_entry(event: dict[str, Any]) -> dict[str, Any]:
    """One history event as who, when and what, in words."""
    raw = event.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    action = str(event.get("action") or "")
    text = ""
    if action == "opened":
        parts = [trigger_label(detail.get("trigger"))] if detail.get("trigger") else []
        if _present(detail.get("priority")):
            parts.append(f"{str(detail['priority']).lower()} priority")
        if _present(detail.get("due_at")):
            with contextlib.suppress(ValueError, TypeError):
                parts.append(f"due {pd.Timestamp(detail['due_at']).strftime('%Y-%m-%d %H:%M')}")
        what, text = "opened the case", ", ".join(parts)
    elif action == "assigned":
        who = detail.get("assignee")
        what = f"assigned it to {who}" if _present(who) else "took it off everyone's list"
    elif action == "status":
        what = f"moved it from {status_label(detail.get('from'))} to {status_label(detail.get('to'))}"
        text = _words(detail.get("note"))
    elif action == "note":
        what, text = "added a note", _words(detail.get("text"))
    elif action == "reply":
        to = detail.get("to")
        what = f"replied by e-mail to {to}" if detail.get("sent") else "replied (logged on the case, not e-mailed)"
        text = _words(detail.get("text"))
    else:
        what, text = action.replace("_", " ") or "changed it", _words(detail)
    return {"at": event.get("at"), "actor": event.get("actor") or "heedful", "what": what, "text": text}


def next_statuses(status: str) -> list[str]:
    """The statuses a case in `status` may move to (a closed case reopens to in progress only)."""
    return list(TRANSITIONS.get(status, ()))


def _evidence(case: dict[str, Any]) -> dict[str, Any]:
    """What raised the case, in words: the quote, the score, the alert (ids and codes left out)."""
    raw = case.get("evidence")
    evidence: dict[str, Any] = raw if isinstance(raw, dict) else {}
    quote_text = next(
        (str(v) for v in (evidence.get("quote"), case.get("evidence_text")) if isinstance(v, str) and v.strip()),
        None,
    )
    if quote_text and quote_text in (evidence.get("score"), evidence.get("alert_title")):
        quote_text = None  # the list's one line was the score or the alert: shown below as such
    facts: list[tuple[str, str]] = []

    def add(label: str, value: Any) -> None:
        text = _words(value)
        if text:
            facts.append((label, text))

    add("Alert", evidence.get("alert_title"))
    if _present(evidence.get("alert_kind")):
        add("Kind of alert", str(evidence["alert_kind"]).replace("_", " ").capitalize())
    add("Detail", evidence.get("detail"))
    add("Score", evidence.get("score"))
    answers = evidence.get("answers")
    if isinstance(answers, list) and len(answers) > 1:
        add(
            "Answers",
            ", ".join(
                f"{str(a.get('kind', '')).upper()} {_words(a.get('score'))}".strip()
                for a in answers
                if isinstance(a, dict)
            ),
        )
    if _present(evidence.get("sentiment")):
        add("Sentiment", str(evidence["sentiment"]).capitalize())
    risk = evidence.get("churn_risk")
    if isinstance(risk, int | float) and _present(risk) and not _present(evidence.get("score")):
        add("Churn risk", f"{float(evidence['churn_risk']):.0%}")
    add("Period", evidence.get("period") or evidence.get("month"))
    if _present(evidence.get("at")):
        with contextlib.suppress(ValueError, TypeError):
            add("When", pd.Timestamp(evidence["at"]).strftime("%Y-%m-%d %H:%M"))
    return {"quote": quote_text, "facts": facts}


def _row(case: dict[str, Any]) -> dict[str, Any]:
    excerpt = case.get("evidence_text") or ""
    excerpt = str(excerpt) if _present(excerpt) else ""
    customer = case.get("customer_id")
    name = case.get("customer_name")
    return {
        **case,
        "who": str(name) if _present(name) else f"Customer {customer}" if _present(customer) else "No known customer",
        "status_label": status_label(case.get("status")),
        "trigger_label": trigger_label(case.get("trigger")),
        "excerpt": excerpt if len(excerpt) <= 140 else excerpt[:139].rstrip() + "…",
        "overdue": bool(case.get("overdue")) and case.get("status") not in CLOSED_STATUSES,
        "priority_label": str(case.get("priority")).capitalize() if _present(case.get("priority")) else "–",
    }


# ---------------------------------------------------------------- flash messages
def _flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def _take_flash(request: Request) -> dict[str, str] | None:
    flash = request.session.pop("flash", None)
    return flash if isinstance(flash, dict) else None


def _filters(status: str | None) -> str | None:
    """The page's status choice as the service's: open cases (None), every case ("all") or one status."""
    return None if status in (None, "", "open") else status


def _assignee(value: str | None, user: UserPublic) -> str | None:
    if not value:
        return None
    return user.email if value == "me" else value.strip()


INBOX_KEYS = ("department", "assignee", "status", "overdue", "sort", "page")


def _inbox_url(query: str = "") -> str:
    """/cases with the inbox's own filters kept from `query` (nothing else: no open redirect)."""
    kept = [(k, v) for k, v in parse_qsl(query.lstrip("?")) if k in INBOX_KEYS and v]
    return "/cases" + (f"?{urlencode(kept)}" if kept else "")


# ---------------------------------------------------------------- pages
@router.get("/cases", **PAGE)
def inbox(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    department: str = "",
    assignee: str = "",
    status: Annotated[str, Query(pattern=STATUS_PATTERN)] = "open",
    overdue: bool = False,
    sort: Annotated[str, Query(pattern="^(due|value)$")] = "due",
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    """The inbox: open cases, overdue first, filterable; figures per department; did following up work."""
    from heedful.services.journey import load_config

    filters: dict[str, Any] = {
        "department": department or None,
        "assignee": _assignee(assignee, user),
        "status": _filters(status),
        "overdue_only": overdue,
    }
    total = service.count_cases(store, **filters)
    pages = max(1, -(-total // PAGE_SIZE))
    frame = service.list_cases(store, **filters, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    figures = service.case_figures(store)
    totals = {
        key: int(pd.to_numeric(figures[key], errors="coerce").fillna(0).sum()) if key in figures else 0
        for key in ("open", "overdue", "resolved_this_month")
    }

    def link(**change: Any) -> str:
        params = {
            "department": department,
            "assignee": assignee,
            "status": status if status != "open" else "",
            "overdue": "1" if overdue else "",
            "sort": sort if sort != "due" else "",
            "page": page,
            **change,
        }
        kept = {k: v for k, v in params.items() if v not in ("", None) and not (k == "page" and v == 1)}
        return "/cases" + (f"?{urlencode(kept)}" if kept else "")

    return render(
        request,
        "cases.html",
        {
            "section": "cases",
            "cases": [_row(r) for r in records(frame)],
            "total": total,
            "page": page,
            "pages": pages,
            "link": link,
            "departments": [(d.id, d.name) for d in load_config(store).departments],
            "department": department,
            "assignee": assignee,
            "status": status,
            "statuses": STATUSES,
            "overdue": overdue,
            "sort": sort,
            "sorts": SORTS,
            "totals": totals,
            "figures": records(figures),
            "did_it_work": service.closed_loop_figures(store),
            "can_work": user.role.allows(Role.analyst),
            "query": request.url.query,
            "flash": _take_flash(request),
        },
    )


@router.post("/cases/assign", **PAGE)
def assign_cases(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    case_id: Annotated[list[str] | None, Form()] = None,
    assignee: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Bulk "Assign to": the ticked cases go to one person (an e-mail address)."""
    chosen = [c for c in case_id or [] if c]
    email = assignee.strip()
    if not chosen:
        _flash(request, "Tick at least one case to assign.", "error")
    elif not email:
        _flash(request, "Give the e-mail address of the person to assign the cases to.", "error")
    else:
        try:
            changed = service.assign(store, chosen, email, user.email)
        except InputError as exc:
            _flash(request, str(exc), "error")
        else:
            _flash(request, f"Assigned {changed} case{'' if changed == 1 else 's'} to {email}.")
    return RedirectResponse(_inbox_url(back), status_code=303)


@router.get("/cases/{case_id}", **PAGE)
def case_page(request: Request, store: StoreDep, user: ViewerUser, case_id: str) -> Response:
    """One case: the customer, what raised it, where it stands, its history; notes, status, reply."""
    case = _case(store, case_id)
    history = [history_entry(h) for h in case.get("history") or []]
    return render(
        request,
        "case.html",
        {
            "section": "cases",
            "case": _row(case),
            "evidence": _evidence(case),
            "history": history,
            "next_statuses": [(s, status_label(s)) for s in next_statuses(str(case.get("status")))],
            "can_work": user.role.allows(Role.analyst) and not case.get("holdout"),
            "flash": _take_flash(request),
        },
    )


def _missing(case_id: str) -> NotFoundError:
    return NotFoundError(f"There is no case {case_id}; it may have been mistyped or removed.")


def _case(store: Store, case_id: str) -> dict[str, Any]:
    """The case, or a 404 that says so in words."""
    try:
        return service.get_case(store, case_id)
    except NotFoundError:
        raise _missing(case_id) from None


def _case_url(case_id: str) -> str:
    return f"/cases/{quote(case_id, safe='')}"


@router.post("/cases/{case_id}/notes", **PAGE)
def note_form(
    request: Request, store: StoreDep, user: AnalystUser, case_id: str, text: Annotated[str, Form()] = ""
) -> Response:
    if not text.strip():
        _flash(request, "Write the note before adding it.", "error")
    else:
        try:
            service.add_note(store, case_id, text.strip(), user.email)
        except NotFoundError:
            raise _missing(case_id) from None
        except InputError as exc:
            _flash(request, str(exc), "error")
        else:
            _flash(request, "Note added.")
    return RedirectResponse(_case_url(case_id), status_code=303)


@router.post("/cases/{case_id}/status", **PAGE)
def status_form(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    case_id: str,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    current = str(_case(store, case_id)["status"])
    allowed = next_statuses(current)
    if status not in allowed:
        options = [status_label(s) for s in allowed]
        choices = ", ".join(options[:-1]) + (" or " if len(options) > 1 else "") + options[-1] if options else ""
        _flash(
            request,
            f"A case that is {status_label(current)} cannot become {status_label(status) if status else 'that'}"
            + (f"; it can become {choices}." if choices else "."),
            "error",
        )
        return RedirectResponse(_case_url(case_id), status_code=303)
    try:
        service.set_status(store, case_id, status, user.email, note=note.strip() or None)
    except NotFoundError:
        raise _missing(case_id) from None
    except InputError as exc:
        _flash(request, str(exc), "error")
    else:
        _flash(request, f"Status set to {status_label(status)}.")
    return RedirectResponse(_case_url(case_id), status_code=303)


def _reply_words(result: dict[str, Any]) -> tuple[str, str]:
    if result.get("sent"):
        return "Reply sent to the customer, and logged on the case.", "ok"
    reason = str(result.get("reason") or "")
    if "SMTP" in reason or "Mail is off" in reason:
        return MAIL_OFF, "notice"
    return f"The reply was not sent ({reason.rstrip('.') or 'no reason given'}); it is logged on the case.", "notice"


@router.post("/cases/{case_id}/reply", **PAGE)
def reply_form(
    request: Request, store: StoreDep, user: AnalystUser, case_id: str, text: Annotated[str, Form()] = ""
) -> Response:
    current = str(_case(store, case_id)["status"])
    if not text.strip():
        _flash(request, "Write the reply before sending it.", "error")
    elif current in CLOSED_STATUSES:
        _flash(request, f"This case is {status_label(current)}: reopen it (In progress) before replying.", "error")
    else:
        try:
            result = service.reply(store, case_id, text.strip(), user.email)
        except NotFoundError:
            raise _missing(case_id) from None
        except InputError as exc:
            _flash(request, str(exc), "error")
        else:
            _flash(request, *_reply_words(result))
    return RedirectResponse(_case_url(case_id), status_code=303)


# ---------------------------------------------------------------- API
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


class ReplyResult(BaseModel):
    sent: bool
    reason: str | None = Field(None, description="Why it was not e-mailed (it is logged on the case anyway).")
    to: str | None = Field(None, description="The address it was e-mailed to.")


def _detail(store: Store, case_id: str) -> dict[str, Any]:
    detail: dict[str, Any] = to_jsonable(_case(store, case_id))
    return detail


@router.get(API, **API_DOC, summary="Cases, filterable; open ones, overdue first, by default", response_model=CasePage)
def api_list(
    store: StoreDep,
    user: ViewerUser,
    department: Annotated[str | None, Query(description="Department id.")] = None,
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
        "department": department or None,
        "assignee": _assignee(assignee, user),
        "status": _filters(status),
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
    summary="Assign a case, change its status and/or add a note (analyst)",
    response_model=CaseDetail,
)
def api_patch(store: StoreDep, user: AnalystUser, case_id: str, change: CaseChange) -> Response:
    if change.status is None and change.assignee is None and not (change.note and change.note.strip()):
        raise InputError("Give at least one of status, assignee or note.")
    _case(store, case_id)  # a missing case answers 404 before anything changes
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


@router.post(API + "/{case_id}/notes", **API_DOC, status_code=201, summary="Add a note to a case (analyst)")
def api_note(store: StoreDep, user: AnalystUser, case_id: str, body: CaseText) -> Response:
    if not body.text.strip():
        raise InputError("The note is empty.")
    return JSONResponse(to_jsonable(service.add_note(store, case_id, body.text.strip(), user.email)), status_code=201)


@router.post(
    API + "/{case_id}/reply",
    **API_DOC,
    summary="Reply to the customer (analyst); logged on the case, e-mailed when SMTP is set",
    response_model=ReplyResult,
)
def api_reply(store: StoreDep, user: AnalystUser, case_id: str, body: CaseText) -> Response:
    if not body.text.strip():
        raise InputError("The reply is empty.")
    result = service.reply(store, case_id, body.text.strip(), user.email)
    return JSONResponse(to_jsonable({key: result.get(key) for key in ReplyResult.model_fields}))
