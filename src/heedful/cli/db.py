"""`heedful db …`: create and upgrade the schema.

`db tables`, and `db migrate` with nothing to apply, answer through `heedful.store.light` (the bare
database driver) when the store is up to date: a trivial command should not wait for Ibis and pandas.
Anything else (a new file, pending migrations, a command run inside `heedful serve`) opens the full Store.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from heedful.cli.common import DbOption, JsonOption, open_store, serving_a_forwarded_command
from heedful.config import resolve_db_url
from heedful.errors import ConfigError, StoreInUse

if TYPE_CHECKING:
    from heedful.store.light import LightStore

app = typer.Typer(help="Create and upgrade the database schema.", no_args_is_help=True)


def open_light(db: str | None) -> LightStore | None:
    """The store at `db` read through the bare driver, or None where the full Store must open it.

    A DuckDB file held by another process raises StoreInUse, as `open_store` does (main() then runs the
    command through the server holding it)."""
    if serving_a_forwarded_command():
        return None  # the server's own store is lent to the command
    from heedful.store.light import open_light as open_bare

    url = resolve_db_url(db)
    try:
        return open_bare(url)
    except ConfigError as exc:
        from heedful.store.url import DatabaseURL

        location = DatabaseURL.parse(url)
        if location.dialect == "duckdb" and location.path and "lock" in str(exc).lower():
            raise StoreInUse(location.path, str(exc)) from exc
        raise


def _emit(document: dict[str, Any]) -> None:
    """`emit_json` for a document of plain str/int/list values (no numpy, so no need to import it)."""
    typer.echo(json.dumps(document, indent=2, ensure_ascii=False))


@app.command("migrate")
def migrate_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """Create the schema, or upgrade it to the newest version (safe to run again)."""
    light = open_light(db)
    if light is not None:  # every migration is applied already
        with light:
            versions = light.applied_versions() or set()
            url, applied, version = light.url, [], max(versions, default=0)
    else:
        from heedful.store.migrations import current_version, migrate

        store = open_store(db, migrate=False)
        applied = migrate(store)
        version = current_version(store)
        url = store.url
        store.close()
    if json_out:
        _emit({"url": url, "applied": applied, "version": version})
    elif applied:
        typer.echo(f"Applied migrations {applied}; schema is at version {version}.")
    else:
        typer.echo(f"Schema is up to date (version {version}).")


@app.command("tables")
def tables_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List the tables and their row counts."""
    light = open_light(db)
    store: Any = light if light is not None else open_store(db)
    try:
        counts = {t: store.count(t) for t in store.list_tables()}
    finally:
        store.close()
    if json_out:
        _emit(counts)
    else:
        for name, n in counts.items():
            typer.echo(f"{name:24} {n:>10,}")
