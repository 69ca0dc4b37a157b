"""Shared CLI pieces: the --db and --json options, JSON output, progress bars, opening the store."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from heedful.errors import InputError
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


def existing_file(path: Path) -> Path:
    """A user-supplied input path, with a clear error when it is not a readable file."""
    if not path.exists():
        raise InputError(f"File not found: {path}")
    if not path.is_file():
        raise InputError(f"Not a file: {path}")
    return path


def to_jsonable(value: Any) -> Any:
    """Make numpy / pandas / datetime values JSON-safe; NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return to_jsonable(value.to_dict())
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if math.isfinite(f) else None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if value is pd.NaT or (not isinstance(value, str | bytes) and pd.api.types.is_scalar(value) and pd.isna(value)):
        return None
    return value


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
