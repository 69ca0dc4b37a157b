"""`import_file`: read a file, validate it in SQL, store good rows, quarantine bad ones — in one transaction.

A private in-memory DuckDB engine reads and validates the file as a stream of Arrow batches;
each batch is split into good rows (stored only where their id is new, which makes re-imports
add nothing: `Store.insert_new_select` / `insert_new`) and bad rows (stored in `quarantine` with
file, line, reason and raw content). The same code path serves a DuckDB file and a PostgreSQL
server as the store; a DuckDB store receives several validated batches at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from heedful.errors import InputError
from heedful.ingest.mapping import resolve
from heedful.ingest.presets import ENTITIES, Preset, get_preset
from heedful.ingest.sinks import BATCH_ROWS, SINKS, now
from heedful.ingest.sources import Source, _first_line, open_source
from heedful.ingest.sql import BATCH_VIEW, Plan, customers_plan, feedback_plan, orders_plan
from heedful.store import Store
from heedful.store.schema import CUSTOMER_KINDS

Progress = Callable[[int, int | None], None]
"""progress(rows_read_so_far, estimated_total_rows_or_None), called after every batch."""

QUARANTINE_REPORTED = 1000  # entries kept in ImportResult.quarantine; `rejected` has the full count


@dataclass
class ImportResult:
    """What one import did. `to_dict()` is the documented JSON shape."""

    import_id: str
    entity: str
    preset: str
    path: str
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    rows_read: int = 0
    file_hash: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "quarantine": [dict(q) for q in self.quarantine],
        }


def _engine() -> duckdb.DuckDBPyConnection:
    engine = duckdb.connect(":memory:")
    engine.execute("SET TimeZone = 'UTC'")
    engine.execute("SET preserve_insertion_order = true")
    engine.execute("SET memory_limit = '1GB'")
    engine.execute("SET enable_progress_bar = false")
    return engine


class _FileHasher(threading.Thread):
    """SHA-256 of the input, computed beside the import (hashlib releases the GIL)."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.digest: str | None = None

    def run(self) -> None:
        h = hashlib.sha256()
        try:
            with self.path.open("rb") as fh:
                while chunk := fh.read(1 << 22):
                    h.update(chunk)
            self.digest = h.hexdigest()
        except OSError:
            self.digest = None


def import_file(
    store: Store,
    path: str | Path,
    entity: str,
    preset: str = "generic",
    mapping: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    date_format: str | None = None,
    kind: str | None = None,
    source_name: str | None = None,
    commit_every: int | None = None,
    file_label: str | None = None,
) -> ImportResult:
    """Import `path` as `entity` ("orders", "customers" or "feedback") into `store`.

    `preset` names the export format (see `heedful.ingest.presets.PRESETS`); `mapping` maps source
    columns to canonical fields and overrides the preset. Bad rows go to the quarantine table;
    rows already stored count as duplicates. Everything commits together or not at all
    (`commit_every=N` commits every N rows to bound memory on very large files, deleting what was
    committed if the import then fails). `file_label` is what the records and messages call the file (default:
    its path): an upload is named as the user named it, never by the server's temporary path.
    """
    if entity not in ENTITIES:
        raise InputError(f"Unknown entity {entity!r}; use one of {', '.join(ENTITIES)}.")
    spec = get_preset(entity, preset)
    file = Path(path)
    if not file.exists():
        raise InputError(f"File not found: {file}")
    if not file.is_file():
        raise InputError(f"Not a file: {file}")
    if kind is not None and kind not in CUSTOMER_KINDS:
        raise InputError(f"Unknown kind {kind!r}; use one of {', '.join(CUSTOMER_KINDS)}.")
    formats = spec.date_formats if date_format is None else (date_format, *spec.date_formats)
    hasher = _FileHasher(file)
    hasher.start()
    options = {"delimiter": delimiter, "sheet": sheet}
    salvage = False  # the file is not valid UTF-8: see heedful.ingest.encodings
    tolerant = False
    while True:
        import_id = uuid.uuid4().hex
        result = ImportResult(import_id, entity, preset, file_label or str(file))
        started = now()
        engine = _engine()
        try:
            source = open_source(engine, file, encoding=encoding, tolerant=tolerant, salvage=salvage, **options)
            source.label = file_label or ""
            try:
                _run(
                    store,
                    engine,
                    source,
                    spec,
                    result,
                    mapping,
                    progress,
                    formats,
                    kind,
                    source_name or preset,
                    hasher,
                    commit_every,
                )
            finally:
                source.close()
        except (duckdb.Error, InputError) as exc:
            said = f"{exc} {exc.__cause__ or ''}".lower()  # a message shortened for people keeps the reader's cause
            if encoding is None and not salvage and "invalid unicode" in said:
                # not valid UTF-8: UTF-8 with a few corrupt records (set aside), else Windows-1252, the usual
                # other encoding of spreadsheet exports
                salvage = True
                continue
            if not tolerant and "csv error" in said:
                tolerant = True  # malformed records: read again, setting them aside in the quarantine
                continue
            _record_failure(store, result, started, file_label or str(file))
            if isinstance(exc, InputError):
                raise
            raise InputError(f"Cannot import {file}: {_first_line(exc)}") from exc
        except BaseException:
            _record_failure(store, result, started, file_label or str(file))
            raise
        finally:
            engine.close()
        break
    return result


def _record_failure(store: Store, result: ImportResult, started: datetime, file: str) -> None:
    """A failed import leaves nothing but an `imports` row saying it failed."""
    try:
        row = _imports_row(result, started, file, "failed")
        store.insert_new("imports", row)
    except Exception:  # the store itself may be the problem; the original error matters more
        pass


def _imports_row(result: ImportResult, started: datetime, file: str, status: str) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "import_id": result.import_id,
                "entity": result.entity,
                "preset": result.preset,
                "source_file": file,
                "file_hash": result.file_hash,
                "started_at": started,
                "finished_at": now(),
                "accepted": result.accepted,
                "rejected": result.rejected,
                "duplicates": result.duplicates,
                "status": status,
            }
        ]
    )


def _plan(
    source: Source,
    spec: Preset,
    mapping: Mapping[str, str] | None,
    formats: tuple[str, ...],
    kind: str | None,
    source_name: str,
    import_id: str,
) -> Plan:
    fields = resolve(spec, source.columns, mapping, path=source.shown)
    common: dict[str, Any] = {"source_name": source_name, "import_id": import_id, "formats": formats}
    if spec.entity == "orders":
        cancelled = None
        if spec.cancelled_column:
            from heedful.ingest.mapping import _find

            cancelled = _find(source.columns, spec.cancelled_column)
        return orders_plan(source, fields, spec, cancelled_column=cancelled, **common)
    default_kind = kind or str(spec.constants.get("author_kind" if spec.entity == "feedback" else "kind", "customer"))
    if spec.entity == "feedback":
        return feedback_plan(source, fields, spec, default_kind=default_kind, **common)
    return customers_plan(source, fields, spec, default_kind=default_kind, **common)


def _run(
    store: Store,
    engine: duckdb.DuckDBPyConnection,
    source: Source,
    spec: Preset,
    result: ImportResult,
    mapping: Mapping[str, str] | None,
    progress: Progress | None,
    formats: tuple[str, ...],
    kind: str | None,
    source_name: str,
    hasher: _FileHasher,
    commit_every: int | None = None,
) -> None:
    started = now()
    plan = _plan(source, spec, mapping, formats, kind, source_name, result.import_id)
    try:
        reader = engine.sql(plan.source_sql).to_arrow_reader(BATCH_ROWS)
    except duckdb.Error as exc:
        raise InputError(f"Cannot read {source.shown}: {_first_line(exc)}") from exc
    validator = engine.cursor()  # its own connection: the reader's query stays open on `engine`

    def validate(batch: pa.RecordBatch) -> pa.Table:
        # Two record batches: DuckDB scans one per thread, so a batch is validated on both cores.
        half = -(-batch.num_rows // 2)
        validator.register(BATCH_VIEW, pa.Table.from_batches([batch.slice(0, half), batch.slice(half)]))
        try:
            return validator.sql(plan.sql).to_arrow_table()
        finally:
            validator.unregister(BATCH_VIEW)

    sink = SINKS[spec.entity](
        store,
        result,
        plan,
        kind_explicit=kind is not None or "kind" in (mapping or {}).values(),
        batch_rows=BATCH_ROWS,
    )
    store.quiet()
    with _Transactions(store, result, commit_every, sink.flush) as tx, _Prefetch(reader, validate) as batches:
        if source.rejects:
            lines, raws, errors = zip(*source.rejects, strict=True)
            rejected = pa.table({"source_line": pa.array(lines, pa.int64()), "_error": errors, "_raw": raws})
            _quarantine(store, result, rejected, source.shown)
        for table in batches:
            result.rows_read += table.num_rows
            bad_mask = pc.is_valid(table.column("_error"))
            n_bad = pc.sum(bad_mask).as_py() or 0
            if n_bad:
                bad = table.select(["source_line", "_error", "_raw"]).filter(bad_mask)
                _quarantine(store, result, bad, source.shown)
            if store.embedded:  # stored together, read in place from the registered Arrow batches
                sink.add_pending(table, table.num_rows - n_bad)
            else:
                sink.add(table.filter(pc.invert(bad_mask)) if n_bad else table)
            tx.stored(table.num_rows)
            if progress is not None:
                progress(result.rows_read, source.estimated_rows)
        sink.flush()
        sink.finish()
        hasher.join()
        result.file_hash = hasher.digest
        store.insert_new("imports", _imports_row(result, started, source.shown, "done"))


class _Transactions:
    """One transaction for the whole import — or, with `commit_every`, one per that many rows.

    Chunked commits bound the memory a very large import needs (DuckDB keeps an open
    transaction's rows and index changes in memory). If such an import fails, the rows it already
    committed are deleted again, so it still stores all or nothing (but others may see it happen).
    """

    def __init__(
        self, store: Store, result: ImportResult, commit_every: int | None, before_commit: Callable[[], None]
    ) -> None:
        self.store = store
        self.result = result
        self.commit_every = commit_every
        self.before_commit = before_commit
        self.pending = 0
        self.committed_any = False
        self.current: contextlib.AbstractContextManager[Store] | None = None

    def __enter__(self) -> _Transactions:
        self.current = self.store.transaction()
        self.current.__enter__()
        return self

    def stored(self, rows: int) -> None:
        self.pending += rows
        if self.commit_every and self.pending >= self.commit_every and self.current is not None:
            self.before_commit()
            self.current.__exit__(None, None, None)
            self.committed_any = True
            self.pending = 0
            self.current = self.store.transaction()
            self.current.__enter__()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        assert self.current is not None
        self.current.__exit__(exc_type, exc, tb)
        if exc_type is not None and self.committed_any:
            tables = ("orders", "feedback", "quarantine")
            try:
                with self.store.transaction():
                    for table in tables:
                        self.store.execute(f"DELETE FROM {table} WHERE import_id = ?", [self.result.import_id])
            except Exception as cleanup:  # e.g. out of memory again: say exactly what is left behind
                statements = "; ".join(f"DELETE FROM {t} WHERE import_id = '{self.result.import_id}'" for t in tables)
                raise InputError(
                    f"Import {self.result.import_id} failed ({exc}) and the rows it had committed could not be "
                    f"removed ({cleanup}). Remove them with: {statements}"
                ) from exc


class _Prefetch:
    """Read and validate the next batch in a thread while the current one is stored (DuckDB releases the GIL)."""

    def __init__(
        self, reader: pa.RecordBatchReader, validate: Callable[[pa.RecordBatch], pa.Table], depth: int = 2
    ) -> None:
        self.reader = reader
        self.validate = validate
        self.queue: queue.Queue[pa.Table | BaseException | None] = queue.Queue(maxsize=depth)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._produce, daemon=True)

    def _produce(self) -> None:
        try:
            for batch in _duckdb_errors(self.reader):
                if self.stop.is_set():
                    return
                self.queue.put(self.validate(batch))
            self.queue.put(None)
        except BaseException as exc:
            self.queue.put(exc)

    def __enter__(self) -> Iterator[pa.Table]:
        self.thread.start()
        return self._iterate()

    def _iterate(self) -> Iterator[pa.Table]:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        while self.thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)
        self.thread.join()


def _duckdb_errors(reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
    """The reader's batches; an error DuckDB meets while streaming (past the sample the file was opened with,
    e.g. invalid UTF-8 or a malformed record on line 250,000) reaches pyarrow as OSError and is raised again
    as the duckdb.Error it was, so the import retries it like one found at once."""
    batches = iter(reader)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except OSError as exc:
            raise duckdb.Error(str(exc)) from exc
        yield batch


def _quarantine(store: Store, result: ImportResult, bad: pa.Table, file: str) -> None:
    n = bad.num_rows
    frame = pa.table(
        {
            "import_id": pa.array([result.import_id] * n, pa.string()),
            "source_file": pa.array([file] * n, pa.string()),
            "line": bad.column("source_line").cast(pa.int64()),
            "error": bad.column("_error"),
            "raw": bad.column("_raw"),
            "created_at": pa.array([now()] * n, pa.timestamp("us")),
        }
    )
    store.insert_new("quarantine", frame)
    result.rejected += n
    room = QUARANTINE_REPORTED - len(result.quarantine)
    if room > 0:
        lines = bad.column("source_line").slice(0, room).to_pylist()
        errors = bad.column("_error").slice(0, room).to_pylist()
        result.quarantine.extend(
            {"line": ln, "error": err, "file": file} for ln, err in zip(lines, errors, strict=True)
        )
