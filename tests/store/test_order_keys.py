"""Order lines stay unique by `order_line_id` on every backend and through every writer.

DuckDB declares no primary key on `orders` (bulk imports would pay for an ART index row by row);
the Store keeps the key unique there. PostgreSQL keeps its real primary key.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from heedful.errors import HeedfulError
from heedful.store import Store, connect
from heedful.store.backup import backup, restore
from heedful.store.migrations import MIGRATIONS, current_version
from heedful.store.schema import TABLES_BY_NAME


def _lines(ids: list[str], product: str = "p") -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame(
        {
            "order_line_id": ids,
            "order_id": [f"o-{i}" for i in ids],
            "customer_id": ["c1"] * n,
            "ordered_at": [datetime(2024, 1, 1)] * n,
            "product_id": [product] * n,
            "quantity": [1.0] * n,
            "unit_price": [2.0] * n,
            "amount": [2.0] * n,
            "is_return": [False] * n,
        }
    )


def _stored(store: Store) -> dict[str, str]:
    frame = store.query("SELECT order_line_id, product_id FROM orders ORDER BY order_line_id")
    return dict(zip(frame["order_line_id"], frame["product_id"], strict=True))


def test_insert_new_adds_only_unseen_order_lines(store: Store) -> None:
    assert store.insert_new("orders", _lines(["a", "b"], "first")) == 2
    assert store.insert_new("orders", _lines(["b", "c"], "second")) == 1
    assert _stored(store) == {"a": "first", "b": "first", "c": "second"}


def test_a_key_repeated_within_one_write_is_stored_once_first_wins(duck_store: Store) -> None:
    rows = pd.concat([_lines(["a"], "first"), _lines(["a", "b"], "second")], ignore_index=True)
    assert duck_store.insert_new("orders", rows) == 2
    assert _stored(duck_store) == {"a": "first", "b": "second"}


def test_upsert_replaces_an_order_line_instead_of_adding_one(duck_store: Store) -> None:
    duck_store.insert_new("orders", _lines(["a", "b"], "old"))
    duck_store.upsert("orders", _lines(["b", "c"], "new"))
    assert _stored(duck_store) == {"a": "old", "b": "new", "c": "new"}
    duck_store.replace_all("orders", _lines(["c"], "only"))
    assert _stored(duck_store) == {"c": "only"}


def test_a_line_without_id_is_refused(duck_store: Store) -> None:
    rows = _lines(["a"])
    rows["order_line_id"] = [None]
    with pytest.raises(Exception, match=r"(?i)not null"):
        duck_store.insert_new("orders", rows)
    assert duck_store.count("orders") == 0


def test_restoring_a_backup_into_a_store_holding_the_lines_adds_no_duplicates(
    duck_store: Store, tmp_path: Path
) -> None:
    duck_store.insert_new("orders", _lines(["a", "b"]))
    archive = tmp_path / "backup.zip"
    backup(duck_store, archive)
    restore(duck_store, archive, force=True)
    assert duck_store.count("orders") == 2
    duck_store.insert_new("orders", _lines(["a", "b", "c"]))
    assert duck_store.count("orders") == 3


def test_duckdb_declares_no_key_on_orders_and_postgres_does(store: Store) -> None:
    if store.dialect == "duckdb":
        sql = (
            "SELECT COUNT(*) FROM duckdb_constraints() WHERE table_name = 'orders' "
            "AND constraint_type = 'PRIMARY KEY' AND database_name = current_database()"
        )
        assert store.keeps_key("orders")
        assert store.fetchall(sql)[0][0] == 0
    else:
        sql = (
            "SELECT COUNT(*) FROM information_schema.table_constraints WHERE table_name = 'orders' "
            "AND constraint_type = 'PRIMARY KEY' AND table_schema = current_schema()"
        )
        assert not store.keeps_key("orders")
        assert store.fetchall(sql)[0][0] == 1
        with pytest.raises(Exception, match=r"(?i)duplicate key"):
            store.execute(
                "INSERT INTO orders (order_line_id, order_id, ordered_at, quantity, unit_price, amount, is_return) "
                "VALUES ('a', 'o', TIMESTAMP '2024-01-01', 1, 1, 1, false), "
                "('a', 'o', TIMESTAMP '2024-01-01', 1, 1, 1, false)"
            )


def test_two_connections_to_one_file_cannot_store_the_same_line_twice(duckdb_url: str) -> None:
    first, second = connect(duckdb_url), connect(duckdb_url)
    try:
        added: list[int] = []
        with first.transaction():
            first.insert_new("orders", _lines(["a"]))
            writer = threading.Thread(target=lambda: added.append(second.insert_new("orders", _lines(["a", "b"]))))
            writer.start()
            writer.join(timeout=0.5)
            assert writer.is_alive(), "the second writer must wait for the first transaction"
        writer.join(timeout=10)
        assert added == [1]
        assert sorted(_stored(first)) == ["a", "b"]
    finally:
        first.close()
        second.close()


def test_a_transaction_older_than_another_connections_keyed_commit_is_refused(duckdb_url: str) -> None:
    first, second = connect(duckdb_url), connect(duckdb_url)
    try:
        with pytest.raises(HeedfulError, match="Retry"), first.transaction():
            first.count("orders")  # the snapshot starts here, before `second` commits
            second.insert_new("orders", _lines(["a"]))
            first.insert_new("orders", _lines(["a"]))
        assert first.count("orders") == 1
        assert first.insert_new("orders", _lines(["a", "b"])) == 1
    finally:
        first.close()
        second.close()


def test_migrating_an_old_duckdb_file_drops_the_orders_key_and_keeps_the_rows(duckdb_url: str) -> None:
    """A file written before migration 2 has `PRIMARY KEY (order_line_id)` and the customer index."""
    old = connect(duckdb_url, migrate=False)
    with old.transaction():
        old.execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, "
            "applied_at TIMESTAMP NOT NULL)"
        )
        for table in TABLES_BY_NAME.values():
            old.execute(dataclasses.replace(table, key_kept_by_store_on_duckdb=False).ddl("duckdb"))
        old.execute("ALTER TABLE orders ADD COLUMN channel_note VARCHAR")  # a column added outside the schema
        old.execute("CREATE INDEX orders_customer_id_idx ON orders (customer_id)")
        for m in MIGRATIONS:
            if m.version != 2:
                old.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [m.version, m.description, datetime.now(UTC).replace(tzinfo=None)],
                )
    old.insert_new("orders", _lines(["a", "b"], "kept"))
    old.execute("UPDATE orders SET channel_note = 'n' WHERE order_line_id = 'a'")
    old.close()

    store = connect(duckdb_url)
    try:
        assert current_version(store) == max(m.version for m in MIGRATIONS)
        assert store.fetchall("SELECT COUNT(*) FROM schema_migrations WHERE version = 2")[0][0] == 1
        assert not store.fetchall(
            "SELECT 1 FROM duckdb_constraints() WHERE table_name = 'orders' AND constraint_type = 'PRIMARY KEY'"
        )
        assert store.fetchall("SELECT index_name FROM duckdb_indexes() WHERE table_name = 'orders'") == [
            ("orders_customer_id_idx",)
        ]
        assert _stored(store) == {"a": "kept", "b": "kept"}
        assert store.fetchall("SELECT channel_note FROM orders ORDER BY order_line_id") == [("n",), (None,)]
        assert store.insert_new("orders", _lines(["a", "c"])) == 1
        with pytest.raises(Exception, match=r"(?i)not null"):
            store.execute("INSERT INTO orders (order_line_id) VALUES (NULL)")
    finally:
        store.close()
