"""Load: survey submissions and API reads against a real heedful server on 127.0.0.1, driven by wrk.

For each backend — PostgreSQL with `--workers` Uvicorn workers, DuckDB with one (DuckDB allows one
writing process) — wrk runs `--duration` seconds of a mix of POST /s/<slug> (each a new respondent,
unique idempotency key) and GET /api/v1/customers (bearer token). Reported: requests/s, p50/p90/p99
latency, 5xx, and acknowledged submissions (303) vs answers stored afterwards (must be equal).
Prints one JSON document. Needs `wrk` (apt-get install wrk) and, for PostgreSQL, the server in
HEEDFUL_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test).

    .venv/bin/python bench/bench_load.py --duration 60
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.reliability.serverkit import (  # noqa: E402
    SLUG,
    free_port,
    respondent_session,
    seed,
    start_server,
    stop,
    stored_keys,
    wait_ready,
)

PG = os.environ.get("HEEDFUL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
LUA = Path(__file__).resolve().parent / "lua" / "heedful_load.lua"


def run_wrk(base: str, args: argparse.Namespace, cookie: str, csrf: str, token: str, prefix: str) -> dict[str, Any]:
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s", "--timeout", "10s",
        "--latency", "-s", str(LUA), base, "--", cookie, csrf, token, SLUG, str(args.post_percent), prefix,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(ln for ln in done.stdout.splitlines() if ln.startswith("WRKJSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("WRKJSON "))
    result["requests_per_s"] = round(result["requests"] / result["duration_s"], 1)
    return result


def one_backend(name: str, db_url: str, workers: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    token = seed(db_url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(db_url, port, workers=workers, log=folder / f"{name}.log")
    try:
        wait_ready(base)
        cookie, csrf = respondent_session(base)
        run_wrk(base, argparse.Namespace(**{**vars(args), "duration": 3}), cookie, csrf, token, "warm-")
        load_avg_before = os.getloadavg()
        result = run_wrk(base, args, cookie, csrf, token, "wrk-")
        result["load_avg_1m_before_after"] = [round(load_avg_before[0], 2), round(os.getloadavg()[0], 2)]
    finally:
        stop(server)
    stored = stored_keys(db_url, "wrk-")
    result.update(
        backend=name,
        workers=workers,
        stored_submissions=sum(stored.values()),
        stored_twice=sum(1 for n in stored.values() if n > 1),
        every_acknowledged_stored=sum(stored.values()) >= result["acked_submissions"],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn workers on PostgreSQL")
    parser.add_argument("--post-percent", type=int, default=50)
    parser.add_argument("--backends", default="postgres,duckdb")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    report: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "duration_s": args.duration,
        "connections": args.connections,
        "post_percent": args.post_percent,
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="heedful-load-") as tmp:
        folder = Path(tmp)
        for name in args.backends.split(","):
            if name == "postgres":
                schema = f"bench_load_{uuid.uuid4().hex[:8]}"
                url = f"{PG}?schema={schema}"
                run = one_backend("postgres", url, args.workers, args, folder)
                _drop_schema(schema)
            else:
                run = one_backend("duckdb", f"duckdb:///{folder / 'load.duckdb'}", 1, args, folder)
            report["runs"].append(run)
            print(json.dumps(run), file=sys.stderr, flush=True)
            time.sleep(2)
    print(json.dumps(report, indent=2))


def _drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
