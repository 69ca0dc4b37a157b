"""The `heedful` command: one Typer app with one sub-command group per area.

Each area's module is imported only when its command runs (or its own help is asked for): they load
pandas, Ibis, SciPy … and `heedful --help` should not wait for them. `COMMANDS` names every command,
where it lives and its one-line help, in the order `heedful --help` lists them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
import typer.main
from typer import _click as click  # Typer's own click (it vendors one): its types are what TyperGroup takes
from typer.core import TyperCommand, TyperGroup

from heedful.errors import HeedfulError, StoreInUse

# name -> (module, attribute, one-line help); an attribute ending in "app" is a Typer group
COMMANDS: dict[str, tuple[str, str, str]] = {
    "demo": (
        "heedful.cli.demo",
        "demo",
        "Load the bundled real sample data (safe to run again), print a summary, then serve the dashboard.",
    ),
    "report": (
        "heedful.cli.report",
        "report_cmd",
        "Write the customer-focus report: headline numbers, praise and complaints, best and at-risk customers, "
        "trade-offs, department scorecards, advocacy, and what we would rather not hear.",
    ),
    "serve": ("heedful.cli.web", "serve", "Start the web app (dashboard, REST API under /api/v1, docs at /docs)."),
    "backup": (
        "heedful.cli.admin",
        "backup_cmd",
        "Write a consistent snapshot of every table (one transaction) to a portable archive.",
    ),
    "restore": (
        "heedful.cli.admin",
        "restore_cmd",
        "Restore a backup into a store (checksums and row counts verified; one transaction).",
    ),
    "db": ("heedful.cli.db", "app", "Create and upgrade the database schema."),
    "import": (
        "heedful.cli.ingest",
        "app",
        "Load orders, customers or feedback from CSV (any delimiter/encoding, .gz), Parquet, Excel or JSON Lines.",
    ),
    "customer": (
        "heedful.cli.customer",
        "app",
        "Look up customers: one profile across orders, feedback, surveys, referrals and value.",
    ),
    "advocacy": ("heedful.cli.advocacy", "app", "Advocates, referral codes and rewards, stories, peer matching."),
    "retain": (
        "heedful.cli.retain",
        "app",
        "Keep and grow customers: churn risk with reasons, value at risk, next-best offers, look-alikes.",
    ),
    "value": (
        "heedful.cli.value",
        "app",
        "Customer value: BTYD models (BG/NBD, MBG/NBD, Pareto/NBD), Gamma-Gamma spend, CLV, RFM, cohorts.",
    ),
    "journey": ("heedful.cli.journey", "app", "Journey stages, needs, department scorecards and alerts."),
    "cases": (
        "heedful.cli.cases",
        "app",
        "Cases: every unhappy customer gets an owner, a due date and a reply (open, list, assign, reply, resolve).",
    ),
    "notify": (
        "heedful.cli.notify",
        "app",
        "Notifications (case assigned, new case, case overdue, alert raised): send what is due, read the log.",
    ),
    "survey": ("heedful.cli.survey", "app", "Surveys: NPS/CSAT/CES, MaxDiff, conjoint and price sensitivity."),
    "listen": ("heedful.cli.listen", "app", "Listen to customers: sentiment, themes, owners, discovery and trends."),
    "users": ("heedful.cli.web", "users_app", "People who sign in to the web app, and their roles."),
    "tokens": ("heedful.cli.web", "tokens_app", "API tokens for scripts using the REST API."),
    "privacy": (
        "heedful.cli.privacy",
        "app",
        "Data-subject rights: export and erase a person's data; retention of raw text.",
    ),
    "spark": (
        "heedful.cli.spark",
        "app",
        "Run analyses on Spark (PySpark through Ibis): --db spark://local[2], spark://HOST:7077 or sc://HOST:15002.",
    ),
}


def load_command(name: str) -> click.Command:
    """The click command `name`, its module imported now."""
    module_name, attribute, _ = COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        command = typer.main.get_command(target)
    else:  # a function: a one-command Typer app is that command
        single = typer.Typer()
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: lists every command from `COMMANDS` and imports one only when it is used."""

    _listing = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self._listing:  # `heedful --help`: the one-line help is enough
            help_text = COMMANDS[cmd_name][2]
            return TyperCommand(cmd_name, help=help_text, short_help=help_text)
        return load_command(cmd_name)

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    name="heedful",
    cls=LazyGroup,
    help="heedful: know your customers, hear them, keep them. Every analysis command takes --json.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """heedful: know your customers, hear them, keep them. Every analysis command takes --json."""


def main() -> None:
    """Console entry point: user mistakes print a message and exit 2, without a traceback."""
    try:
        app()
    except SystemExit as exc:
        if exc.code in (0, None):
            _exit_quickly_if_asked()
        raise
    except StoreInUse as exc:
        sys.exit(_through_the_server(exc))
    except HeedfulError as exc:
        text = str(exc)  # one short message: never a wall of quoted data
        _err().print(f"[bold red]Error:[/] {text if len(text) <= 2000 else text[:2000] + '…'}", markup=True)
        sys.exit(2)


def _exit_quickly_if_asked() -> None:
    """End a successful command at once where it asked for it (`common.leave_quickly`): its output flushed,
    without the interpreter's teardown. Only here, in the console entry point, never inside a test's runner."""
    from heedful.cli import common

    if not common.quick_exit_requested():
        return
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: leave it to the normal exit, which reports it
        return
    os._exit(0)


def _err() -> Any:
    from heedful.cli.common import err_console

    return err_console


def _through_the_server(exc: StoreInUse) -> int:
    """Run this command through the `heedful serve` holding the database file; one line where none can."""
    import os

    from heedful import local_server

    address = local_server.read_address(exc.path)
    if address is None:
        _err().print(
            f"[bold red]Error:[/] {exc.path} is in use by another program (a `heedful serve` started by another "
            "user, or another tool). Stop it, or run this command as the user who started the server.",
            markup=True,
        )
        return 2
    argv = local_server.absolute_paths(sys.argv[1:], os.getcwd())
    return local_server.forward(address, argv)


if __name__ == "__main__":
    main()
