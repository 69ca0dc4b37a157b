"""The `heedful` command: one Typer app with one sub-command group per area."""

from __future__ import annotations

import sys

import typer

from heedful.cli import (
    admin,
    advocacy,
    customer,
    db,
    demo,
    ingest,
    journey,
    listen,
    privacy,
    report,
    retain,
    spark,
    survey,
    value,
    web,
)
from heedful.cli.common import err_console
from heedful.errors import HeedfulError

app = typer.Typer(
    name="heedful",
    help="heedful: know your customers, hear them, keep them. Every analysis command takes --json.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(ingest.app, name="import")
app.add_typer(customer.app, name="customer")
app.command("demo")(demo.demo)
app.add_typer(advocacy.app, name="advocacy")
app.add_typer(retain.app, name="retain")
app.add_typer(value.app, name="value")
app.add_typer(journey.app, name="journey")
app.add_typer(survey.app, name="survey")
app.add_typer(listen.app, name="listen")
app.command("report")(report.report_cmd)
web.register(app)
admin.register(app)
app.add_typer(privacy.app, name="privacy")
app.add_typer(spark.app, name="spark")


def main() -> None:
    """Console entry point: user mistakes print a message and exit 2, without a traceback."""
    try:
        app()
    except HeedfulError as exc:
        text = str(exc)  # one short message: never a wall of quoted data
        err_console.print(f"[bold red]Error:[/] {text if len(text) <= 2000 else text[:2000] + '…'}", markup=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
