"""Store: the one object that talks to a database (DuckDB file, PostgreSQL server) through Ibis."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ibis
import pandas as pd
import pyarrow as pa

from heedful.errors import ConfigError, HeedfulError
from heedful.store.schema import TABLES_BY_NAME, Table
from heedful.store.url import DatabaseURL as DatabaseURL  # parsed without Ibis: `store.light` uses it too

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _KeyGuard:
    """Writers of tables whose key the Store keeps unique (DuckDB) take turns, per database in this process.

    The key check is a read of the table followed by an insert, so two connections to one DuckDB file
    could each miss the other's new rows. A writer holds `lock` from its first keyed write to the end
    of its transaction; `commits` counts the commits that wrote keyed rows, so a transaction whose
    snapshot predates another connection's keyed commit is refused instead of checking stale keys.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.commits = 0


_KEY_GUARDS: dict[str, _KeyGuard] = {}
_KEY_GUARDS_LOCK = threading.Lock()


def _key_guard(path: str | None) -> _KeyGuard:
    if path is None or path == ":memory:":
        return _KeyGuard()  # a private in-memory database: no other connection can see it
    key = str(Path(path).expanduser().resolve())
    with _KEY_GUARDS_LOCK:
        return _KEY_GUARDS.setdefault(key, _KeyGuard())


class Store:
    """A connection to heedful's store.

    `table(name)` gives an Ibis table for analyses; `insert_new` / `upsert` / `execute` write.
    Writes run in the caller's transaction when inside `with store.transaction():`.
    """

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.location = DatabaseURL.parse(url)
        self.dialect = self.location.dialect
        self._lock = threading.RLock()
        self._in_tx = 0
        self._keys = _key_guard(self.location.path)
        self._keys_held = False  # this transaction holds self._keys.lock (it wrote keyed rows)
        self._keys_seen = 0  # self._keys.commits when this transaction began
        self.ibis: Any = self._connect()
        if migrate:
            from heedful.store.migrations import migrate as run_migrations

            run_migrations(self)

    # ---------------------------------------------------------------- connection
    def _connect(self) -> Any:
        loc = self.location
        if loc.dialect == "duckdb":
            assert loc.path is not None
            if loc.path != ":memory:":
                parent = Path(loc.path).expanduser().resolve().parent
                if not parent.is_dir():
                    raise ConfigError(f"Folder {parent} for the DuckDB file does not exist.")
            try:
                return ibis.duckdb.connect(loc.path)
            except Exception as exc:  # duckdb.IOException: file locked by another process, etc.
                raise ConfigError(f"Cannot open DuckDB file {loc.path}: {exc}") from exc
        try:
            con = ibis.postgres.connect(
                host=loc.host,
                port=loc.port,
                user=loc.user or "postgres",
                password=loc.password,
                database=loc.database,
            )
        except Exception as exc:
            raise ConfigError(
                f"Cannot connect to PostgreSQL at {loc.host}:{loc.port}/{loc.database}: {exc}".strip()
            ) from exc
        raw = con.con
        raw.autocommit = True
        if loc.schema:
            with raw.cursor() as cur:
                cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{loc.schema}"')
                cur.execute(f'SET search_path TO "{loc.schema}"')
        return con

    # ---------------------------------------------------------------- what differs between backends
    # Callers ask these instead of comparing `dialect` themselves: dialect checks live only in store/.
    @property
    def embedded(self) -> bool:
        """True for DuckDB: one file that only this process writes, so a cache of stored rows stays true."""
        return self.dialect == "duckdb"

    def quiet(self) -> None:
        """Turn off the database's own progress output (DuckDB draws bars for long queries)."""
        if self.dialect == "duckdb":
            self.execute("SET enable_progress_bar = false")

    def quantile_sql(self, expression: str, q: float) -> str:
        """SQL for the continuous `q` quantile of `expression` (an aggregate) in this database's dialect."""
        if self.dialect == "duckdb":
            return f"quantile_cont({expression}, {float(q)!r})"
        return f"percentile_cont({float(q)!r}) WITHIN GROUP (ORDER BY {expression})"

    @contextmanager
    def exclusive(self, name: str) -> Iterator[Store]:
        """A transaction holding the lock called `name`: two holders of one name never interleave.

        PostgreSQL: an advisory transaction lock (across processes). DuckDB: the database file's lock in
        this process (one process writes a DuckDB file), the same one keyed writes take.
        """
        if self.dialect == "postgres":
            with self.transaction():
                key = int.from_bytes(hashlib.sha256(f"heedful:{name}".encode()).digest()[:8], "big", signed=True)
                self.fetchall("SELECT pg_advisory_xact_lock(?)", [key])
                yield self
            return
        with self._keys.lock, self.transaction():
            yield self

    @property
    def raw(self) -> Any:
        """The DB-API connection below Ibis (duckdb or psycopg)."""
        return self.ibis.con

    def close(self) -> None:
        with self._lock, contextlib.suppress(Exception):  # closing twice is harmless
            self.ibis.disconnect()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- reading
    def table(self, name: str) -> ibis.Table:
        """An Ibis table expression over a stored table."""
        if name not in self.list_tables():
            raise HeedfulError(f"Table {name!r} does not exist; run `heedful db migrate` first.")
        if self.dialect == "postgres" and self.location.schema:
            return self.ibis.table(name, database=self.location.schema)
        return self.ibis.table(name)

    def list_tables(self) -> list[str]:
        if self.dialect == "postgres":
            rows = self.fetchall(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
            )
            return sorted(r[0] for r in rows)
        rows = self.fetchall("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")
        return sorted(r[0] for r in rows)

    def _reconnect_if_dropped(self) -> bool:
        """PostgreSQL outside a transaction: replace a connection the server dropped (a restart, a
        failover, an idle timeout) with a new one. True when it did."""
        if self.dialect != "postgres" or self._in_tx or not (self.raw.closed or self.raw.broken):
            return False
        with contextlib.suppress(Exception):
            self.ibis.disconnect()
        self.ibis = self._connect()
        return True

    def _read(self, run: Any) -> Any:
        """A read, retried once on a fresh connection when the old one turns out to be dropped."""
        with self._lock:
            self._reconnect_if_dropped()
            try:
                return run()
            except Exception:
                if not self._reconnect_if_dropped():
                    raise
            return run()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
        """Run SQL (with `?` placeholders) and return a DataFrame."""

        def run() -> pd.DataFrame:
            if self.dialect == "duckdb":
                return self.raw.execute(sql, params or []).df()
            with self.raw.cursor() as cur:
                cur.execute(_pg_params(sql), params or None)
                if cur.description is None:
                    return pd.DataFrame()
                cols = [d.name for d in cur.description]
                return pd.DataFrame(cur.fetchall(), columns=cols)

        frame: pd.DataFrame = self._read(run)
        return frame

    def fetchall(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        def run() -> list[tuple[Any, ...]]:
            if self.dialect == "duckdb":
                return list(self.raw.execute(sql, params or []).fetchall())
            with self.raw.cursor() as cur:
                cur.execute(_pg_params(sql), params or None)
                return list(cur.fetchall()) if cur.description is not None else []

        rows: list[tuple[Any, ...]] = self._read(run)
        return rows

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> int:
        """Run one statement; returns the number of rows changed where the backend reports it.

        Not retried (a write may have happened); a dropped connection is replaced before the next use.
        """
        with self._lock:
            self._reconnect_if_dropped()
            if self.dialect == "duckdb":
                cur = self.raw.execute(sql, params or [])
                try:
                    row = cur.fetchone()
                except Exception:
                    return -1
                return int(row[0]) if row and isinstance(row[0], int) else -1
            with self.raw.cursor() as cur:
                cur.execute(_pg_params(sql), params or None)
                return int(cur.rowcount)

    # ---------------------------------------------------------------- writing
    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All writes inside commit together or not at all (nested uses join the outer one)."""
        with self._lock:
            if self._in_tx:
                self._in_tx += 1
                try:
                    yield self
                finally:
                    self._in_tx -= 1
                return
            self._begin()
            self._in_tx = 1
            try:
                yield self
            except BaseException:
                self._in_tx = 0
                try:
                    self._rollback()
                finally:
                    self._release_keys(committed=False)
                raise
            self._in_tx = 0
            try:
                self._commit()
            finally:
                self._release_keys(committed=True)

    def _begin(self) -> None:
        if self.dialect == "duckdb":
            self._keys_seen = self._keys.commits
            self.raw.execute("BEGIN TRANSACTION")
        else:
            with contextlib.suppress(Exception):  # a dropped connection shows itself on use: ping it first
                self.raw.execute("SELECT 1")
            self._reconnect_if_dropped()
            self.raw.autocommit = False

    def _commit(self) -> None:
        if self.dialect == "duckdb":
            self.raw.execute("COMMIT")
        else:
            self.raw.commit()
            self.raw.autocommit = True

    def _rollback(self) -> None:
        if self.dialect == "duckdb":
            self.raw.execute("ROLLBACK")
        elif not (self.raw.closed or self.raw.broken):  # a dropped connection has nothing to roll back
            self.raw.rollback()
            self.raw.autocommit = True

    @contextmanager
    def _keyed(self, table: str) -> Iterator[None]:
        """Run a keyed write in a transaction (the caller's, else its own) holding the database's key lock
        to the transaction's end."""
        if not self._in_tx:
            with self._keys.lock, self.transaction():  # the lock first: the snapshot then sees every keyed commit
                self._keys.lock.acquire()
                self._keys_held = True
                yield
            return
        if not self._keys_held:
            self._keys.lock.acquire()
            self._keys_held = True
            if self._keys.commits != self._keys_seen:
                raise HeedfulError(
                    f"Another connection to this database stored rows into keyed tables while this transaction "
                    f"was open, so its key check on {table!r} could miss them; the transaction was undone. Retry."
                )
        yield

    def _release_keys(self, *, committed: bool) -> None:
        if self._keys_held:
            if committed:
                self._keys.commits += 1
            self._keys_held = False
            self._keys.lock.release()

    def keeps_key(self, table: str) -> bool:
        """True when the Store, not the database, keeps `table`'s primary key unique (DuckDB `orders`)."""
        known = TABLES_BY_NAME.get(table)
        return known is not None and not known.declares_key(self.dialect)

    def insert_new_select(self, table: str, columns: Sequence[str], select: str, *, first_by: str) -> int:
        """Insert the rows of `select` (a SELECT giving `columns` and `first_by`) whose key is not stored yet.

        Where `select` repeats a key, the row with the smallest `first_by` is kept. Returns how many rows
        were inserted. On a table the database keys this is `ON CONFLICT DO NOTHING`; on one the Store
        keys (see `keeps_key`), one anti-join against the stored keys: one hash join per call instead
        of an index update per row. With `ON CONFLICT` the rows are inserted in `first_by` order, so the
        first of a repeated key is the one inserted: without the order, PostgreSQL inserted them in
        whatever order its plan produced, and kept a later line now and then.
        """
        col_list = ", ".join(_quote(c) for c in columns)
        with self._lock:
            if not self.keeps_key(table):
                return self.execute(
                    f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM ({select}) AS _hf_new "
                    f"ORDER BY _hf_new.{_quote(first_by)} ON CONFLICT DO NOTHING"
                )
            with self._keyed(table):
                return self.execute(_keyed_insert_sql(table, col_list, select, first_by))

    def insert_new(self, table: str, rows: pd.DataFrame | pa.Table) -> int:
        """Insert rows whose primary key is not stored yet; returns how many were inserted.

        Rows whose key (or a unique column) is already present are skipped: this is what makes
        re-imports and retried submissions idempotent.
        """
        return self._bulk_write(table, rows, on_conflict="nothing")

    def upsert(self, table: str, rows: pd.DataFrame | pa.Table) -> int:
        """Insert rows, replacing stored rows with the same primary key."""
        return self._bulk_write(table, rows, on_conflict="update")

    def replace_all(self, table: str, rows: pd.DataFrame | pa.Table) -> int:
        """Replace the whole content of a derived table in one transaction."""
        with self.transaction():
            self.execute(f"DELETE FROM {table}")
            return self._bulk_write(table, rows, on_conflict="update")

    def _bulk_write(self, table: str, rows: pd.DataFrame | pa.Table, on_conflict: str) -> int:
        spec = _table_spec(self, table)
        arrow = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
        if arrow.num_rows == 0:
            return 0
        cols = [c for c in arrow.column_names if c in spec]
        unknown = set(arrow.column_names) - set(spec)
        if unknown:
            raise HeedfulError(f"Columns {sorted(unknown)} are not in table {table!r}.")
        arrow = arrow.select(cols)
        if self.keeps_key(table):
            return self._keyed_write(table, arrow, cols, on_conflict)
        pk = TABLES_BY_NAME[table].primary_key if table in TABLES_BY_NAME else ()
        conflict = _conflict_clause(on_conflict, pk, cols)
        col_list = ", ".join(_quote(c) for c in cols)
        with self._lock:
            if self.dialect == "duckdb":
                with self.registered(arrow) as view:
                    cur = self.raw.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {view} {conflict}")
                    row = cur.fetchone()
                return int(row[0]) if row else 0
            return self._pg_copy_insert(table, arrow, cols, col_list, conflict)

    def _keyed_write(self, table: str, arrow: pa.Table, cols: list[str], on_conflict: str) -> int:
        """`insert_new` / `upsert` on a table whose key the Store keeps: set-based, under the key lock.

        New rows are those whose key is not stored; within `rows` the first of a repeated key wins
        (the last one for `upsert`, which first deletes the stored rows it replaces)."""
        pk = TABLES_BY_NAME[table].primary_key
        n = arrow.num_rows
        position = pa.array(range(n) if on_conflict == "nothing" else range(n, 0, -1), pa.int64())
        staged = arrow.append_column("_hf_pos", position)
        col_list = ", ".join(_quote(c) for c in cols)
        with self._lock, self.registered(staged) as view, self._keyed(table):
            if on_conflict != "nothing":
                keys = ", ".join(_quote(k) for k in pk)
                self.execute(f"DELETE FROM {table} WHERE ({keys}) IN (SELECT {keys} FROM {view})")
            return self.execute(_keyed_insert_sql(table, col_list, f"SELECT * FROM {view}", "_hf_pos"))

    @contextmanager
    def registered(self, rows: pa.Table) -> Iterator[str]:
        """DuckDB: `rows` readable in SQL under the returned view name while the block runs (no copy)."""
        view = f"_hf_stage_{uuid.uuid4().hex}"
        with self._lock:
            self.raw.register(view, rows)
            try:
                yield view
            except BaseException:
                with contextlib.suppress(Exception):  # an aborted transaction refuses it until rolled back
                    self.raw.unregister(view)
                raise
            self.raw.unregister(view)

    def _pg_copy_insert(self, table: str, arrow: pa.Table, cols: list[str], col_list: str, conflict: str) -> int:
        stage = f"_hf_stage_{uuid.uuid4().hex}"
        buf = io.StringIO()
        writer = csv.writer(buf)
        for record in arrow.to_pylist():
            writer.writerow([_pg_csv_value(record[c]) for c in cols])
        buf.seek(0)
        own_tx = not self._in_tx
        if own_tx:
            self._begin()
        try:
            with self.raw.cursor() as cur:
                cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP")
                with cur.copy(f"COPY {stage} ({col_list}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as copy:
                    while chunk := buf.read(1 << 20):
                        copy.write(chunk)
                cur.execute(f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM {stage} {conflict}")
                inserted = int(cur.rowcount)
                if not own_tx:
                    cur.execute(f"DROP TABLE {stage}")
        except BaseException:
            if own_tx:
                self._rollback()
            raise
        if own_tx:
            self._commit()
        return inserted

    def count(self, table: str) -> int:
        return int(self.fetchall(f"SELECT COUNT(*) FROM {table}")[0][0])


def _table_spec(store: Store, table: str) -> list[str]:
    if not _IDENT.match(table):
        raise HeedfulError(f"Invalid table name {table!r}.")
    if table in TABLES_BY_NAME:
        known: Table = TABLES_BY_NAME[table]
        return known.column_names + _extra_columns(store, table, known)
    return _db_columns(store, table)


def _extra_columns(store: Store, table: str, known: Table) -> list[str]:
    return [c for c in _db_columns(store, table) if c not in known.column_names]


def _db_columns(store: Store, table: str) -> list[str]:
    schema_filter = "current_schema()" if store.dialect == "postgres" else "'main'"
    rows = store.fetchall(
        "SELECT column_name FROM information_schema.columns "
        f"WHERE table_name = ? AND table_schema = {schema_filter} ORDER BY ordinal_position",
        [table],
    )
    return [r[0] for r in rows]


def _keyed_insert_sql(table: str, col_list: str, select: str, first_by: str) -> str:
    """INSERT of the rows of `select` whose key `table` does not hold yet, the first of a repeated key only.

    Rows with a NULL key part are passed on, so that the column's NOT NULL constraint refuses them."""
    pk = [_quote(k) for k in TABLES_BY_NAME[table].primary_key]
    keys = ", ".join(pk)
    stored = " AND ".join(f"_hf_old.{k} = _hf_new.{k}" for k in pk)
    null_key = " OR ".join(f"_hf_new.{k} IS NULL" for k in pk)
    return (
        f"INSERT INTO {table} ({col_list}) SELECT {col_list} FROM ({select}) AS _hf_new "
        f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS _hf_old WHERE {stored}) "
        f"AND (({keys}, {_quote(first_by)}) IN (SELECT {keys}, MIN({_quote(first_by)}) FROM ({select}) AS _hf_first "
        f"GROUP BY ALL) OR {null_key})"
    )


def _conflict_clause(on_conflict: str, pk: Sequence[str], cols: Sequence[str]) -> str:
    if on_conflict == "nothing":
        return "ON CONFLICT DO NOTHING"
    if not pk:
        raise HeedfulError("upsert needs a table with a primary key")
    updates = [c for c in cols if c not in pk]
    if not updates:
        return "ON CONFLICT DO NOTHING"
    sets = ", ".join(f"{_quote(c)} = EXCLUDED.{_quote(c)}" for c in updates)
    return f"ON CONFLICT ({', '.join(pk)}) DO UPDATE SET {sets}"


def _quote(name: str) -> str:
    return f'"{name}"'


def _pg_params(sql: str) -> str:
    """Portable `?` placeholders -> psycopg `%s` (literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _pg_csv_value(value: Any) -> Any:
    if value is None:
        return "\\N"
    if isinstance(value, float) and value != value:  # NaN
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def connect(url: str | None = None, *, migrate: bool = True) -> Store:
    """Open heedful's store. `url` defaults to HEEDFUL_DB, heedful.toml, then `duckdb:///heedful.duckdb`."""
    from heedful.config import resolve_db_url

    return Store(resolve_db_url(url), migrate=migrate)
