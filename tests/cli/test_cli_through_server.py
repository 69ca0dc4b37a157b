"""One store, many clients: while `heedful serve` holds a DuckDB file, CLI commands on the same file run
through the server (`heedful.local_server`) with the same output; where none can, one line says why."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from heedful import local_server
from heedful.services.accounts import Role, create_user
from heedful.store import connect

HEEDFUL = [sys.executable, "-m", "heedful.cli.main"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*HEEDFUL, *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A DuckDB file with one customer, held by `heedful serve` (a separate process) until the test ends."""
    db = tmp_path / "heedful.duckdb"
    with connect(f"duckdb:///{db}") as store:
        store.insert_new(
            "customers",
            pd.DataFrame(
                {
                    "customer_id": ["42"],
                    "kind": ["customer"],
                    "name": ["Ada Lovelace"],
                    "email": ["ada@example.com"],
                    "created_at": [pd.Timestamp("2025-01-01")],
                }
            ),
        )
        create_user(store, "admin@example.com", Role.admin, "correct-horse-battery")
    port = _free_port()
    server = subprocess.Popen(
        [*HEEDFUL, "serve", "--db", f"duckdb:///{db}", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = local_server.address_file(db)
    deadline = time.monotonic() + 60
    while not address.exists():
        assert server.poll() is None, server.stderr.read() if server.stderr else "server exited"
        assert time.monotonic() < deadline, "the server wrote no address file"
        time.sleep(0.2)
    try:
        yield db
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        assert not address.exists(), "a stopped server leaves no address file behind"


def test_cli_commands_run_through_the_server_holding_the_file(served: Path, tmp_path: Path) -> None:
    url = f"duckdb:///{served}"
    address = local_server.address_file(served)
    assert stat.S_IMODE(address.stat().st_mode) == 0o600  # its token is the owner's secret
    shown = _run(["customer", "show", "42", "--db", url, "--json"], tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["identity"]["name"] == "Ada Lovelace"
    missing = _run(["customer", "show", "nope", "--db", url], tmp_path)
    assert missing.returncode == 2 and "No customer with id 'nope'" in missing.stderr
    # a relative output path is the caller's, not the server's working folder
    work = tmp_path / "elsewhere"
    work.mkdir()
    backup = _run(["backup", "--out", "snap.zip", "--db", url], work)
    assert backup.returncode == 0, backup.stderr
    assert (work / "snap.zip").stat().st_size > 0
    again = _run(["serve", "--db", url, "--port", str(_free_port())], tmp_path)
    assert again.returncode == 2
    assert "a server already runs on this database" in " ".join(again.stderr.split())


def test_a_file_held_by_another_program_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    connect(f"duckdb:///{db}").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = _run(["db", "tables", "--db", f"duckdb:///{db}"], tmp_path)
        assert result.returncode == 2
        message = " ".join(result.stderr.split())
        assert "is in use by another program" in message and "Traceback" not in message
    finally:
        holder.kill()


def test_an_address_file_others_can_read_is_not_trusted(tmp_path: Path) -> None:
    db = tmp_path / "heedful.duckdb"
    path = local_server.write_address(db, "http://127.0.0.1:1", "secret")
    assert local_server.read_address(db) is not None  # this process is alive and the file is 0600
    path.chmod(0o644)
    assert local_server.read_address(db) is None
    local_server.remove_address(db, "secret")
    assert not path.exists()


def test_relative_paths_are_made_absolute_for_the_server(tmp_path: Path) -> None:
    (tmp_path / "orders.csv").write_text("x\n")
    argv = ["import", "orders", "orders.csv", "--out", "report.html", "--model", "bgnbd", "--db", "duckdb:///h.duckdb"]
    made = local_server.absolute_paths(argv, tmp_path)
    assert made == [
        "import",
        "orders",
        str(tmp_path / "orders.csv"),
        "--out",
        str(tmp_path / "report.html"),
        "--model",
        "bgnbd",
        "--db",
        "duckdb:///h.duckdb",
    ]


def test_the_local_route_refuses_anyone_without_the_token(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from heedful.web.app import create_app

    with connect(f"duckdb:///{tmp_path / 'h.duckdb'}") as store:
        app = create_app(store=store, secret_key="local")
        with TestClient(app) as client:
            app.state.local_token = "the-secret"  # as `heedful serve` sets it
            body = {"argv": ["db", "tables"]}
            assert client.post("/local/cli", json=body).status_code == 403
            wrong = client.post("/local/cli", json=body, headers={"Authorization": "Bearer guess"})
            assert wrong.status_code == 403
            # the right token from a non-loopback peer (the test client is not 127.0.0.1) is refused too
            right = client.post("/local/cli", json=body, headers={"Authorization": "Bearer the-secret"})
            assert right.status_code == 403
