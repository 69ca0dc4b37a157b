"""Read-only answers for trivial commands, over the bare driver: no Ibis, no pandas.

`heedful db tables` and `heedful db migrate` with nothing to do only list tables, count rows and read the
schema version. Opening the full `Store` for that imports Ibis, pandas and PyArrow (about a second);
`open_light` answers with plain SQL through `duckdb` (or `psycopg` for PostgreSQL) instead, and gives
None wherever the full Store must open the database: a DuckDB file that does not exist yet, an in-memory
database, a schema never created, or migrations still to apply (the Store applies them on opening).

The SQL here is the Store's own (`Store.list_tables`, `Store.count`, `migrations.applied_versions`);
`tests/cli/test_db_light.py` checks both give the same answers on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from heedful.errors import ConfigError
from heedful.store.url import _IDENT, DatabaseURL


class LightStore:
    """A read-only connection to an up-to-date store: its tables, their row counts, its schema version."""

    def __init__(self, url: str, location: DatabaseURL, connection: Any) -> None:
        self.url = url
        self.location = location
        self.dialect = location.dialect
        self._con = connection

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows of one query (`?` placeholders)."""
        if self.dialect == "duckdb":
            return list(self._con.execute(sql, list(params or [])).fetchall())
        with self._con.cursor() as cur:
            cur.execute(sql.replace("%", "%%").replace("?", "%s"), list(params) if params else None)
            return list(cur.fetchall()) if cur.description is not None else []

    def _schema_filter(self) -> str:
        return "current_schema()" if self.dialect == "postgres" else "'main'"

    def list_tables(self) -> list[str]:
        """The tables (and views) of the store's schema, sorted, as `Store.list_tables` gives them."""
        rows = self.fetchall(
            f"SELECT table_name FROM information_schema.tables WHERE table_schema = {self._schema_filter()}"
        )
        return sorted(r[0] for r in rows)

    def count(self, table: str) -> int:
        if not _IDENT.match(table):
            raise ConfigError(f"Invalid table name {table!r}.")
        return int(self.fetchall(f"SELECT COUNT(*) FROM {table}")[0][0])

    def applied_versions(self) -> set[int] | None:
        """The migrations applied, or None where the store has no `schema_migrations` table yet."""
        if "schema_migrations" not in self.list_tables():
            return None
        return {int(r[0]) for r in self.fetchall("SELECT version FROM schema_migrations")}

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing twice is harmless
            self._con.close()

    def __enter__(self) -> LightStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _connect(location: DatabaseURL) -> Any:
    """The bare driver's connection, with the Store's error messages (a locked DuckDB file names the lock)."""
    if location.dialect == "duckdb":
        import duckdb

        assert location.path is not None
        try:
            return duckdb.connect(location.path)
        except Exception as exc:  # duckdb.IOException: file locked by another process, etc.
            raise ConfigError(f"Cannot open DuckDB file {location.path}: {exc}") from exc
    import psycopg

    try:
        con = psycopg.connect(
            host=location.host,
            port=location.port,
            user=location.user or "postgres",
            password=location.password,
            dbname=location.database,
            autocommit=True,
        )
    except Exception as exc:
        raise ConfigError(
            f"Cannot connect to PostgreSQL at {location.host}:{location.port}/{location.database}: {exc}".strip()
        ) from exc
    if location.schema:  # checked by DatabaseURL.parse: a plain identifier
        with con.cursor() as cur:
            cur.execute(f'SET search_path TO "{location.schema}"')
    return con


def open_light(url: str) -> LightStore | None:
    """A LightStore on `url` when the store exists with every migration applied, else None (open the Store).

    Raises ConfigError as `Store` does where the database cannot be opened (a DuckDB file held by another
    process: the message names the lock)."""
    from heedful.store.migrations import MIGRATIONS

    location = DatabaseURL.parse(url)
    if location.dialect == "duckdb" and (location.path in (None, ":memory:") or not Path(location.path).is_file()):
        return None  # the Store creates it
    light = LightStore(url, location, _connect(location))
    try:
        applied = light.applied_versions()
    except BaseException:
        light.close()
        raise
    if applied is None or not {m.version for m in MIGRATIONS} <= applied:
        light.close()
        return None
    return light
