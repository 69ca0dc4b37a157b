"""`heedful notify …`: send the notifications that are due, and read the delivery log."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.services import notifications as service

app = typer.Typer(
    help="Notifications (case assigned, new case, case overdue, alert raised): send what is due, read the log. "
    "Each is sent exactly once.",
    no_args_is_help=True,
)


@app.command("send")
def send_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Queue "case overdue" for cases past their due date, then send every notification that is due now."""
    with open_store(db) as store:
        overdue = service.notify_overdue(store)
        result = service.deliver_due(store)
    if json_out:
        emit_json({**result, "overdue_queued": overdue["queued"]})
        return
    console.print(
        f"Sent {result['sent']}; {result['retrying']} will be retried, {result['failed']} failed for good; "
        f"{overdue['queued']} overdue notice(s) queued."
    )
    if result["waiting_for_mail"]:
        console.print(
            f"{result['waiting_for_mail']} e-mail(s) wait: mail is off (no SMTP settings). Set them on the "
            "Settings page, in heedful.toml [journey.alerts.smtp] or with HEEDFUL_SMTP_HOST."
        )


@app.command("log")
def log_cmd(
    db: DbOption = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only messages that are pending, sending, sent or failed.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many messages, newest first.")] = 50,
    json_out: JsonOption = False,
) -> None:
    """The delivery log: every queued notification, with its status, tries and last error."""
    with open_store(db) as store:
        log = service.delivery_log(store, status=status, limit=limit)
    if json_out:
        emit_json(log)
        return
    counts = ", ".join(f"{n} {s}" for s, n in log["counts"].items())
    table = Table(title=f"Notifications ({counts})")
    for col in ("queued", "event", "to", "subject", "status", "tries", "next try", "last error"):
        table.add_column(col)
    for m in log["messages"]:
        table.add_row(
            f"{m['created_at']:%Y-%m-%d %H:%M}" if m["created_at"] else "",
            m["event_label"],
            m["to"],
            m["subject"],
            m["status_label"],
            str(m["attempts"]),
            f"{m['next_attempt_at']:%Y-%m-%d %H:%M}" if m["next_attempt_at"] and m["status"] == "pending" else "",
            m["last_error"] or "",
        )
    console.print(table)
