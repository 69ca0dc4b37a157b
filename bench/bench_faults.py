"""Faults under load, the long versions (run by hand; prints one JSON document).

1. `postgres_restart`: a heedful server on PostgreSQL (2 workers) under submission + API-read load;
   PostgreSQL is restarted mid-run (`pg_ctlcluster --skip-systemctl-redirect <ver> main restart`).
   Reported: errors during the outage, seconds until requests succeed again (no manual action),
   whether the last seconds are error-free, and every acknowledged submission stored exactly once.
   It restarts the shared PostgreSQL server: never run it beside other tests.
2. `kill_9`: a server on DuckDB killed with SIGKILL mid-load and restarted; every acknowledged
   submission is stored, none twice.

    .venv/bin/python bench/bench_faults.py [--seconds 30] [--only postgres_restart|kill_9]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.serverkit import (  # noqa: E402
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

PG = os.environ.get("HEEDFUL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


class Load:
    """Threads alternating a submission and an API read; outcomes recorded per second."""

    def __init__(self, base: str, token: str, threads: int = 8) -> None:
        self.base, self.token, self.threads = base, token, threads
        self.halt = threading.Event()
        self.acked: list[str] = []
        self.events: list[tuple[float, str]] = []  # (time, "ok" | "5xx" | "error" | "other")
        self.started = time.monotonic()
        self.cookie, self.csrf = respondent_session(base)
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> None:
        for worker in self.workers:
            worker.start()

    def stop(self) -> None:
        self.halt.set()
        for worker in self.workers:
            worker.join(timeout=30)

    def _run(self, worker: int) -> None:
        n = 0
        with httpx.Client(base_url=self.base, timeout=10) as client:
            while not self.halt.is_set():
                n += 1
                key = f"fault-{worker}-{n}"
                try:
                    if n % 2:
                        status = submit(client, self.cookie, self.csrf, key, n % 11)
                        if status == 303:
                            self.acked.append(key)
                    else:
                        auth = {"Authorization": f"Bearer {self.token}"}
                        status = client.get("/api/v1/customers?limit=20", headers=auth).status_code
                    outcome = "ok" if status in (200, 303) else "5xx" if status >= 500 else "other"
                except httpx.HTTPError:
                    outcome = "error"
                    time.sleep(0.05)
                self.events.append((time.monotonic() - self.started, outcome))

    def summary(self, since: float, until: float) -> dict[str, int]:
        return dict(Counter(o for t, o in self.events if since <= t < until))


def check_stored(db_url: str, acked: list[str]) -> dict[str, Any]:
    stored = stored_keys(db_url, "fault-")
    return {
        "acknowledged": len(acked),
        "stored": sum(stored.values()),
        "acknowledged_missing": sum(1 for k in acked if k not in stored),
        "stored_twice": sum(1 for n in stored.values() if n > 1),
    }


def postgres_restart(seconds: int, folder: Path) -> dict[str, Any]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    schema = f"bench_faults_{uuid.uuid4().hex[:8]}"
    db_url = f"{PG}?schema={schema}"
    token = seed(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db_url, port, workers=2, log=folder / "pg.log")
    try:
        wait_ready(base)
        load = Load(base, token)
        load.start()
        time.sleep(seconds / 3)
        restart_at = time.monotonic() - load.started
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"], check=True)
        restarted_at = time.monotonic() - load.started
        time.sleep(seconds * 2 / 3)
        load.stop()
        end = time.monotonic() - load.started
    finally:
        stop(server)
    failures_after = [t for t, o in load.events if t >= restart_at and o != "ok"]
    recovered_at = max(failures_after) if failures_after else restart_at
    result: dict[str, Any] = {
        "postgres_version": version,
        "restart_command_s": round(restarted_at - restart_at, 2),
        "before_restart": load.summary(0, restart_at),
        "during_and_after_restart": load.summary(restart_at, end),
        "seconds_until_all_requests_succeed_again": round(recovered_at - restart_at, 2),
        "last_5s": load.summary(end - 5, end),
        "recovered_without_manual_action": all(o == "ok" for t, o in load.events if t >= end - 5),
        **check_stored(db_url, load.acked),
    }
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return result


def kill_9(seconds: int, folder: Path) -> dict[str, Any]:
    db_url = f"duckdb:///{folder / 'kill.duckdb'}"
    token = seed(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db_url, port, log=folder / "kill.log")
    wait_ready(base)
    load = Load(base, token)
    load.start()
    time.sleep(seconds / 2)
    kill_at = time.monotonic() - load.started
    kill_hard(server)
    server = start_server(db_url, port, log=folder / "kill.log")
    try:
        wait_ready(base)
        back_at = time.monotonic() - load.started
        time.sleep(seconds / 2)
        load.stop()
        end = time.monotonic() - load.started
    finally:
        stop(server)
    return {
        "restart_to_ready_s": round(back_at - kill_at, 2),
        "before_kill": load.summary(0, kill_at),
        "after_restart": load.summary(back_at, end),
        **check_stored(db_url, load.acked),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--only", choices=["postgres_restart", "kill_9"])
    args = parser.parse_args()
    report: dict[str, Any] = {"cpu_count": os.cpu_count(), "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="heedful-faults-") as tmp:
        for name, run in (("kill_9", kill_9), ("postgres_restart", postgres_restart)):
            if args.only in (None, name):
                report[name] = run(args.seconds, Path(tmp))
                print(json.dumps({name: report[name]}), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
