"""Shared CLI pieces: the --db and --json options, JSON output, progress bars, opening the store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from heedful.ingest.sources import existing_file as existing_file  # re-exported for the commands
from heedful.jsonable import to_jsonable
from heedful.store import Store, connect

console = Console()
err_console = Console(stderr=True)

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


def open_store(db: str | None) -> Store:
    return connect(db)


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (nothing else may be printed there with --json)."""
    typer.echo(json.dumps(to_jsonable(document), indent=2, ensure_ascii=False))


@contextmanager
def progress_bar(description: str, total: int | None, enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on stderr; `advance(n)` moves it. Disabled gives a no-op callback."""
    if not enabled:
        yield lambda n=1: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)


# The web app, by its import string: the CLI starts it without importing heedful.web (cli/ and web/ never
# import each other); uvicorn builds it by calling create_app() in the serving process.
WEB_APP = "heedful.web.app:create_app"


def serve_web_app(db_url: str, host: str, port: int, **options: Any) -> None:
    """Run the web app over `db_url` until Ctrl+C (uvicorn builds it with `create_app()`)."""
    import os

    import uvicorn

    os.environ["HEEDFUL_DB"] = db_url  # what create_app() opens
    uvicorn.run(WEB_APP, factory=True, host=host, port=port, **options)
