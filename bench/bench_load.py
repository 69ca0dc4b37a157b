"""Load: survey submissions and API reads against a real heedful server on 127.0.0.1, driven by wrk.

For each backend — PostgreSQL with `--workers` Uvicorn workers (each with up to `--pool` connections),
DuckDB with one (DuckDB allows one writing process) — wrk runs `--duration` seconds of a mix of
POST /s/<slug> (each a new respondent, unique idempotency key) and GET /api/v1/customers (bearer
token). Reported: requests/s, p50/p90/p99 latency, 5xx, acknowledged submissions (303) vs answers
stored afterwards (`lost` must be 0, `stored_twice` too), and the CPU each request cost the server,
PostgreSQL and wrk. First, the floor: the same wrk against a hello-world FastAPI app with the same
worker count, i.e. the most this machine serves with this stack. Prints one JSON document. Needs
`wrk` (apt-get install wrk) and, for PostgreSQL, the server in HEEDFUL_TEST_PG (default
postgresql://postgres@127.0.0.1:5432/test).

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


def hello_app() -> Any:
    """The floor: a FastAPI app with one JSON endpoint, no middleware, no database."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"status": "ok"}

    return app


def floor(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """wrk against `hello_app` under uvicorn with the same workers, threads and connections."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "bench_load:hello_app", "--app-dir", str(Path(__file__).parent),
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--log-level", "warning", "--no-access-log", "--backlog", "4096",
    ]  # fmt: skip
    with (folder / "hello.log").open("ab") as log:
        server = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
    try:
        _wait_http(f"http://127.0.0.1:{port}/hello")
        load_before = os.getloadavg()[0]
        done = subprocess.run(
            ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{min(args.duration, 15)}s", "--latency",
             f"http://127.0.0.1:{port}/hello"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        stop(server)
    out = done.stdout
    return {
        "workers": args.workers,
        "requests_per_s": float(out.split("Requests/sec:")[1].split()[0]),
        "p50_ms": _wrk_ms(out, "50%"),
        "p99_ms": _wrk_ms(out, "99%"),
        "load_avg_1m_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def _wrk_ms(text: str, label: str) -> float:
    value = text.split(label)[1].split()[0]
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    unit = next(u for u in ("us", "ms", "s") if value.endswith(u))
    return round(float(value[: -len(unit)]) * scale[unit], 2)


def _wait_http(url: str, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _cpu_seconds(pids: set[int]) -> float:
    """User + system CPU time of these processes (Linux /proc), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _process_tree(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _postgres_pids() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


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
        servers, postgres = _process_tree(server.pid), _postgres_pids()
        cpu_before = _cpu_seconds(servers), _cpu_seconds(postgres), os.times()
        result = run_wrk(base, args, cookie, csrf, token, "wrk-")
        cpu_after = _cpu_seconds(servers), _cpu_seconds(postgres), os.times()
        result["load_avg_1m_before_after"] = [round(load_avg_before[0], 2), round(os.getloadavg()[0], 2)]
    finally:
        stop(server)
    n = max(result["requests"], 1)
    wrk_cpu = sum(cpu_after[2][i] - cpu_before[2][i] for i in (2, 3))  # children: wrk
    result["cpu_ms_per_request"] = {
        "server": round((cpu_after[0] - cpu_before[0]) * 1000 / n, 3),
        "postgres": round((cpu_after[1] - cpu_before[1]) * 1000 / n, 3),
        "wrk": round(wrk_cpu * 1000 / n, 3),
    }
    stored = stored_keys(db_url, "wrk-")
    result.update(
        backend=name,
        workers=workers,
        pool=args.pool if name == "postgres" else 1,
        stored_submissions=sum(stored.values()),
        stored_twice=sum(1 for n in stored.values() if n > 1),
        lost=max(0, result["acked_submissions"] - sum(stored.values())),
        every_acknowledged_stored=sum(stored.values()) >= result["acked_submissions"],
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="Uvicorn workers on PostgreSQL")
    parser.add_argument("--pool", type=int, default=4, help="PostgreSQL connections per worker (HEEDFUL_WEB_POOL)")
    parser.add_argument("--post-percent", type=int, default=50)
    parser.add_argument("--backends", default="postgres,duckdb")
    parser.add_argument("--no-floor", action="store_true", help="Skip the hello-world floor measurement.")
    args = parser.parse_args()
    os.environ["HEEDFUL_WEB_POOL"] = str(args.pool)
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
        if not args.no_floor:
            report["floor_hello_world"] = floor(args, folder)
            print(json.dumps({"floor": report["floor_hello_world"]}), file=sys.stderr, flush=True)
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
