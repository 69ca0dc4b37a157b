"""`heedful backup` / `heedful restore`: consistent, portable snapshots of the whole store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.cli.ingest import user_errors


def backup_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Archive to write (zip of Parquet files + manifest).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a consistent snapshot of every table (one transaction) to a portable archive."""
    from heedful.store.backup import backup

    with user_errors(), open_store(db) as store:
        result = backup(store, out)
    doc = result.to_dict()
    if json_out:
        emit_json(doc)
    else:
        console.print(
            f"Backed up {doc['rows']:,} rows in {len(doc['tables'])} tables "
            f"(schema version {doc['schema_version']}) to {out}."
        )


def restore_cmd(
    archive: Annotated[Path, typer.Argument(help="Archive written by `heedful backup`.")],
    db: DbOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the content of a store that holds data.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Restore a backup into a store (checksums and row counts verified; one transaction)."""
    from heedful.store.backup import restore

    with user_errors(), open_store(db) as store:
        result = restore(store, archive, force=force)
    doc = result.to_dict()
    doc["path"] = str(archive)
    if json_out:
        emit_json(doc)
    else:
        console.print(f"Restored {doc['rows']:,} rows in {len(doc['tables'])} tables from {archive}.")
        if doc["nul_removed"]:
            console.print(
                f"{doc['nul_removed']:,} text values held a NUL character, which PostgreSQL cannot store: removed."
            )


def register(app: typer.Typer) -> None:
    """Add `backup` and `restore` to the root command."""
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
