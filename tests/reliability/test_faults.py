"""Faults, kept fast: kill -9 the server during submission load (every acknowledged answer is there
after a restart, none twice), and kill -9 an import mid-way (all of it or none; a re-run completes).
The longer versions, and PostgreSQL restarted under load, are in bench/bench_faults.py."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from heedful.store import connect

from .serverkit import (
    free_port,
    kill_hard,
    respondent_session,
    seed,
    start_server,
    stop,
    stored_keys,
    submit,
    wait_ready,
)

pytestmark = pytest.mark.slow


def test_kill_9_during_submissions_loses_no_acknowledged_answer(tmp_path: Path) -> None:
    db_url = f"duckdb:///{tmp_path / 'faults.duckdb'}"
    seed(db_url, customers=10)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db_url, port, workers=1, log=tmp_path / "server.log")
    acked: list[str] = []
    errors: list[str] = []
    halt = threading.Event()
    try:
        wait_ready(base)
        cookie, csrf = respondent_session(base)

        def hammer(worker: int) -> None:
            with httpx.Client(base_url=base, timeout=10) as client:
                n = 0
                while not halt.is_set():
                    key = f"kill-{worker}-{n}"
                    n += 1
                    try:
                        status = submit(client, cookie, csrf, key, n % 11)
                    except httpx.HTTPError:
                        return  # the server died: this submission was never acknowledged
                    if status == 303:
                        acked.append(key)
                    else:
                        errors.append(f"{key}: {status}")

        threads = [threading.Thread(target=hammer, args=(w,)) for w in range(6)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acked) < 150 and time.monotonic() < deadline:
            time.sleep(0.05)
        kill_hard(server)  # mid-load, no warning
        halt.set()
        for thread in threads:
            thread.join(timeout=30)
        assert len(acked) >= 150, "too few submissions before the kill"
        assert errors == []

        server = start_server(db_url, port, workers=1, log=tmp_path / "server.log")  # restart, no manual repair
        wait_ready(base)
        cookie, csrf = respondent_session(base)
        with httpx.Client(base_url=base, timeout=10) as client:
            assert submit(client, cookie, csrf, "after-restart", 7) == 303
    finally:
        halt.set()
        stop(server)
    stored = stored_keys(db_url)
    missing = [key for key in acked if key not in stored]
    assert missing == []
    assert {key: n for key, n in stored.items() if n != 1} == {}  # none twice
    assert stored["after-restart"] == 1


IMPORTER = """
import sys
from heedful.ingest import import_file
from heedful.store import connect


store = connect(sys.argv[1])
def progress(done, total):
    print(f"progress {done}", flush=True)
result = import_file(store, sys.argv[2], "orders", progress=progress)
print(f"accepted {result.accepted}", flush=True)
"""


def test_kill_9_mid_import_leaves_all_or_nothing_and_a_rerun_completes(tmp_path: Path) -> None:
    rows = 200_000
    path = tmp_path / "orders.csv"
    with path.open("w") as fh:
        fh.write("order_id,customer_id,ordered_at,product_id,quantity,unit_price\n")
        fh.writelines(
            f"O{i},C{i % 997},2024-0{1 + i % 9}-1{i % 9},P{i % 50},{1 + i % 4},{i % 97}.5\n" for i in range(rows)
        )
    db_url = f"duckdb:///{tmp_path / 'import.duckdb'}"
    connect(db_url).close()  # migrated before the crash, like a store in use
    script = tmp_path / "run_import.py"
    script.write_text(IMPORTER)
    proc = subprocess.Popen(
        [sys.executable, str(script), db_url, str(path)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    killed_at = None
    for line in proc.stdout:
        if line.startswith("progress ") and 0 < int(line.split()[1]) < rows:
            proc.kill()  # SIGKILL, mid-way: some batches written inside the import's transaction
            killed_at = int(line.split()[1])
            break
    proc.wait(timeout=60)
    assert killed_at is not None, "the import finished before it could be killed"

    store = connect(db_url)
    try:
        assert store.count("orders") == 0  # none of it
        assert store.fetchall("SELECT COUNT(*) FROM imports WHERE status = 'done'")[0][0] == 0
    finally:
        store.close()

    rerun = subprocess.run(
        [sys.executable, str(script), db_url, str(path)], capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"accepted {rows}" in rerun.stdout
    store = connect(db_url)
    try:
        assert store.count("orders") == rows  # all of it, once
    finally:
        store.close()


def test_store_reconnects_after_postgresql_drops_its_connection(pg_url: str) -> None:
    """What a PostgreSQL restart does to a running app, without restarting the shared server: the
    server ends this store's connection; the next read and the next transaction just work."""
    import psycopg
    from tests.conftest import PG_URL

    store = connect(pg_url)
    try:
        store.execute("CREATE TABLE IF NOT EXISTS probe (n INT)")
        for round_ in range(2):
            (pid,) = store.fetchall("SELECT pg_backend_pid()")[0]
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert store.fetchall("SELECT 1")[0][0] == 1  # a read: retried on a new connection
            assert store.fetchall("SELECT pg_backend_pid()")[0][0] != pid
            (pid,) = store.fetchall("SELECT pg_backend_pid()")[0]
            with psycopg.connect(PG_URL, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            with store.transaction():  # a transaction begun on the dropped connection starts on a new one
                store.execute("INSERT INTO probe VALUES (?)", [round_])
        assert store.count("probe") == 2
    finally:
        store.close()


def test_an_unreachable_database_answers_503_with_retry_after(tmp_path: Path) -> None:
    """While PostgreSQL restarts, reconnecting raises ConfigError: that is the server's trouble, not
    the client's — 503 with Retry-After, on the API and on pages — and the next request works."""
    from fastapi.testclient import TestClient

    from heedful.errors import ConfigError
    from heedful.web.app import create_app

    db_url = f"duckdb:///{tmp_path / 'down.duckdb'}"
    token = seed(db_url, customers=3)
    store = connect(db_url)
    app = create_app(store=store, secret_key="down", warm_cache=False)
    real = store.fetchall
    down = {"on": True}

    def flaky(sql: str, params: object = None) -> list[tuple[object, ...]]:
        if down["on"]:
            raise ConfigError("Cannot connect to PostgreSQL at 127.0.0.1:5432/test: connection refused")
        return real(sql, params)  # type: ignore[arg-type]

    store.fetchall = flaky  # type: ignore[method-assign]
    try:
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {token}"}
            api = client.get("/api/v1/me", headers=auth)
            assert api.status_code == 503 and api.headers["retry-after"] == "5"
            assert api.headers["content-type"].startswith("application/problem+json")
            assert "5432" not in api.text  # no connection details for the client
            down["on"] = False
            assert client.get("/api/v1/me", headers=auth).status_code == 200
    finally:
        store.close()
