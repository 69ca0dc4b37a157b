"""The canonical schema on DuckDB and PostgreSQL: creation, migrations, idempotent writes."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.errors import ConfigError
from heedful.store import DatabaseURL, Store, connect
from heedful.store.migrations import MIGRATIONS, current_version, migrate
from heedful.store.schema import TABLES


def test_every_canonical_table_is_created(store: Store) -> None:
    assert {t.name for t in TABLES} <= set(store.list_tables())


def test_schema_version_is_tracked_and_migrate_is_repeatable(store: Store) -> None:
    assert current_version(store) == max(m.version for m in MIGRATIONS)
    assert migrate(store) == []


def test_insert_new_skips_rows_already_stored(store: Store) -> None:
    first = pd.DataFrame({"department_id": ["a", "b"], "name": ["A", "B"]})
    again = pd.DataFrame({"department_id": ["a", "c"], "name": ["A again", "C"]})
    assert store.insert_new("departments", first) == 2
    assert store.insert_new("departments", again) == 1
    stored = store.table("departments").execute().set_index("department_id")["name"].to_dict()
    assert stored == {"a": "A", "b": "B", "c": "C"}


def test_upsert_replaces_rows_with_the_same_key(store: Store) -> None:
    store.upsert("departments", pd.DataFrame({"department_id": ["a"], "name": ["A"]}))
    store.upsert("departments", pd.DataFrame({"department_id": ["a"], "name": ["A2"]}))
    assert store.query("SELECT name FROM departments").iloc[0, 0] == "A2"


def test_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.insert_new("departments", pd.DataFrame({"department_id": ["x"], "name": ["X"]}))
        raise RuntimeError("crash in the middle")
    assert store.count("departments") == 0


def test_table_returns_an_ibis_expression(store: Store) -> None:
    store.insert_new("departments", pd.DataFrame({"department_id": ["a"], "name": ["A"]}))
    expr = store.table("departments").count()
    assert int(expr.execute()) == 1


@pytest.mark.parametrize(
    ("url", "dialect", "path"),
    [
        ("duckdb:///heedful.duckdb", "duckdb", "heedful.duckdb"),
        ("duckdb:////tmp/a.duckdb", "duckdb", "/tmp/a.duckdb"),
        ("duckdb://", "duckdb", ":memory:"),
    ],
)
def test_duckdb_urls_parse(url: str, dialect: str, path: str) -> None:
    parsed = DatabaseURL.parse(url)
    assert (parsed.dialect, parsed.path) == (dialect, path)


def test_postgres_url_keeps_schema() -> None:
    parsed = DatabaseURL.parse("postgresql://me:pw@db.example:6543/crm?schema=team_a")
    assert (parsed.host, parsed.port, parsed.user, parsed.database, parsed.schema) == (
        "db.example",
        6543,
        "me",
        "crm",
        "team_a",
    )


@pytest.mark.parametrize("url", ["mysql://x/y", "nonsense", "postgresql://h/db?schema=a;drop"])
def test_bad_urls_are_refused_with_a_clear_error(url: str) -> None:
    with pytest.raises(ConfigError):
        connect(url)
