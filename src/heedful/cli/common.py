"""Shared CLI pieces: the --db and --json options, JSON output, progress bars, opening the store."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from heedful.config import resolve_db_url
from heedful.errors import ConfigError, StoreInUse

if TYPE_CHECKING:
    from rich.console import Console

    from heedful.store import Store

    console: Console  # Rich consoles on stdout and stderr, made on first use (module __getattr__ below)
    err_console: Console

# pandas, Ibis and friends load when a command needs them, not when the CLI starts (`heedful --help`); so does
# Rich, which a command printing plain lines (`heedful db tables`) does not need
_CONSOLES: dict[str, Any] = {}


def _console(name: str) -> Console:
    """The Rich console `name` ("console": stdout, "err_console": stderr), made on first use."""
    if name not in _CONSOLES:
        from rich.console import Console

        _CONSOLES[name] = Console(stderr=name == "err_console")
    return _CONSOLES[name]


#: set by a command that, once it has printed, holds nothing that needs closing (`leave_quickly`)
_QUICK_EXIT = threading.Event()


def leave_quickly() -> None:
    """This command holds nothing open once it has printed (no store, no temporary file): the console
    entry point may end the process without Python's teardown, which frees every object one by one
    (0.1 s after `value clv` of a million customers)."""
    _QUICK_EXIT.set()


def quick_exit_requested() -> bool:
    return _QUICK_EXIT.is_set()


def __getattr__(name: str) -> Any:
    """`console` and `err_console` for `from heedful.cli.common import console`, made on first use."""
    if name in ("console", "err_console"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL: duckdb:///file.duckdb (default duckdb:///heedful.duckdb, or $HEEDFUL_DB) "
        "or postgresql://user@host:5432/db[?schema=name].",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout instead of tables.")]
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the queries run: 'store' (the store's database, or DuckDB for a file) or 'spark' "
        "(Spark local mode, spark://local[2], reading the same tables); a Spark URL also works: "
        "spark://HOST:7077, sc://HOST:15002.",
    ),
]


# While the server runs a forwarded command (`run_forwarded`), every open_store hands out its store.
_BORROWED: ContextVar[Store | None] = ContextVar("heedful_borrowed_store", default=None)


class _Borrowed:
    """The server's store lent to one forwarded command: closing it (or leaving `with`) keeps it open."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def close(self) -> None:
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def serving_a_forwarded_command() -> bool:
    """True while this (serving) process runs a forwarded command: `open_store` then lends the server's store."""
    return _BORROWED.get() is not None


def existing_file(path: Path) -> Path:
    """`heedful.ingest.sources.existing_file` (a readable file, or a one-line error), imported on use."""
    from heedful.ingest.sources import existing_file as check

    return check(path)


def open_store(db: str | None, *, migrate: bool = True) -> Store:
    """The store at `db`; StoreInUse where another process holds its DuckDB file (main() then runs the
    command through the server holding it, see `heedful.local_server`)."""
    borrowed = _BORROWED.get()
    if borrowed is not None:
        return cast("Store", _Borrowed(borrowed))
    from heedful.store import connect
    from heedful.store.backend import DatabaseURL

    url = resolve_db_url(db)
    try:
        return connect(url, migrate=migrate)
    except ConfigError as exc:
        location = DatabaseURL.parse(url)
        if location.dialect == "duckdb" and location.path and "lock" in str(exc).lower():
            raise StoreInUse(location.path, str(exc)) from exc
        raise


def duckdb_file(db: str | None) -> str | None:
    """The DuckDB file `db` names (after HEEDFUL_DB / heedful.toml), or None for PostgreSQL and memory."""
    from heedful.store.backend import DatabaseURL

    location = DatabaseURL.parse(resolve_db_url(db))
    return location.path if location.dialect == "duckdb" and location.path != ":memory:" else None


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (nothing else may be printed there with --json)."""
    from heedful.jsonable import to_jsonable

    typer.echo(json.dumps(to_jsonable(document), indent=2, ensure_ascii=False))


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; `advance(n)` moves it. Disabled gives a no-op callback."""
    if not enabled:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=_console("err_console"),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


# The web app, by its import string: the CLI starts it without importing heedful.web (cli/ and web/ never
# import each other); uvicorn builds it by calling create_app() in the serving process.
WEB_APP = "heedful.web.app:create_app"


def serve_web_app(db_url: str, host: str, port: int, **options: Any) -> None:
    """Run the web app over `db_url` until Ctrl+C (uvicorn builds it with `create_app()`).

    On a DuckDB file the server also takes CLI commands that find the file locked (`heedful.local_server`):
    it learns here how to run one (`run_forwarded`) and where it listens (HEEDFUL_SERVE_ADDRESS)."""
    import os

    import uvicorn

    from heedful import local_server

    os.environ["HEEDFUL_DB"] = db_url  # what create_app() opens
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "localhost") else host
    os.environ["HEEDFUL_SERVE_ADDRESS"] = f"http://{local}:{port}"
    local_server.register_runner(run_forwarded)
    uvicorn.run(WEB_APP, factory=True, host=host, port=port, **options)


#: commands that cannot run inside the server: serving again, or replacing the database under it
NOT_FORWARDED = {
    ("serve",): "a server already runs on this database",
    ("restore",): "it would replace the database the server has open",
}


def run_forwarded(argv: list[str], store: Store, out: Any, err: Any) -> int:
    """Run one `heedful` command in this (serving) process over `store`, its output to `out` / `err`.

    Called by the web app for a CLI command that found the database file held by this server. The
    command sees `store` wherever it opens one; a prompt gets end of input (give answers as options).
    """
    import contextlib
    import io
    import sys

    from typer import _click as click

    from heedful.cli.main import app
    from heedful.errors import HeedfulError

    words = [a for a in argv if not a.startswith("-")]
    for head, why in NOT_FORWARDED.items():
        if tuple(words[: len(head)]) == head:
            err.write(
                f"heedful {' '.join(head)} cannot run while `heedful serve` holds this database: {why}. "
                "Stop the server first.\n"
            )
            return 2
    if words[:1] == ["demo"] and "--no-serve" not in argv:
        argv = [*argv, "--no-serve"]  # the dashboard is already being served
    token = _BORROWED.set(store)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            stdin, sys.stdin = sys.stdin, io.StringIO("")
            try:
                result = app(args=argv, prog_name="heedful", standalone_mode=False)
                return result if isinstance(result, int) else 0  # click returns an Exit's code here
            except typer.Exit as exc:
                return int(exc.exit_code)
            except click.exceptions.ClickException as exc:
                exc.show(file=err)
                return int(exc.exit_code)
            except typer.Abort:
                err.write("Aborted: this command asks a question; give the answer as an option.\n")
                return 1
            except HeedfulError as exc:
                _console("err_console").print(f"[bold red]Error:[/] {str(exc)[:2000]}", markup=True)
                return 2
            except SystemExit as exc:
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            finally:
                sys.stdin = stdin
    finally:
        _BORROWED.reset(token)
