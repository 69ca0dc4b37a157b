"""Cases: every unhappy customer becomes a case with an owner, a due date and a reply (issue 18).

The inbox (`/cases`: filter, sort, bulk-assign, open cases now; figures per department) and one page per case
(evidence, history, notes, status changes, a reply); the REST API is `heedful.web.cases_api`. Every route calls
one use case of `heedful.services.cases`; viewers read, analysts and admins work cases, and a viewer who belongs
to a case's department works that case (`deps.CaseWorker`).
"""

from __future__ import annotations

import contextlib
import math
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

import pandas as pd
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from heedful.cases.flow import CLOSED_STATUSES, TRANSITIONS
from heedful.errors import InputError, NotFoundError
from heedful.services import cases as service
from heedful.services.accounts import Role, may_work_case
from heedful.services.case_inbox import inbox_figures
from heedful.store import Store
from heedful.web.cases_api import list_filters
from heedful.web.deps import AnalystUser, CaseWorker, StoreDep, ViewerUser
from heedful.web.templating import records, render

router = APIRouter()
PAGE: dict[str, Any] = {"include_in_schema": False}
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
ANSWER_WORDS = {
    "nps": "You told us you would recommend us {score} out of 10.",
    "csat": "You rated your satisfaction {score} out of 5.",
    "ces": "You rated how easy we made it {score} out of 7.",
}
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
        **list_filters(department, assignee, user),
        "status": _filters(status),
        "overdue_only": overdue,
    }
    total = service.count_cases(store, **filters)
    pages = max(1, -(-total // PAGE_SIZE))
    frame = service.list_cases(store, **filters, sort=sort, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    kept = inbox_figures(store)
    figures = kept["figures"]
    config = load_config(store)
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
            "departments": [(d.id, d.name) for d in config.departments],
            "my_department": config.department_name(user.department) if user.department else None,
            "department": department,
            "assignee": assignee,
            "status": status,
            "statuses": STATUSES,
            "overdue": overdue,
            "sort": sort,
            "sorts": SORTS,
            "totals": totals,
            "figures": records(figures),
            "did_it_work": kept["did_it_work"],
            "can_work": user.role.allows(Role.analyst),
            "can_open": user.role.allows(Role.analyst),
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


@router.post("/cases/open", **PAGE)
def open_now(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    """ "Open cases now": run the case rules over the stored signals (re-running never duplicates a case)."""
    try:
        result = service.open_cases(store, actor=user.email)  # the saved rules, else the defaults
    except InputError as exc:
        _flash(request, str(exc), "error")
    else:
        opened = int(result["opened"])
        held = int(result.get("held_out") or 0)
        text = f"Opened {opened} new case{'' if opened == 1 else 's'}" if opened else "No new cases to open"
        if held:
            text += f" ({held} kept back in the holdout, not to be followed up)"
        _flash(request, text + ".")
    return RedirectResponse("/cases", status_code=303)


def reply_draft(case: dict[str, Any], evidence: dict[str, Any]) -> str:
    """A reply to start from: the customer by name and their own words (or their answer) quoted."""
    name = case.get("customer_name")
    greeting = f"Dear {name}," if _present(name) else "Hello,"
    quote_text = evidence.get("quote")
    raw = case.get("evidence")
    answers = [a for a in (raw.get("answers") or []) if isinstance(a, dict)] if isinstance(raw, dict) else []
    if quote_text:
        said = f"Thank you for telling us what happened. You wrote: “{quote_text}”"
    elif answers:
        said = "Thank you for answering our survey. " + " ".join(
            ANSWER_WORDS.get(str(a.get("kind")), "You answered {score}.").format(score=_words(a.get("score")))
            for a in answers
        )
    else:
        said = "Thank you for letting us know how we are doing."
    return f"{greeting}\n\n{said}\n\n\n\nKind regards"


@router.get("/cases/{case_id}", **PAGE)
def case_page(request: Request, store: StoreDep, user: ViewerUser, case_id: str) -> Response:
    """One case: the customer, what raised it, where it stands, its history; notes, status, reply."""
    case = _case(store, case_id)
    evidence = _evidence(case)
    history = [history_entry(h) for h in case.get("history") or []]
    return render(
        request,
        "case.html",
        {
            "section": "cases",
            "case": _row(case),
            "evidence": evidence,
            "history": history,
            "next_statuses": [(s, status_label(s)) for s in next_statuses(str(case.get("status")))],
            "can_work": may_work_case(user, case.get("department")) and not case.get("holdout"),
            "assigned_to_me": case.get("assignee") == user.email,
            "draft": reply_draft(case, evidence),
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
    request: Request, store: StoreDep, user: CaseWorker, case_id: str, text: Annotated[str, Form()] = ""
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


@router.post("/cases/{case_id}/take", **PAGE)
def take_case(request: Request, store: StoreDep, user: CaseWorker, case_id: str) -> Response:
    """ "Assign to me": the signed-in person works the case from now on."""
    try:
        service.assign(store, [case_id], user.email, user.email)
    except NotFoundError:
        raise _missing(case_id) from None
    except InputError as exc:
        _flash(request, str(exc), "error")
    else:
        _flash(request, f"The case is assigned to you ({user.email}).")
    return RedirectResponse(_case_url(case_id), status_code=303)


@router.post("/cases/{case_id}/status", **PAGE)
def status_form(
    request: Request,
    store: StoreDep,
    user: CaseWorker,
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
    request: Request,
    store: StoreDep,
    user: CaseWorker,
    case_id: str,
    text: Annotated[str, Form()] = "",
    follow_up: Annotated[bool, Form()] = False,
) -> Response:
    current = str(_case(store, case_id)["status"])
    if not text.strip():
        _flash(request, "Write the reply before sending it.", "error")
    elif current in CLOSED_STATUSES:
        _flash(request, f"This case is {status_label(current)}: reopen it (In progress) before replying.", "error")
    else:
        try:
            base = str(request.base_url) if follow_up else None
            result = service.reply(store, case_id, text.strip(), user.email, follow_up_base_url=base)
        except NotFoundError:
            raise _missing(case_id) from None
        except InputError as exc:
            _flash(request, str(exc), "error")
        else:
            _flash(request, *_reply_words(result))
    return RedirectResponse(_case_url(case_id), status_code=303)
