"""Where an import's validated rows go: one sink per entity (orders, feedback, customers).

A sink stores the good rows of each validated batch (only ids not stored yet), and when the file is read
`finish` derives what follows from them (a customer row for every new customer id of orders and feedback;
merged updates of known customers). An embedded store (DuckDB) keeps several batches pending and stores
them with one `INSERT … SELECT` from the registered Arrow data; a server store gets each batch as it comes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from heedful.ingest.sql import Plan
from heedful.store import Store

if TYPE_CHECKING:
    from heedful.ingest.importer import ImportResult

BATCH_ROWS = 122_880  # one DuckDB row group
FLUSH_MAX_ROWS = 8 * BATCH_ROWS
"""At most this many validated rows wait in memory to be stored together in a DuckDB store."""


def now() -> datetime:
    """The current UTC time, naive (as the store keeps timestamps)."""
    return datetime.now(UTC).replace(tzinfo=None)


class Sink:
    """Stores one entity's good rows batch by batch and counts accepted and duplicate rows."""

    table_name = ""

    def __init__(
        self, store: Store, result: ImportResult, plan: Plan, *, kind_explicit: bool, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.store = store
        self.result = result
        self.plan = plan
        self.kind_explicit = kind_explicit
        self.batch_rows = batch_rows  # rows per validated batch: the smallest store
        self.pending: list[pa.Table] = []  # validated batches not stored yet (DuckDB stores)
        self.pending_good = 0
        self.pending_rows = 0  # with the bad ones, which DuckDB filters out when storing
        self.stored_before: int | None = None

    def rows(self, good: pa.Table) -> pa.Table:
        rows = good.select(self.plan.output_columns)
        for name, value in self.plan.constants.items():
            rows = rows.append_column(name, pa.array([value] * rows.num_rows, pa.string()))
        return rows

    @property
    def stored_columns(self) -> list[str]:
        """The entity table's columns an import writes: the plan's outputs, then the provenance constants."""
        return [*self.plan.output_columns, *self.plan.constants]

    def select_sql(self, view: str) -> str:
        """SELECT of `stored_columns` from a registered batch's good rows (the constants as literals)."""
        values = [f'"{c}"' for c in self.plan.output_columns]
        values += ["'" + v.replace("'", "''") + f'\' AS "{k}"' for k, v in self.plan.constants.items()]
        return f"SELECT {', '.join(values)} FROM {view} WHERE _error IS NULL"

    def add(self, good: pa.Table) -> None:
        """Store the good rows of a batch (any store), in file order: the batch is validated on both cores,
        whose halves may come back either way round, and where a line repeats the first one is kept."""
        if good.num_rows == 0:
            return
        if "source_line" in good.column_names:
            good = good.sort_by("source_line")
        inserted = self.store.insert_new(self.table_name, self.rows(good))
        self._count(inserted, good.num_rows)
        self.collect(good)

    def add_pending(self, batch: pa.Table, n_good: int) -> None:
        """DuckDB stores: keep validated batches until `flush_rows` rows wait, then store their good rows."""
        if n_good:
            self.pending.append(batch)
            self.pending_good += n_good
            self.pending_rows += batch.num_rows
        if self.pending_rows >= self.flush_rows():
            self.flush()

    def flush_rows(self) -> int:
        """Rows to store at once. Where the Store keeps the key, each store scans the stored keys
        once: on a large table, larger stores (up to FLUSH_MAX_ROWS) keep that scan to about 1/8 of
        the rows stored; on a small one, storing each batch at once overlaps best with validation."""
        if not self.store.keeps_key(self.table_name):
            return self.batch_rows
        if self.stored_before is None:
            self.stored_before = self.store.count(self.table_name)
        stored = self.stored_before + self.result.accepted
        return min(FLUSH_MAX_ROWS, max(self.batch_rows, stored // 8))

    def flush(self) -> None:
        """Store the good rows of the pending batches (DuckDB reads them in place and filters them itself)."""
        if not self.pending:
            return
        batches, n_good = pa.concat_tables(self.pending), self.pending_good
        self.pending, self.pending_good, self.pending_rows = [], 0, 0
        with self.store.registered(batches) as view:
            self.add_view(view, n_good)

    def add_view(self, view: str, n_good: int) -> None:
        """Store the good rows of validated batches registered as `view` in a DuckDB store."""
        if n_good == 0:
            return
        select = self.select_sql(view)
        inserted = self.store.insert_new_select(self.table_name, self.stored_columns, select, first_by="source_line")
        self._count(inserted, n_good)
        self.collect_view(view)

    def _count(self, inserted: int, good: int) -> None:
        self.result.accepted += inserted
        self.result.duplicates += good - inserted

    def collect(self, good: pa.Table) -> None:
        """Keep what `finish` needs from the good rows of a batch."""

    def collect_view(self, view: str) -> None:
        """Like `collect`, for a batch registered in a DuckDB store."""

    def finish(self) -> None:
        pass


class OrdersSink(Sink):
    """Order lines; afterwards, a customer row for every customer id seen (created if new)."""

    table_name = "orders"

    def __init__(
        self, store: Store, result: ImportResult, plan: Plan, *, kind_explicit: bool, batch_rows: int = BATCH_ROWS
    ) -> None:
        super().__init__(store, result, plan, kind_explicit=kind_explicit, batch_rows=batch_rows)
        self.customers: list[pd.DataFrame] = []

    AGG_SQL = (
        "SELECT customer_id, MIN(ordered_at) AS first_seen_at, arg_min_null(country, source_line) AS country, "
        "arg_min_null(_email, source_line) AS email, arg_min_null(_name, source_line) AS name, "
        "MIN(source_line) AS source_line FROM {view} "
        "WHERE _error IS NULL AND customer_id IS NOT NULL GROUP BY customer_id"
    )

    def collect(self, good: pa.Table) -> None:
        with_id = good.filter(pc.is_valid(good.column("customer_id")))
        if with_id.num_rows:
            part = with_id.select(
                ["customer_id", "ordered_at", "country", "_email", "_name", "source_line"]
            ).to_pandas()
            self.customers.append(
                part.groupby("customer_id", sort=False).agg(
                    first_seen_at=("ordered_at", "min"),
                    country=("country", "first"),
                    email=("_email", "first"),
                    name=("_name", "first"),
                    source_line=("source_line", "min"),
                )
            )

    def collect_view(self, view: str) -> None:
        self.customers.append(self.store.query(self.AGG_SQL.format(view=view)).set_index("customer_id"))

    def finish(self) -> None:
        if not self.customers:
            return
        agg = (
            pd.concat(self.customers)
            .groupby(level=0)
            .agg(
                first_seen_at=("first_seen_at", "min"),
                country=("country", "first"),
                email=("email", "first"),
                name=("name", "first"),
                source_line=("source_line", "min"),
            )
        )
        _create_customers(self.store, self.result, agg.reset_index(), "customer")
        self.store.execute(
            "UPDATE customers SET first_seen_at = o.first_order FROM "
            "(SELECT customer_id, MIN(ordered_at) AS first_order FROM orders WHERE import_id = ? "
            "GROUP BY customer_id) AS o WHERE customers.customer_id = o.customer_id "
            "AND (customers.first_seen_at IS NULL OR customers.first_seen_at > o.first_order)",
            [self.result.import_id],
        )


class FeedbackSink(Sink):
    """Feedback items; authors with a customer id get a customer row (their author kind) if new."""

    table_name = "feedback"

    def __init__(
        self, store: Store, result: ImportResult, plan: Plan, *, kind_explicit: bool, batch_rows: int = BATCH_ROWS
    ) -> None:
        super().__init__(store, result, plan, kind_explicit=kind_explicit, batch_rows=batch_rows)
        self.customers: list[pd.DataFrame] = []

    def collect(self, good: pa.Table) -> None:
        with_id = good.filter(pc.is_valid(good.column("customer_id")))
        if with_id.num_rows:
            part = with_id.select(["customer_id", "author_kind", "created_at", "source_line"]).to_pandas()
            self.customers.append(
                part.groupby("customer_id", sort=False).agg(
                    kind=("author_kind", "first"),
                    first_seen_at=("created_at", "min"),
                    source_line=("source_line", "min"),
                )
            )

    def collect_view(self, view: str) -> None:
        self.customers.append(
            self.store.query(
                "SELECT customer_id, arg_min_null(author_kind, source_line) AS kind, MIN(created_at) AS first_seen_at, "
                f"MIN(source_line) AS source_line FROM {view} WHERE _error IS NULL AND customer_id IS NOT NULL "
                "GROUP BY customer_id"
            ).set_index("customer_id")
        )

    def finish(self) -> None:
        if self.customers:
            agg = (
                pd.concat(self.customers)
                .groupby(level=0)
                .agg(kind=("kind", "first"), first_seen_at=("first_seen_at", "min"), source_line=("source_line", "min"))
            )
            _create_customers(self.store, self.result, agg.reset_index(), None)


def _create_customers(store: Store, result: ImportResult, frame: pd.DataFrame, kind: str | None) -> None:
    rows = frame.copy()
    if kind is not None:
        rows["kind"] = kind
    rows["created_at"] = now()
    rows["source"] = result.preset
    rows["source_file"] = Path(result.path).name
    rows["import_id"] = result.import_id
    store.insert_new("customers", rows)


class CustomersSink(Sink):
    """Customer rows: new ids are inserted; known ids get the file's non-empty values.

    Rows that would change nothing count as duplicates. The kind of a known customer changes only
    when the file or `--kind` says so explicitly.
    """

    table_name = "customers"
    COMPARED = ("kind", "name", "email", "phone", "company", "country", "city", "attributes", "first_seen_at")

    def __init__(
        self, store: Store, result: ImportResult, plan: Plan, *, kind_explicit: bool, batch_rows: int = BATCH_ROWS
    ) -> None:
        super().__init__(store, result, plan, kind_explicit=kind_explicit, batch_rows=batch_rows)
        self.parts: list[pd.DataFrame] = []

    def add(self, good: pa.Table) -> None:
        if good.num_rows:
            self.parts.append(self.rows(good).to_pandas())

    def add_view(self, view: str, n_good: int) -> None:
        if n_good:
            self.parts.append(self.store.query(self.select_sql(view)))

    def finish(self) -> None:
        if not self.parts:
            return
        rows = pd.concat(self.parts, ignore_index=True)
        total = len(rows)
        rows = rows.drop_duplicates("customer_id", keep="last")
        self.result.duplicates += total - len(rows)
        rows["created_at"] = now()
        existing = _existing_customers(self.store, rows["customer_id"].tolist())
        new = rows[~rows["customer_id"].isin(existing.index)]
        if len(new):
            self.result.accepted += self.store.insert_new("customers", new)
        known = rows[rows["customer_id"].isin(existing.index)].set_index("customer_id")
        if known.empty:
            return
        old = existing.loc[known.index]
        merged = old.copy()
        for col in self.COMPARED:
            if col == "kind" and not self.kind_explicit:
                continue
            incoming = known[col]
            if col == "first_seen_at":
                both = pd.concat([old[col], incoming], axis=1)
                merged[col] = both.min(axis=1)
            elif col == "attributes":
                merged[col] = [_merge_json(o, n) for o, n in zip(old[col], incoming, strict=True)]
            else:
                merged[col] = incoming.where(incoming.notna(), old[col])
        changed = pd.Series(False, index=merged.index)
        for col in self.COMPARED:
            a, b = merged[col], old[col]
            changed |= ~((a == b) | (a.isna() & b.isna()))
        self.result.duplicates += int((~changed).sum())
        updates = merged[changed].copy()
        if len(updates):
            for col in ("source", "source_file", "source_line", "import_id"):
                updates[col] = known.loc[updates.index, col]
            self.store.upsert("customers", updates.reset_index())
            self.result.accepted += len(updates)


def _merge_json(old: Any, new: Any) -> Any:
    if new is None or (isinstance(new, float) and pd.isna(new)):
        return old
    if old is None or (isinstance(old, float) and pd.isna(old)):
        return new
    try:
        merged = {**json.loads(old), **{k: v for k, v in json.loads(new).items() if v is not None}}
    except (ValueError, AttributeError):
        return new
    return json.dumps(merged, ensure_ascii=False, separators=(",", ":"))


def _existing_customers(store: Store, ids: list[str]) -> pd.DataFrame:
    frames = []
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        marks = ", ".join("?" for _ in chunk)
        frames.append(store.query(f"SELECT * FROM customers WHERE customer_id IN ({marks})", chunk))
    existing = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["customer_id"])
    return existing.set_index("customer_id")


SINKS: dict[str, type[Sink]] = {"orders": OrdersSink, "feedback": FeedbackSink, "customers": CustomersSink}
