"""Backup and restore: a consistent, portable snapshot of the whole store.

The archive is a zip file holding one Parquet file per table (every table of the store, including
`schema_migrations`) and `manifest.json` with, per table, its row count, its columns and their
portable types, and the SHA-256 of its Parquet file, plus the schema version. All tables are read in
one transaction (DuckDB: one MVCC snapshot; PostgreSQL: REPEATABLE READ), so the snapshot is
consistent even while the app writes. The format is the same for every backend: a backup taken
from PostgreSQL restores into DuckDB and the other way round.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from heedful.errors import HeedfulError, InputError
from heedful.store.backend import _IDENT, Store
from heedful.store.schema import SQL_TYPES, TABLES_BY_NAME

FORMAT = "heedful-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH_ROWS = 100_000

# Portable type names (schema.py) -> Arrow types.
_ARROW: dict[str, pa.DataType] = {
    "text": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
}


@dataclass
class TableEntry:
    table: str
    rows: int
    sha256: str
    columns: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "rows": self.rows, "sha256": self.sha256, "columns": self.columns}


@dataclass
class BackupResult:
    path: str
    dialect: str
    schema_version: int
    tables: list[TableEntry] = field(default_factory=list)
    # text values whose NUL characters were removed on the way into PostgreSQL (which cannot store them)
    nul_removed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "dialect": self.dialect,
            "schema_version": self.schema_version,
            "tables": {t.table: t.rows for t in self.tables},
            "rows": sum(t.rows for t in self.tables),
            "nul_removed": self.nul_removed,
        }


def _without_nul(data: pa.Table) -> tuple[pa.Table, int]:
    """`data` with NUL characters removed from its text columns, and how many values held one."""
    import pyarrow.compute as pc

    removed = 0
    for i, column in enumerate(data.columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            held = pc.sum(pc.match_substring(column, "\x00")).as_py() or 0
            if held:
                removed += held
                data = data.set_column(i, data.field(i), pc.replace_substring(column, "\x00", ""))
    return data, removed


def _portable_type(sql_type: str) -> str:
    t = sql_type.lower()
    if "timestamp" in t:
        return "timestamp"
    if t == "date":
        return "date"
    if t in ("bigint", "integer", "int", "int4", "int8", "smallint", "hugeint", "tinyint", "ubigint", "uinteger"):
        return "int"
    if t in ("double", "double precision", "real", "float", "numeric", "decimal") or t.startswith(
        ("decimal", "numeric")
    ):
        return "float"
    if t == "boolean":
        return "bool"
    return "text"


def _columns(store: Store, table: str) -> list[dict[str, Any]]:
    schema_filter = "current_schema()" if store.dialect == "postgres" else "'main'"
    rows = store.fetchall(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        f"WHERE table_name = ? AND table_schema = {schema_filter} ORDER BY ordinal_position",
        [table],
    )
    known = {c.name: c.type for c in TABLES_BY_NAME[table].columns} if table in TABLES_BY_NAME else {}
    return [
        {"name": name, "type": known.get(name) or _portable_type(str(dtype)), "nullable": str(nullable) == "YES"}
        for name, dtype, nullable in rows
    ]


def _arrow_schema(columns: list[dict[str, Any]]) -> pa.Schema:
    return pa.schema([pa.field(c["name"], _ARROW[c["type"]]) for c in columns])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _batches(store: Store, table: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    cols = ", ".join(f'"{f.name}"' for f in schema)
    sql = f"SELECT {cols} FROM {table}"
    if store.dialect == "duckdb":
        reader = store.raw.sql(sql).to_arrow_reader(BATCH_ROWS)
        for batch in reader:
            yield from pa.Table.from_batches([batch]).cast(schema).to_batches()
        return
    with store.raw.cursor() as cur:
        cur.execute(sql)
        while rows := cur.fetchmany(BATCH_ROWS):
            data = {f.name: [r[i] for r in rows] for i, f in enumerate(schema)}
            yield pa.RecordBatch.from_pydict(data, schema=schema)


def _begin_snapshot(store: Store) -> None:
    if store.dialect == "duckdb":
        store.raw.execute("BEGIN TRANSACTION")
    else:
        store.raw.autocommit = False
        with store.raw.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")


def _end_snapshot(store: Store) -> None:
    if store.dialect == "duckdb":
        store.raw.execute("ROLLBACK")
    else:
        store.raw.rollback()
        store.raw.autocommit = True


def backup(store: Store, out: str | Path) -> BackupResult:
    """Write a consistent snapshot of every table of `store` to the zip archive `out`."""
    out = Path(out)
    if out.parent and not out.parent.exists():
        raise InputError(f"Folder {out.parent} for the backup does not exist.")
    result = BackupResult(path=str(out), dialect=store.dialect, schema_version=0)
    with tempfile.TemporaryDirectory(prefix="heedful-backup-", dir=out.parent) as tmp, store._lock:
        _begin_snapshot(store)
        try:
            version = store.fetchall("SELECT MAX(version) FROM schema_migrations")[0][0]
            result.schema_version = int(version or 0)
            for table in store.list_tables():
                if table.startswith("_hf_"):
                    continue  # staging tables of an in-flight write
                columns = _columns(store, table)
                schema = _arrow_schema(columns)
                path = Path(tmp) / f"{table}.parquet"
                rows = 0
                with pq.ParquetWriter(path, schema, compression="zstd") as writer:
                    for batch in _batches(store, table, schema):
                        rows += batch.num_rows
                        writer.write_batch(batch)
                result.tables.append(TableEntry(table, rows, _sha256(path), columns))
        finally:
            _end_snapshot(store)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dialect": store.dialect,
            "schema_version": result.schema_version,
            "tables": [t.to_dict() for t in result.tables],
        }
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=2))
            for t in result.tables:
                zf.write(Path(tmp) / f"{t.table}.parquet", f"tables/{t.table}.parquet")
        os.replace(partial, out)  # the archive appears whole or not at all
    return result


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a backup archive (format checked)."""
    try:
        with zipfile.ZipFile(path) as zf:
            manifest: dict[str, Any] = json.loads(zf.read(MANIFEST))
    except (OSError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not a heedful backup: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise InputError(f"{path} is not a heedful backup (format {manifest.get('format')!r}).")
    if int(manifest.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(f"{path} was written by a newer heedful (backup format {manifest['format_version']}).")
    return manifest


def _data_tables(store: Store) -> list[str]:
    return [t for t in store.list_tables() if t != "schema_migrations" and not t.startswith("_hf_")]


def nonempty_tables(store: Store) -> dict[str, int]:
    """Tables holding rows (schema_migrations aside): a restore into these needs --force."""
    counts = {t: store.count(t) for t in _data_tables(store)}
    return {t: n for t, n in counts.items() if n}


def _create_table(store: Store, table: str, columns: list[dict[str, Any]]) -> None:
    if table in TABLES_BY_NAME:
        store.execute(TABLES_BY_NAME[table].ddl(store.dialect))
        existing = {c["name"].lower() for c in _columns(store, table)}
        for col in columns:
            if col["name"].lower() not in existing:
                sql_type = SQL_TYPES[col["type"]][0 if store.dialect == "duckdb" else 1]
                store.execute(f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{col["name"]}" {sql_type}')
        return
    body = ", ".join(f'"{c["name"]}" {SQL_TYPES[c["type"]][0 if store.dialect == "duckdb" else 1]}' for c in columns)
    store.execute(f"CREATE TABLE IF NOT EXISTS {table} ({body})")


def restore(store: Store, path: str | Path, *, force: bool = False) -> BackupResult:
    """Restore a backup archive into `store`, checking every table's checksum and row count.

    Refuses a store that already holds data unless `force` (then its tables are emptied first).
    Everything is written in one transaction: a failed restore leaves the store as it was.
    """
    from heedful.store.migrations import MIGRATIONS, current_version, migrate

    manifest = read_manifest(path)
    known = max(m.version for m in MIGRATIONS)
    if int(manifest["schema_version"]) > known:
        raise InputError(
            f"The backup has schema version {manifest['schema_version']}, newer than this heedful ({known}); "
            "upgrade heedful first."
        )
    full = nonempty_tables(store)
    if full and not force:
        listed = ", ".join(f"{t} ({n} rows)" for t, n in sorted(full.items()))
        raise InputError(f"The target store is not empty: {listed}. Use --force to replace its content.")
    result = BackupResult(path=str(path), dialect=store.dialect, schema_version=int(manifest["schema_version"]))
    with tempfile.TemporaryDirectory(prefix="heedful-restore-") as tmp, zipfile.ZipFile(path) as zf:
        for entry in manifest["tables"]:
            name = f"tables/{entry['table']}.parquet"
            try:
                zf.extract(name, tmp)
            except KeyError as exc:
                raise InputError(f"The backup lacks {name}.") from exc
            if _sha256(Path(tmp) / name) != entry["sha256"]:
                raise InputError(f"Checksum mismatch for table {entry['table']}: the backup is damaged.")
        with store.transaction():
            for table in _data_tables(store) if force else []:
                store.execute(f"DELETE FROM {table}")
            store.execute("DELETE FROM schema_migrations")
            for entry in manifest["tables"]:
                table = entry["table"]
                if not _IDENT.match(table):
                    raise InputError(f"Invalid table name {table!r} in the backup.")
                _create_table(store, table, entry["columns"])
                parquet = pq.ParquetFile(Path(tmp) / f"tables/{table}.parquet")
                if parquet.metadata.num_rows != entry["rows"]:
                    raise InputError(
                        f"Table {table}: {parquet.metadata.num_rows} rows in the file, manifest says {entry['rows']}."
                    )
                # PostgreSQL folds unquoted names to lower case (customer_value.T is t there).
                target = {c["name"].lower(): c["name"] for c in _columns(store, table)}
                names = [target.get(n.lower(), n) for n in parquet.schema_arrow.names]
                for batch in parquet.iter_batches(BATCH_ROWS):  # bounded memory on large tables
                    if batch.num_rows:
                        data = pa.Table.from_batches([batch]).rename_columns(names)
                        if store.dialect == "postgres":  # DuckDB stores NUL characters; PostgreSQL refuses them
                            data, removed = _without_nul(data)
                            result.nul_removed += removed
                        store.insert_new(table, data)
                stored = store.count(table)
                if stored != entry["rows"]:
                    raise HeedfulError(f"Table {table}: {stored} rows after restore, the backup has {entry['rows']}.")
                result.tables.append(TableEntry(table, stored, entry["sha256"], entry["columns"]))
    migrate(store)  # a backup from an older heedful gets this version's migrations (all idempotent)
    result.schema_version = current_version(store)
    return result
