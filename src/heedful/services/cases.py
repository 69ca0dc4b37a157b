"""Case use cases: open cases from unhappy signals, list and show them, assign, move, note and reply.

Every unhappy customer becomes a case with an owner, a due date and a reply. `store.cases_repo` reads and
writes the rows; `heedful.cases` decides which signals open a case, its priority, due date and the status
flow. The CLI (`heedful cases …`), the web pages and the API call these functions.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from heedful.cases import outcomes
from heedful.cases.flow import (
    CLOSED_STATUSES,
    OPEN_STATUSES,
    check_status,
    check_transition,
    plan_cases,
    value_percentiles,
)
from heedful.cases.rules import CaseRules, parse_rules
from heedful.cases.triggers import evidence_text, find_candidates
from heedful.errors import ConfigError, InputError, NotFoundError
from heedful.journey.delivery import DeliverySettings, send_email
from heedful.services import mail, notifications
from heedful.services.journey import load_alerts, load_config
from heedful.services.listen import label_of, theme_labels
from heedful.services.surveys import answers_of_type
from heedful.store import Store
from heedful.store import cases_repo as repo

SORTS = tuple(repo.SORTS)
LIST_COLUMNS = [
    "case_id",
    "customer_id",
    "customer_name",
    "trigger",
    "trigger_id",
    "theme",
    "theme_label",
    "department",
    "department_name",
    "priority",
    "status",
    "assignee",
    "opened_at",
    "due_at",
    "overdue",
    "clv",
    "evidence_text",
    "holdout",
]
MAIL_OFF = "Mail is off: no SMTP settings."
HELD_OUT = (
    "is in the holdout: it is kept back, not followed up, so that following up can be measured "
    "against not following up (cases.yaml holdout_share)."
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- rules and opening


def load_rules(store: Store, path: Path | None = None) -> CaseRules:
    """The rules in `path` when one is given (departments checked against the journey configuration); else
    those saved in the web app (Settings → Case rules); else the defaults."""
    from heedful.services.case_rules import current_rules

    if path is None:
        return current_rules(store)[0]
    if not path.is_file():
        raise InputError(f"No rules file at {path}.")
    known = [d.id for d in load_config(store).departments]
    return parse_rules(path.read_text(encoding="utf-8"), source=path.name, known_departments=known)


def _survey_answers(store: Store, *, follow_ups: bool = True) -> pd.DataFrame:
    """Completed NPS/CSAT/CES answers of customers (staff left out); `follow_ups=False` leaves out the answers
    to the case follow-up question, which only followed-up customers are asked."""
    frames = []
    for kind in ("nps", "csat", "ces"):
        answers = answers_of_type(store, kind, completed_only=True)
        if not answers.empty:
            frames.append(answers.assign(kind=kind))
    if not frames:
        return pd.DataFrame()
    answers = pd.concat(frames, ignore_index=True)
    if not follow_ups:
        from heedful.services.case_followup import FOLLOW_UP_SLUG

        answers = answers[answers["slug"] != FOLLOW_UP_SLUG]
    return answers[~answers["customer_id"].astype(str).isin(repo.internal_people(store))]


def _alerts_with_stage(store: Store) -> pd.DataFrame:
    alerts = load_alerts(store)
    if alerts.empty:
        return alerts
    stages = {n.id: n.stage for n in load_config(store).needs}
    return alerts.assign(journey_stage=alerts["need_id"].map(lambda n: stages.get(n) if isinstance(n, str) else None))


def open_cases(
    store: Store, rules: CaseRules | None = None, *, now: datetime | None = None, actor: str = "system"
) -> dict[str, Any]:
    """Open a case for every signal the rules pick that has none yet; re-running never duplicates.

    A random `rules.holdout_share` of the new cases with a known customer (a seeded hash of the key: every
    run draws the same) is stored in the holdout: never listed by default, assigned or replied to, so that
    `closed_loop_figures` can compare followed-up customers with comparable ones nobody followed up.

    Returns {"opened": n, "already_open": n, "by_trigger": {kind: n opened}, "held_out": n of those opened}."""
    rules = rules or load_rules(store)
    now = now or _now()
    t = rules.triggers
    config = load_config(store)
    feedback = None
    if t.feedback.enabled:
        feedback = repo.feedback_signals(store, t.feedback.sentiments)
        feedback = config.harmonise_feedback(feedback) if not feedback.empty else feedback
    candidates = find_candidates(
        rules,
        answers=_survey_answers(store) if t.survey.enabled else None,
        feedback=feedback,
        alerts=_alerts_with_stage(store) if t.alert.enabled else None,
        churn=repo.churn_signals(store) if t.churn.enabled else None,
        customer_value=repo.customer_values(store),
        lookback_days=rules.lookback_days,
    )
    # a case exists for the signal, or (churn) the customer is still followed up from an earlier month
    at_risk_followed = repo.customers_with_open_case(store, "churn", OPEN_STATUSES)
    known = candidates["idempotency_key"].isin(repo.stored_keys(store)) | (
        (candidates["trigger"] == "churn") & candidates["customer_id"].isin(at_risk_followed)
    )
    new = candidates[~known]
    planned = plan_cases(new, value_percentiles(repo.customer_values(store)), rules, now)
    opened = held_out = 0
    by_trigger: dict[str, int] = {}
    if not planned.empty:
        ids = list(planned["case_id"])
        events = [
            repo.event_row(
                r.case_id,
                now,
                actor,
                "opened",
                {"trigger": r.trigger, "priority": r.priority, "due_at": r.due_at, "holdout": bool(r.holdout)},
            )
            for r in planned.itertuples()
        ]
        rows = planned.assign(
            evidence=planned["evidence"].map(lambda e: json.dumps(e, ensure_ascii=False, default=str)),
            assignee=None,
            updated_at=now,
        )
        with store.transaction():  # the new cases and their "new case" notifications land together
            opened = repo.insert_cases(store, rows, events)
            notifications.cases_opened(store, planned, now=now)
        held_out = int(planned["holdout"].sum()) if opened == len(planned) else len(repo.held_out(store, ids))
        by_trigger = {str(k): int(v) for k, v in planned["trigger"].value_counts().sort_index().items()}
    return {
        "opened": opened,
        "already_open": int(known.sum()) + len(new) - opened,
        "by_trigger": by_trigger,
        "held_out": held_out,
    }


# ---------------------------------------------------------------- reading


def _statuses(status: str | None) -> list[str] | None:
    if status is None:
        return list(OPEN_STATUSES)
    if status == "all":
        return None
    if status == "open":
        return list(OPEN_STATUSES)
    if status == "closed":
        return list(CLOSED_STATUSES)
    return [check_status(status)]


def _filters(
    department: str | None,
    assignee: str | None,
    status: str | None,
    overdue_only: bool,
    now: datetime | None,
    include_holdout: bool = False,
) -> dict[str, Any]:
    return {
        "include_holdout": include_holdout,
        "department": department or None,
        "assignee": assignee or None,
        "statuses": _statuses(status or None),
        "overdue_only": overdue_only,
        "open_statuses": list(OPEN_STATUSES),
        "now": now or _now(),
    }


def _evidence(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def list_cases(
    store: Store,
    *,
    department: str | None = None,
    assignee: str | None = None,
    status: str | None = None,
    overdue_only: bool = False,
    sort: str = "due",
    limit: int = 100,
    offset: int = 0,
    now: datetime | None = None,
    include_holdout: bool = False,
) -> pd.DataFrame:
    """Cases matching the filters (`status` None: the open ones; "all": every case; "open" / "closed" too),
    sorted by "due" (overdue first, then due date), "value" (CLV, highest first) or "opened" (newest first).
    Holdout cases (kept back to measure whether following up works) only with `include_holdout`."""
    if sort not in repo.SORTS:
        raise InputError(f"Unknown sort {sort!r}; use one of {', '.join(SORTS)}.")
    if limit < 0 or offset < 0:
        raise InputError("limit and offset must not be negative.")
    rows = repo.list_rows(
        store,
        **_filters(department, assignee, status, overdue_only, now, include_holdout),
        sort=sort,
        limit=limit,
        offset=offset,
    )
    if rows.empty:
        return pd.DataFrame(columns=LIST_COLUMNS).astype({"overdue": bool, "clv": float, "holdout": bool})
    config = load_config(store)
    labels = theme_labels()
    rows["theme_label"] = rows["theme"].map(lambda t: label_of(t, labels) if isinstance(t, str) and t else None)
    rows["department_name"] = rows["department"].map(
        lambda d: config.department_name(d) if isinstance(d, str) else None
    )
    rows["evidence_text"] = rows["evidence"].map(lambda e: evidence_text(_evidence(e)))
    rows["overdue"] = rows["overdue"].fillna(False).astype(bool)
    rows["holdout"] = rows["holdout"].fillna(False).astype(bool)
    rows["clv"] = pd.to_numeric(rows["clv"], errors="coerce")
    for col in ("opened_at", "due_at"):
        rows[col] = pd.to_datetime(rows[col])
    return rows[LIST_COLUMNS].reset_index(drop=True)


def count_cases(
    store: Store,
    *,
    department: str | None = None,
    assignee: str | None = None,
    status: str | None = None,
    overdue_only: bool = False,
    now: datetime | None = None,
    include_holdout: bool = False,
    **_ignored: Any,
) -> int:
    """How many cases `list_cases` with the same filters would list without a limit."""
    return repo.count_rows(store, **_filters(department, assignee, status, overdue_only, now, include_holdout))


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def get_case(store: Store, case_id: str, *, now: datetime | None = None) -> dict[str, Any]:
    """Every field of a case, with theme label, department and customer names, evidence and history."""
    record = repo.case_record(store, case_id)
    if record is None:
        raise NotFoundError(f"No case {case_id!r}; list cases with `heedful cases list --status all`.")
    case = {k: _plain(v) for k, v in record.items()}
    case["evidence"] = _evidence(case.get("evidence"))
    case["holdout"] = bool(case.get("holdout"))
    theme = case.get("theme")
    case["theme_label"] = label_of(theme) if theme else None
    department = case.get("department")
    case["department_name"] = load_config(store).department_name(department) if department else None
    due = case.get("due_at")
    case["overdue"] = bool(case["status"] in OPEN_STATUSES and due is not None and due < (now or _now()))
    case["evidence_text"] = evidence_text(case["evidence"])
    events = repo.events_of(store, case_id)
    case["history"] = [
        {"at": _plain(e.at), "actor": e.actor, "action": e.action, "detail": _evidence(e.detail)}
        for e in events.itertuples()
    ]
    return case


def _require(store: Store, case_ids: list[str]) -> dict[str, str]:
    statuses = repo.statuses_of(store, case_ids)
    missing = [c for c in case_ids if c not in statuses]
    if missing:
        raise NotFoundError(f"No case {', '.join(repr(c) for c in missing[:5])}.")
    held = repo.held_out(store, case_ids)
    if held:
        raise InputError(f"Case {sorted(held)[0]} {HELD_OUT}")
    return statuses


def _actor(actor: str) -> str:
    return actor.strip() if actor and actor.strip() else "unknown"


# ---------------------------------------------------------------- changing


def assign(store: Store, case_ids: list[str], assignee: str, actor: str) -> int:
    """Give cases to `assignee` (an empty name un-assigns them); returns how many were changed."""
    ids = list(dict.fromkeys(case_ids))
    if not ids:
        return 0
    _require(store, ids)
    who = assignee.strip() or None
    now = _now()
    events = [repo.event_row(c, now, _actor(actor), "assigned", {"assignee": who}) for c in ids]
    with store.transaction():  # the assignment and its notification to the assignee land together
        changed = repo.update_cases(store, {c: {"assignee": who, "updated_at": now} for c in ids}, events)
        notifications.case_assigned(store, ids, who, actor=_actor(actor), now=now)
    return changed


def set_status(store: Store, case_id: str, status: str, actor: str, note: str | None = None) -> dict[str, Any]:
    """Move a case along new → in_progress → waiting_for_customer → resolved | wont_fix (a closed case
    reopens to in_progress); an invalid move is refused with InputError. Returns the updated case."""
    current = _require(store, [case_id])[case_id]
    check_transition(case_id, current, status)
    now = _now()
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status in CLOSED_STATUSES:
        values["resolved_at"] = now
    elif current in CLOSED_STATUSES:
        values["resolved_at"] = None
    detail = {"from": current, "to": status, **({"note": note.strip()} if note and note.strip() else {})}
    event = repo.event_row(case_id, now, _actor(actor), "status", detail)
    repo.update_cases(store, {case_id: values}, [event])
    return get_case(store, case_id)


def add_note(store: Store, case_id: str, text: str, actor: str) -> dict[str, Any]:
    """Add an internal note to the case's history; returns the updated case."""
    if not text or not text.strip():
        raise InputError("A note needs some text.")
    _require(store, [case_id])
    now = _now()
    event = repo.event_row(case_id, now, _actor(actor), "note", {"text": text.strip()})
    repo.update_cases(store, {case_id: {"updated_at": now}}, [event])
    return get_case(store, case_id)


def reply(
    store: Store,
    case_id: str,
    text: str,
    actor: str,
    *,
    settings: DeliverySettings | None = None,
    follow_up_base_url: str | None = None,
) -> dict[str, Any]:
    """Reply to the customer: e-mail it where SMTP is configured (`services.mail.delivery_settings`: the web
    app's mail settings, else heedful.toml or HEEDFUL_SMTP_*), and always record it on the case, set
    first_response_at if unset, and wait for the customer. With `follow_up_base_url` (the web app's address)
    the reply ends with a personal link to the one-question follow-up survey (`services.case_followup`).
    Returns {"sent": bool, "reason": why not (or None), "to": address, "case": the updated case}."""
    if not text or not text.strip():
        raise InputError("A reply needs some text.")
    case = get_case(store, case_id)
    current = case["status"]
    if case["holdout"]:
        raise InputError(f"Case {case_id} {HELD_OUT}")
    if current in CLOSED_STATUSES:
        raise InputError(f"Case {case_id} is {current}; reopen it (in_progress) before replying.")
    if settings is None:
        settings = mail.delivery_settings(store)
    text = text.strip()
    if follow_up_base_url is not None:  # end with a personal link to the one-question follow-up survey
        from heedful.services.case_followup import follow_up_link, with_follow_up

        text = with_follow_up(text, follow_up_link(store, case.get("customer_id"), follow_up_base_url))
    sent, reason, to = _send_reply(case, text, settings)
    now = _now()
    values: dict[str, Any] = {"status": "waiting_for_customer", "updated_at": now}
    if case.get("first_response_at") is None:
        values["first_response_at"] = now
    detail = {"text": text, "sent": sent, "to": to, "follow_up": follow_up_base_url is not None}
    events = [repo.event_row(case_id, now, _actor(actor), "reply", detail)]
    if current != "waiting_for_customer":
        events.append(
            repo.event_row(case_id, now, _actor(actor), "status", {"from": current, "to": "waiting_for_customer"})
        )
    repo.update_cases(store, {case_id: values}, events)
    return {"sent": sent, "reason": reason, "to": to, "case": get_case(store, case_id)}


def _send_reply(case: dict[str, Any], text: str, settings: DeliverySettings) -> tuple[bool, str | None, str | None]:
    if settings.smtp is None:
        return False, MAIL_OFF, None
    address = case.get("customer_email")
    if not case.get("customer_id"):
        return False, "This case has no customer to e-mail.", None
    if not isinstance(address, str) or "@" not in address:
        return False, "The customer has no e-mail address on file.", None
    subject = f"About your {'survey answer' if case['trigger'] == 'survey' else 'feedback'} ({case['case_id']})"
    try:
        send_email(settings.smtp.model_copy(update={"recipients": [address]}), subject, text)
    except ConfigError as exc:
        return False, str(exc), address
    return True, None, address


# ---------------------------------------------------------------- figures and demo


def case_figures(store: Store, *, now: datetime | None = None) -> pd.DataFrame:
    """Per department: open and overdue cases, cases resolved this month, median hours to first response."""
    now = now or _now()
    config = load_config(store)
    rows = repo.timing_rows(store)
    rows = rows[~rows["holdout"].fillna(False).astype(bool)]
    departments = [d.id for d in config.departments]
    departments += sorted({d for d in rows["department"].dropna().unique() if d not in departments})
    for col in ("opened_at", "due_at", "first_response_at", "resolved_at"):
        rows[col] = pd.to_datetime(rows[col])
    month_start = pd.Timestamp(now).to_period("M").start_time
    out = []
    for dept in departments:
        mine = rows[rows["department"] == dept]
        is_open = mine["status"].isin(OPEN_STATUSES)
        answered = mine.dropna(subset=["first_response_at"])
        hours = (answered["first_response_at"] - answered["opened_at"]).dt.total_seconds() / 3600
        out.append(
            {
                "department": dept,
                "department_name": config.department_name(dept),
                "open": int(is_open.sum()),
                "overdue": int((is_open & (mine["due_at"] < pd.Timestamp(now))).sum()),
                "resolved_this_month": int(
                    (mine["status"].isin(CLOSED_STATUSES) & (mine["resolved_at"] >= month_start)).sum()
                ),
                "median_hours_to_first_response": float(hours.median()) if len(hours) else None,
            }
        )
    return pd.DataFrame(
        out,
        columns=[
            "department",
            "department_name",
            "open",
            "overdue",
            "resolved_this_month",
            "median_hours_to_first_response",
        ],
    )


def closed_loop_figures(
    store: Store, *, now: datetime | None = None, rules: CaseRules | None = None, minimum: int = outcomes.MIN_PER_ARM
) -> dict[str, Any]:
    """Did it work? Overall and per department: cases worked, first responses, median hours to the first
    response and to close, share closed within the SLA (Wilson interval), and recovery — the share of
    unhappy customers whose cases were to be followed up (not held out, as randomised) who later ordered again, answered above
    the unhappy range or left non-negative feedback, against the holdout's, with the difference and its 95%
    interval ("not enough data" below `minimum` cases in either group). See `heedful.cases.outcomes`."""
    now = now or _now()
    rules = rules or load_rules(store)
    config = load_config(store)
    rows = repo.timing_rows(store)
    for col in ("opened_at", "due_at", "first_response_at", "resolved_at"):
        rows[col] = pd.to_datetime(rows[col])
    rows["holdout"] = rows["holdout"].fillna(False).astype(bool)
    people = rows.dropna(subset=["customer_id"])
    came_back = pd.Series(dtype=bool)
    if not people.empty:
        answers = _survey_answers(store, follow_ups=False)
        if not answers.empty:
            answers = answers.assign(answered_at=pd.to_datetime(answers["answered_at"]))
        feedback = repo.case_customer_feedback(store)
        feedback["created_at"] = pd.to_datetime(feedback["created_at"])
        s = rules.triggers.survey
        came_back = outcomes.recovered(
            people,
            next_orders=repo.next_orders(store),
            answers=answers,
            feedback=feedback,
            unhappy_max={"nps": s.nps_max, "csat": s.csat_max, "ces": s.ces_max},
            now=now,
        )

    def figures(mine: pd.DataFrame) -> dict[str, Any]:
        mine_people = mine[mine["case_id"].isin(came_back.index)]
        # as randomised: every case not held out (to be followed up) against the holdout, whether or not
        # someone has acted yet — comparing only the cases someone worked would let the team's choice of
        # whom to call first (likely returners?) pass for the effect of calling
        followed = mine_people[~mine_people["holdout"]]
        held = mine_people[mine_people["holdout"]]
        recovery = outcomes.recovery(
            came_back.reindex(followed["case_id"]), came_back.reindex(held["case_id"]), minimum=minimum
        )
        recovery["acted_on_share"] = float((followed["status"] != "new").mean()) if len(followed) else None
        return {**outcomes.timing(mine, now), "recovery": recovery}

    departments = [d.id for d in config.departments]
    departments += sorted({d for d in rows["department"].dropna().unique() if d not in departments})
    return {
        "overall": figures(rows),
        "departments": [
            {"department": d, "department_name": config.department_name(d), **figures(rows[rows["department"] == d])}
            for d in departments
        ],
        "minimum": minimum,
    }


def demo_step(store: Store) -> dict[str, object]:
    """Open the cases the default rules find on the demo data."""
    result = open_cases(store)
    return {
        **result,
        "open": count_cases(store),
        "overdue": count_cases(store, overdue_only=True),
    }
