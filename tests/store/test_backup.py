"""Backup / restore: round trips on DuckDB and PostgreSQL and across them; refusal and damage checks."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from tests.store.seed import seed
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.store import Store, connect
from heedful.store.backup import backup, read_manifest, restore

runner = CliRunner()


def _snapshot(store: Store) -> dict[str, pd.DataFrame]:
    out = {}
    for table in store.list_tables():
        df = store.query(f"SELECT * FROM {table}")
        df.columns = [c.lower() for c in df.columns]  # PostgreSQL folds customer_value.T to t
        if table == "schema_migrations":
            df = df.drop(columns=["applied_at"])
        key = list(df.columns)
        out[table] = df.sort_values(key).reset_index(drop=True) if len(df) else df
    return out


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert set(a) == set(b)
    for table in a:
        left, right = a[table], b[table]
        assert len(left) == len(right), table
        for col in left.columns:
            lv, rv = left[col].tolist(), right[col].tolist()
            norm = [
                [
                    None if pd.isna(v) else (float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
                    for v in vals
                ]
                for vals in (lv, rv)
            ]
            assert norm[0] == norm[1], f"{table}.{col}"


@pytest.fixture
def other_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'restored.duckdb'}"


def test_round_trip_same_backend(store: Store, tmp_path: Path, db_url: str) -> None:
    seed(store)
    before = _snapshot(store)
    archive = tmp_path / "b.zip"
    result = backup(store, archive)
    manifest = read_manifest(archive)
    tables = {t["table"]: t for t in manifest["tables"]}
    assert "schema_migrations" in tables and tables["orders"]["rows"] == 6
    assert manifest["schema_version"] == result.schema_version > 0
    # Restoring into the same (non-empty) store is refused without force …
    with pytest.raises(InputError, match="not empty"):
        restore(store, archive)
    # … and with force replaces the content with the snapshot (a change made after the backup is gone).
    store.execute("DELETE FROM feedback WHERE feedback_id = 'F2'")
    store.execute("UPDATE orders SET amount = 0")
    restore(store, archive, force=True)
    _assert_same(before, _snapshot(store))


def test_cross_backend_round_trip(pg_url: str, duckdb_url: str, tmp_path: Path) -> None:
    with connect(pg_url) as pg:
        seed(pg)
        expected = _snapshot(pg)
        backup(pg, tmp_path / "pg.zip")
    with connect(duckdb_url) as duck:
        restore(duck, tmp_path / "pg.zip")
        _assert_same(expected, _snapshot(duck))
        backup(duck, tmp_path / "duck.zip")
    with connect(pg_url) as pg:
        restore(pg, tmp_path / "duck.zip", force=True)
        _assert_same(expected, _snapshot(pg))


def test_damaged_archive_is_refused_and_target_untouched(duck_store: Store, tmp_path: Path, other_url: str) -> None:
    seed(duck_store)
    archive = tmp_path / "b.zip"
    backup(duck_store, archive)
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/orders.parquet":
                data = data[:-20] + bytes(20)
            dst.writestr(item, data)
    with connect(other_url) as target:
        with pytest.raises(InputError, match="Checksum mismatch for table orders"):
            restore(target, damaged)
        assert target.count("customers") == 0


def test_cli_backup_restore(duckdb_url: str, other_url: str, tmp_path: Path) -> None:
    with connect(duckdb_url) as st:
        seed(st)
    out = tmp_path / "cli.zip"
    res = runner.invoke(app, ["backup", "--db", duckdb_url, "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["tables"]["customers"] == 3 and doc["tables"]["answers"] == 3
    res = runner.invoke(app, ["restore", str(out), "--db", other_url, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["tables"]["orders"] == 6
    res = runner.invoke(app, ["restore", str(out), "--db", other_url])
    assert res.exit_code == 2 and "--force" in res.output


def test_snapshot_ignores_writes_committed_during_the_backup(
    store: Store, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows another connection commits while the backup runs are not in the archive (one snapshot)."""
    import heedful.store.backup as backup_mod

    seed(store)
    writer = connect(db_url)
    original = backup_mod._batches
    done: list[str] = []

    def batches_then_write(st: Store, table: str, schema: object) -> object:
        yield from original(st, table, schema)  # type: ignore[arg-type]
        if not done:  # after the first table is read, another session commits new orders and feedback
            done.append(table)
            writer.execute(
                "INSERT INTO orders (order_line_id, order_id, ordered_at, quantity, unit_price, amount, is_return) "
                "VALUES ('LATE', 'OL', TIMESTAMP '2026-02-01 00:00:00', 1, 1, 1, FALSE)"
            )
            writer.execute(
                "INSERT INTO feedback (feedback_id, channel, author_kind, text, created_at) "
                "VALUES ('FLATE', 'review', 'customer', 'late', TIMESTAMP '2026-02-01 00:00:00')"
            )

    monkeypatch.setattr(backup_mod, "_batches", batches_then_write)
    archive = tmp_path / "b.zip"
    backup(store, archive)
    writer.close()
    assert done, "the concurrent write ran"
    counts = {t["table"]: t["rows"] for t in read_manifest(archive)["tables"]}
    assert counts["orders"] == 6 and counts["feedback"] == 3
    assert store.count("orders") == 7  # the write itself did land


def test_a_duckdb_backup_holding_nul_characters_restores_into_postgresql(
    duck_store: Store, pg_url: str, tmp_path: Path
) -> None:
    """DuckDB stores NUL characters and PostgreSQL refuses them: the restore once failed with a traceback."""
    duck_store.upsert(
        "customers",
        pd.DataFrame(
            [{"customer_id": "c1", "name": "Ann\x00Lee", "kind": "customer", "created_at": pd.Timestamp("2024-01-01")}]
        ),
    )
    archive = tmp_path / "b.zip"
    backup(duck_store, archive)
    with connect(pg_url) as pg:
        result = restore(pg, archive)
        assert result.nul_removed == 1
        assert pg.fetchall("SELECT name FROM customers") == [("AnnLee",)]


def test_an_import_quarantines_nul_characters_on_both_backends(store: Store, tmp_path: Path) -> None:
    from heedful.ingest import import_file

    path = tmp_path / "people.csv"
    path.write_bytes(b"customer_id,name\nc1,Ann\x00Lee\nc2,Bo\n")
    result = import_file(store, path, "customers")
    assert (result.accepted, result.rejected) == (1, 1)
    assert "NUL" in store.fetchall("SELECT error FROM quarantine")[0][0]
