"""`heedful db …`: create and upgrade the schema."""

from __future__ import annotations

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


@app.command("migrate")
def migrate_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create the schema, or upgrade it to the newest version (safe to run again)."""
    from heedful.store.migrations import current_version, migrate

    store = open_store(db, migrate=False)
    applied = migrate(store)
    version = current_version(store)
    if json_out:
        emit_json({"url": store.url, "applied": applied, "version": version})
    elif applied:
        console.print(f"Applied migrations {applied}; schema is at version {version}.")
    else:
        console.print(f"Schema is up to date (version {version}).")
    store.close()


@app.command("tables")
def tables_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List the tables and their row counts."""
    store = open_store(db)
    counts = {t: store.count(t) for t in store.list_tables()}
    if json_out:
        emit_json(counts)
    else:
        for name, n in counts.items():
            console.print(f"{name:24} {n:>10,}")
    store.close()
