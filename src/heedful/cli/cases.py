"""`heedful cases …`: open cases from unhappy signals, list, show, assign, note, reply and resolve them."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.services import cases as service

app = typer.Typer(help="Cases: every unhappy customer gets an owner, a due date and a reply.", no_args_is_help=True)

ActorOption = Annotated[
    str | None, typer.Option("--as", help="Who is acting (recorded in the case history; default: your login).")
]
PRIORITY_STYLE = {"high": "red", "medium": "yellow", "low": "dim"}


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still record who acted as the CLI
        return "cli"


@app.command("open")
def open_cmd(
    db: DbOption = None,
    rules: Annotated[
        Path | None, typer.Option("--rules", help="Rules file (cases.yaml): triggers, value tiers, SLA hours.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Open a case for every unhappy survey answer, negative feedback, journey alert and valuable customer at risk."""
    path = existing_file(rules) if rules is not None else None
    with open_store(db) as store:
        result = service.open_cases(store, service.load_rules(store, path), actor="cli")
    if json_out:
        emit_json(result)
        return
    by = ", ".join(f"{k} {v}" for k, v in result["by_trigger"].items()) or "none"
    held = f", {result['held_out']} of them held out (not followed up, to measure whether following up works)"
    console.print(
        f"Opened {result['opened']} case(s) ({by}){held if result['held_out'] else ''}; "
        f"{result['already_open']} already had one."
    )


@app.command("list")
def list_cmd(
    db: DbOption = None,
    department: Annotated[str | None, typer.Option("--department", help="Only this department's cases.")] = None,
    assignee: Annotated[str | None, typer.Option("--assignee", help="Only cases assigned to this person.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="new, in_progress, waiting_for_customer, resolved, wont_fix, closed or all (default: the open ones).",
        ),
    ] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open cases past their due date.")] = False,
    sort: Annotated[str, typer.Option("--sort", help="due (overdue first), value (CLV) or opened.")] = "due",
    limit: Annotated[int, typer.Option("--limit", help="At most this many cases.")] = 50,
    include_holdout: Annotated[
        bool, typer.Option("--include-holdout", help="Also the holdout cases (kept back, not followed up).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Cases, overdue first (or by customer value, or newest first)."""
    filters: dict[str, Any] = {
        "department": department,
        "assignee": assignee,
        "status": status,
        "overdue_only": overdue,
        "include_holdout": include_holdout,
    }
    with open_store(db) as store:
        rows = service.list_cases(store, **filters, sort=sort, limit=limit)
        total = service.count_cases(store, **filters)
    if json_out:
        emit_json({"total": total, "cases": rows.to_dict(orient="records")})
        return
    # two lines a case, readable at any width (a ten-column table squeezed every cell to "feedba…"): the id
    # whole (`cases show` takes it), priority, status, due date and owner; then who, why and the evidence
    console.print(f"[bold]Cases[/] ({len(rows)} of {total})")
    room = max(20, console.width - 4)  # the second line is cut to the terminal
    for r in rows.itertuples():
        due = f"due {r.due_at:%Y-%m-%d}" + (" [red]overdue[/]" if r.overdue else "")
        owner = (r.department_name or "no owner") + (f", {r.assignee}" if r.assignee else "")
        status = str(r.status).replace("_", " ") + (" (holdout)" if r.holdout else "")
        console.print(
            f"[bold]{r.case_id}[/]  [{PRIORITY_STYLE.get(r.priority, 'dim')}]{r.priority}[/] · {status} · {due} · {owner}"
        )
        why = str(r.trigger) + (f", {r.theme_label}" if r.theme_label else "")
        evidence = " ".join(str(r.evidence_text or "").split())
        line = f"{r.customer_name or r.customer_id or 'no customer'} — {why}: {evidence}"
        console.print(f"  {line if len(line) <= room else line[: room - 1] + '…'}", highlight=False, markup=False)
    console.print("[dim]One case in full: heedful cases show CASE[/]")


@app.command("show")
def show_cmd(
    case_id: Annotated[str, typer.Argument(help="Case id.")], db: DbOption = None, json_out: JsonOption = False
) -> None:
    """One case: who, why (the evidence), owner, priority, due date and its history."""
    with open_store(db) as store:
        case = service.get_case(store, case_id)
    if json_out:
        emit_json(case)
        return
    _print_case(case)


def _print_case(case: dict[str, Any]) -> None:
    console.print(f"[bold]Case {case['case_id']}[/] — {case['status']}, {case['priority']} priority")
    who = case.get("customer_name") or case.get("customer_id") or "no customer (journey alert)"
    console.print(f"  customer: {who}; trigger: {case['trigger']} {case['trigger_id']}")
    console.print(
        f"  owner: {case.get('department_name') or '–'}; assignee: {case.get('assignee') or 'nobody yet'}; "
        f"due {case['due_at']:%Y-%m-%d %H:%M}{' (overdue)' if case.get('overdue') else ''}"
    )
    if case.get("theme_label"):
        console.print(f"  theme: {case['theme_label']}")
    if case.get("evidence_text"):
        console.print(f"  evidence: {case['evidence_text']}", highlight=False)
    for event in case["history"]:
        detail = event["detail"]
        text = detail.get("text") or detail.get("note") or ""
        move = f"{detail['from']} → {detail['to']}" if "to" in detail and "from" in detail else ""
        extra = f" {detail.get('assignee')}" if event["action"] == "assigned" else ""
        console.print(
            f"  {event['at']:%Y-%m-%d %H:%M} {event['actor']}: {event['action']}{extra} {move} {text}".rstrip(),
            highlight=False,
        )


@app.command("assign")
def assign_cmd(
    case_ids: Annotated[list[str], typer.Argument(help="Case ids.")],
    to: Annotated[str, typer.Option("--to", help="Who takes them (e-mail or name; empty un-assigns).")],
    db: DbOption = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
) -> None:
    """Give one or more cases to a person."""
    with open_store(db) as store:
        n = service.assign(store, case_ids, to, _actor(actor))
    if json_out:
        emit_json({"assigned": n, "assignee": to or None})
    else:
        console.print(f"Assigned {n} case(s) to {to}." if to else f"Un-assigned {n} case(s).")


@app.command("note")
def note_cmd(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Argument(help="The note (internal: the customer does not see it).")],
    db: DbOption = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add an internal note to a case."""
    with open_store(db) as store:
        case = service.add_note(store, case_id, text, _actor(actor))
    if json_out:
        emit_json(case)
    else:
        console.print(f"Noted on case {case_id}.")


@app.command("reply")
def reply_cmd(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    text: Annotated[str, typer.Argument(help="The reply to the customer.")],
    db: DbOption = None,
    actor: ActorOption = None,
    follow_up: Annotated[
        str | None,
        typer.Option(
            "--follow-up",
            metavar="WEB_ADDRESS",
            help="End with a personal link to the one-question follow-up survey on the web app at this address.",
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Reply to the customer (e-mailed where SMTP is configured) and wait for their answer."""
    with open_store(db) as store:
        result = service.reply(store, case_id, text, _actor(actor), follow_up_base_url=follow_up)
    if json_out:
        emit_json(result)
        return
    if result["sent"]:
        console.print(f"Reply sent to {result['to']} and recorded on case {case_id}.")
    else:
        console.print(f"Reply recorded on case {case_id}; not e-mailed: {result['reason']}")


@app.command("resolve")
def resolve_cmd(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    db: DbOption = None,
    wont_fix: Annotated[bool, typer.Option("--wont-fix", help="Close it as won't fix instead of resolved.")] = False,
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the history).")] = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
) -> None:
    """Close a case as resolved (or won't fix)."""
    status = "wont_fix" if wont_fix else "resolved"
    with open_store(db) as store:
        case = service.set_status(store, case_id, status, _actor(actor), note=note)
    if json_out:
        emit_json(case)
    else:
        console.print(f"Case {case_id} is {status.replace('_', ' ')}.")


@app.command("status")
def status_cmd(
    case_id: Annotated[str, typer.Argument(help="Case id.")],
    status: Annotated[str, typer.Argument(help="in_progress, waiting_for_customer, resolved or wont_fix.")],
    db: DbOption = None,
    note: Annotated[str | None, typer.Option("--note", help="Why (kept in the history).")] = None,
    actor: ActorOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move a case to another status (a closed case reopens to in_progress)."""
    with open_store(db) as store:
        case = service.set_status(store, case_id, status, _actor(actor), note=note)
    if json_out:
        emit_json(case)
    else:
        console.print(f"Case {case_id} is {case['status']}.")


def _hours(value: Any) -> str:
    return "–" if value is None or value != value else f"{value:.1f}"


def _pct(share: dict[str, Any]) -> str:
    if not share["n"]:
        return "–"
    return f"{share['share']:.0%} ({share['low']:.0%}–{share['high']:.0%}, n = {share['n']})"


@app.command("figures")
def figures_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Per department: open and overdue cases, resolved this month, median hours to first response; and
    did it work: hours to respond and resolve, share within SLA, recovery against the holdout."""
    with open_store(db) as store:
        figures = service.case_figures(store)
        loop = service.closed_loop_figures(store)
    if json_out:
        by_dept = {d["department"]: d for d in loop["departments"]}
        departments = [{**by_dept.get(r["department"], {}), **r} for r in figures.to_dict(orient="records")]
        emit_json({"departments": departments, "overall": loop["overall"], "minimum": loop["minimum"]})
        return
    table = Table(title="Cases per department")
    for col in ("Department", "Open", "Overdue", "Resolved this month", "Median hours to first response"):
        table.add_column(col, justify="left" if col == "Department" else "right")
    for r in figures.itertuples():
        table.add_row(
            r.department_name,
            str(r.open),
            str(r.overdue),
            str(r.resolved_this_month),
            _hours(r.median_hours_to_first_response),
        )
    console.print(table)
    loop_table = Table(title="Did it work? (holdout cases left out of the timings)")
    for col in ("Department", "Cases", "Hours to respond", "Hours to resolve", "Within SLA", "Recovery"):
        loop_table.add_column(col, justify="left" if col in ("Department", "Recovery") else "right")
    for name, row in [("All departments", loop["overall"])] + [
        (d["department_name"], d) for d in loop["departments"] if d["cases"] or d["held_out"]
    ]:
        loop_table.add_row(
            name,
            str(row["cases"]),
            _hours(row["median_hours_to_first_response"]),
            _hours(row["median_hours_to_resolve"]),
            _pct(row["within_sla"]),
            row["recovery"]["finding"],
        )
    console.print(loop_table)
