"""`heedful db tables` / `db migrate` on an up-to-date store answer through the bare driver (`store.light`):
the same output as the full Store, without importing Ibis or pandas; anything else still opens the Store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from tests.cli.test_cli_through_server import served  # noqa: F401  (a real `heedful serve` holding the file)
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.store import connect
from heedful.store.light import open_light
from heedful.store.migrations import MIGRATIONS

HEAVY = ("ibis", "pandas", "numpy", "pyarrow", "scipy", "sklearn")


def _fill(url: str) -> dict[str, int]:
    """A store with two customers; the table counts the full Store gives for it."""
    with connect(url) as store:
        store.insert_new(
            "customers",
            pd.DataFrame(
                {
                    "customer_id": ["1", "2"],
                    "kind": ["customer", "customer"],
                    "name": ["Ada", "Grace"],
                    "created_at": [pd.Timestamp("2025-01-01")] * 2,
                }
            ),
        )
        return {t: store.count(t) for t in store.list_tables()}


def _heedful(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `heedful ARGS` as its own process; also the heavy libraries it imported."""
    code = (
        "import sys\nfrom heedful.cli.main import main\n"
        f"sys.argv = ['heedful', *{args!r}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\nelse:\n    code = 0\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)
    heavy = next(line for line in done.stderr.splitlines() if line.startswith("HEAVY "))
    return done, json.loads(heavy[len("HEAVY ") :].replace("'", '"'))


def test_db_tables_prints_what_the_store_counts_without_loading_ibis(db_url: str, tmp_path: Path) -> None:
    expected = _fill(db_url)
    assert expected["customers"] == 2
    shown, heavy = _heedful(["db", "tables", "--db", db_url, "--json"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout) == expected
    assert list(json.loads(shown.stdout)) == sorted(expected)  # the order the Store lists them in
    assert heavy == [], f"db tables imported {heavy}"
    text, heavy = _heedful(["db", "tables", "--db", db_url], tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [f"{name:24} {n:>10,}" for name, n in expected.items()]
    assert heavy == []


def test_the_light_store_answers_as_the_full_store(db_url: str) -> None:
    _fill(db_url)
    light = open_light(db_url)
    assert light is not None
    with light, connect(db_url) as store:
        assert light.list_tables() == store.list_tables()
        assert {t: light.count(t) for t in light.list_tables()} == {t: store.count(t) for t in store.list_tables()}
        assert light.applied_versions() == {int(r[0]) for r in store.fetchall("SELECT version FROM schema_migrations")}


def test_db_migrate_with_nothing_to_do_says_so_without_loading_ibis(db_url: str, tmp_path: Path) -> None:
    _fill(db_url)
    newest = max(m.version for m in MIGRATIONS)
    done, heavy = _heedful(["db", "migrate", "--db", db_url, "--json"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"url": db_url, "applied": [], "version": newest}
    assert heavy == []
    text, _ = _heedful(["db", "migrate", "--db", db_url], tmp_path)
    assert " ".join(text.stdout.split()) == f"Schema is up to date (version {newest})."


def test_a_store_with_a_migration_to_apply_is_migrated_by_the_full_store(db_url: str, tmp_path: Path) -> None:
    _fill(db_url)
    newest = max(m.version for m in MIGRATIONS)
    with connect(db_url, migrate=False) as store:
        store.execute("DELETE FROM schema_migrations WHERE version = ?", [newest])
    assert open_light(db_url) is None  # pending: the light path steps aside
    result = CliRunner().invoke(app, ["db", "tables", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["customers"] == 2
    again = CliRunner().invoke(app, ["db", "migrate", "--db", db_url, "--json"])
    assert json.loads(again.stdout)["applied"] == []  # `db tables` applied it, as it always did


def test_a_new_duckdb_file_is_created_and_migrated_by_db_tables(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'new.duckdb'}"
    assert open_light(url) is None and not (tmp_path / "new.duckdb").exists()
    result = CliRunner().invoke(app, ["db", "tables", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.stdout)
    assert counts["customers"] == 0 and "schema_migrations" in counts


def test_db_tables_runs_through_the_server_holding_the_file(served: Path, tmp_path: Path) -> None:  # noqa: F811
    url = f"duckdb:///{served}"
    shown, _ = _heedful(["db", "tables", "--db", url, "--json"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    counts = json.loads(shown.stdout)
    assert counts["customers"] == 1 and counts["users"] == 1
    text, _ = _heedful(["db", "tables", "--db", url], tmp_path)
    assert text.returncode == 0, text.stderr
    assert "customers" in text.stdout and "Error" not in text.stderr
    migrated, _ = _heedful(["db", "migrate", "--db", url, "--json"], tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert json.loads(migrated.stdout)["applied"] == []


@pytest.mark.parametrize("args", [["db", "tables"], ["db", "migrate"]])
def test_a_file_held_by_another_program_is_still_one_line(args: list[str], tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    _fill(f"duckdb:///{db}")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ok', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ok"
        result, _ = _heedful([*args, "--db", f"duckdb:///{db}"], tmp_path)
        assert result.returncode == 2
        message = " ".join(result.stderr.split())
        assert "is in use by another program" in message and "Traceback" not in message
    finally:
        holder.kill()
