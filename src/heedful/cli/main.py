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
from heedful.cli.common import StoreInUse, err_console
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
    except StoreInUse as exc:
        sys.exit(_through_the_server(exc))
    except HeedfulError as exc:
        text = str(exc)  # one short message: never a wall of quoted data
        err_console.print(f"[bold red]Error:[/] {text if len(text) <= 2000 else text[:2000] + '…'}", markup=True)
        sys.exit(2)


def _through_the_server(exc: StoreInUse) -> int:
    """Run this command through the `heedful serve` holding the database file; one line where none can."""
    import os

    from heedful import local_server

    address = local_server.read_address(exc.path)
    if address is None:
        err_console.print(
            f"[bold red]Error:[/] {exc.path} is in use by another program (a `heedful serve` started by another "
            "user, or another tool). Stop it, or run this command as the user who started the server.",
            markup=True,
        )
        return 2
    argv = local_server.absolute_paths(sys.argv[1:], os.getcwd())
    return local_server.forward(address, argv)


if __name__ == "__main__":
    main()
