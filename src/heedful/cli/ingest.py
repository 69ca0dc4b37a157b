"""`heedful import orders|customers|feedback FILE`: load a file into the store."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from heedful.cli.common import DbOption, JsonOption, console, emit_json, err_console
from heedful.errors import HeedfulError, StoreInUse
from heedful.ingest.presets import FIELDS, PRESETS

PROGRESS_MIN_ROWS = 10_000

app = typer.Typer(
    help="Load orders, customers or feedback from CSV (any delimiter/encoding, .gz), Parquet, Excel or JSON Lines. "
    "Bad rows go to the quarantine table with file, line and reason; importing the same file again adds nothing.",
    no_args_is_help=True,
)


def _fields_help(entity: str) -> str:
    return ", ".join(FIELDS[entity])


def _presets_help(entity: str) -> str:
    return "; ".join(f"{name}: {p.description.rstrip('.')}" for name, p in PRESETS[entity].items()) + "."


@contextmanager
def user_errors() -> Iterator[None]:
    """User mistakes (HeedfulError) print one line on stderr and exit 2, never a traceback."""
    try:
        yield
    except StoreInUse:
        raise  # main() runs the command through the server that holds the database file
    except HeedfulError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}")
        raise typer.Exit(2) from None


class _RowProgress:
    """A Rich bar on stderr, shown only for files of more than ~10k rows."""

    def __init__(self, label: str, enabled: bool) -> None:
        self.label = label
        self.enabled = enabled and err_console.is_terminal
        self.progress: Progress | None = None
        self.task: Any = None

    def __call__(self, done: int, total: int | None) -> None:
        if not self.enabled:
            return
        if self.progress is None:
            if max(done, total or 0) < PROGRESS_MIN_ROWS:
                return
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                TextColumn("{task.completed:,} rows"),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        assert self.progress is not None
        self.progress.update(self.task, completed=done, total=max(total or 0, done) or None)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _print_result(result: dict[str, Any], entity: str, path: Path, rejected_shown: int = 20) -> None:
    console.print(
        f"Imported {path} as {entity}: [bold green]{result['accepted']:,}[/] accepted, "
        f"[bold]{result['duplicates']:,}[/] duplicates (already stored), "
        f"[bold red]{result['rejected']:,}[/] rejected  (import {result['import_id']})",
        soft_wrap=True,
    )
    for entry in result["quarantine"][:rejected_shown]:
        console.print(f"  {entry.get('file', path)}:{entry['line']}: {entry['error']}", highlight=False, soft_wrap=True)
    if result["rejected"] > rejected_shown:
        console.print(
            f"  … {result['rejected'] - rejected_shown:,} more; all rejected rows are in the quarantine table "
            f"(SELECT * FROM quarantine WHERE import_id = '{result['import_id']}')",
            soft_wrap=True,
        )


def run_import(
    entity: str,
    file: Path,
    preset: str,
    maps: list[str] | None,
    db: str | None,
    json_out: bool,
    **options: Any,
) -> None:
    from heedful.cli.common import existing_file, open_store
    from heedful.ingest import get_preset
    from heedful.ingest.mapping import parse_map_options
    from heedful.services import imports

    with user_errors():
        get_preset(entity, preset)  # an unknown preset is refused before the store is opened
        mapping = parse_map_options(maps)
        existing_file(file)
        store = open_store(db)
        bar = _RowProgress(f"Importing {file.name}", enabled=not json_out)
        try:
            result = imports.import_file(store, file, entity, preset, mapping, progress=bar, **options)
        finally:
            bar.close()
            store.close()
    document = result.to_dict()
    if json_out:
        emit_json(document)
    else:
        _print_result(document, entity, file)
    sys.stdout.flush()


FileArg = Annotated[
    Path, typer.Argument(help="File to import: .csv/.tsv/.txt (optionally .gz), .parquet, .xlsx, .jsonl/.ndjson.")
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Map a source column to a canonical field, e.g. --map 'Invoice No=order_id'. Repeatable; "
        "overrides the preset for that field.",
        show_default=False,
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option("--delimiter", help="CSV delimiter (default: detected). Use '\\t' for tabs.", show_default=False),
]
EncodingOption = Annotated[
    str | None,
    typer.Option(
        "--encoding",
        help="Text encoding of CSV / JSON Lines files, e.g. latin-1, cp1252, utf-16 (default: UTF-8, falling back "
        "to Latin-1 when the file is not valid UTF-8).",
        show_default=False,
    ),
]
SheetOption = Annotated[
    str | None, typer.Option("--sheet", help="Excel sheet name (default: the first sheet).", show_default=False)
]
DateFormatOption = Annotated[
    str | None,
    typer.Option(
        "--date-format",
        help="strftime format tried first for dates, e.g. '%d/%m/%Y %H:%M' (ISO 8601 and common formats are "
        "recognised without it).",
        show_default=False,
    ),
]
CommitEveryOption = Annotated[
    int | None,
    typer.Option(
        "--commit-every",
        help="Commit every N rows instead of once (bounds memory on files of many millions of rows; "
        "what was committed is deleted again if the import fails).",
        show_default=False,
        min=1,
    ),
]
SourceOption = Annotated[
    str | None,
    typer.Option("--source", help="Source name recorded on every row (default: the preset name).", show_default=False),
]


@app.command("orders", help=f"Import order lines. Fields: {_fields_help('orders')}. Presets: {_presets_help('orders')}")
def orders_cmd(
    file: FileArg,
    preset: Annotated[
        str, typer.Option("--preset", help="Export format: online-retail, shopify or generic.")
    ] = "generic",
    maps: MapOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    date_format: DateFormatOption = None,
    source: SourceOption = None,
    commit_every: CommitEveryOption = None,
) -> None:
    run_import(
        "orders",
        file,
        preset,
        maps,
        db,
        json_out,
        delimiter=delimiter,
        encoding=encoding,
        sheet=sheet,
        date_format=date_format,
        source_name=source,
        commit_every=commit_every,
    )


@app.command(
    "customers",
    help=f"Import customers, prospects, staff or partners. Fields: {_fields_help('customers')}. "
    f"Presets: {_presets_help('customers')}",
)
def customers_cmd(
    file: FileArg,
    preset: Annotated[str, typer.Option("--preset", help="Export format: generic or shopify.")] = "generic",
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Kind for rows without a kind column: customer, prospect, staff or partner (default customer; "
            "given explicitly it also updates known people).",
            show_default=False,
        ),
    ] = None,
    maps: MapOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    date_format: DateFormatOption = None,
    source: SourceOption = None,
    commit_every: CommitEveryOption = None,
) -> None:
    run_import(
        "customers",
        file,
        preset,
        maps,
        db,
        json_out,
        kind=kind,
        delimiter=delimiter,
        encoding=encoding,
        sheet=sheet,
        date_format=date_format,
        source_name=source,
        commit_every=commit_every,
    )


@app.command(
    "feedback",
    help=f"Import reviews, tickets and other texts. Fields: {_fields_help('feedback')}. "
    f"Presets: {_presets_help('feedback')}",
)
def feedback_cmd(
    file: FileArg,
    preset: Annotated[
        str,
        typer.Option("--preset", help="Export format: trustpilot, yelp, app-store, zendesk, glassdoor or generic."),
    ] = "generic",
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="Author kind when the file has none: customer, prospect, staff or partner (default: customer; "
            "staff for the glassdoor preset).",
            show_default=False,
        ),
    ] = None,
    maps: MapOption = None,
    db: DbOption = None,
    json_out: JsonOption = False,
    delimiter: DelimiterOption = None,
    encoding: EncodingOption = None,
    sheet: SheetOption = None,
    date_format: DateFormatOption = None,
    source: SourceOption = None,
    commit_every: CommitEveryOption = None,
) -> None:
    run_import(
        "feedback",
        file,
        preset,
        maps,
        db,
        json_out,
        kind=kind,
        delimiter=delimiter,
        encoding=encoding,
        sheet=sheet,
        date_format=date_format,
        source_name=source,
        commit_every=commit_every,
    )
