"""Benchmark: customer value summaries + RFM on simulated orders, DuckDB and Spark (local mode) side by side.

Orders are generated inside DuckDB (range() + hash(), no pandas): one customer per ~10 order lines,
dates over three years, 2.5% returns. For each size, each engine runs in its own process, timed from
the query to the pandas result (`transaction_summary(net_spend=True)` + `rfm_from_summary`: one pass
over the orders, the same Ibis code on both engines);
peak memory is the highest resident set of that process and its children (the Spark JVM included),
sampled every 0.2 s. Spark reads the same data as Parquet; its session start-up is reported apart.

    .venv/bin/python bench/bench_scale.py                                   # 1M, 10M, 100M orders
    .venv/bin/python bench/bench_scale.py --sizes 1e6,1e7 --spark-max 1e7

Prints one JSON document. `ratio` per size is Spark's time / DuckDB's time (above 1: DuckDB faster).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LINES_PER_CUSTOMER = 10


def generate(folder: Path, n: int, parquet: bool) -> dict[str, Any]:
    import duckdb

    path = folder / f"orders_{n}.duckdb"
    if path.exists():
        path.unlink()
    started = time.perf_counter()
    con = duckdb.connect(str(path))
    customers = max(1, n // LINES_PER_CUSTOMER)
    con.execute(
        f"""
        CREATE TABLE orders AS
        SELECT
            CAST(hash(i) % {customers} AS BIGINT) AS customer_id,
            TIMESTAMP '2022-01-01' + to_seconds(CAST(hash(i + 1) % (1095 * 86400) AS BIGINT)) AS ordered_at,
            CASE WHEN hash(i + 3) % 40 = 0 THEN -1 ELSE 1 END * (1 + (hash(i + 2) % 20000) / 100.0) AS amount,
            hash(i + 3) % 40 = 0 AS is_return
        FROM range({n}) t(i)
        """
    )
    out: dict[str, Any] = {"orders": n, "customers": customers, "duckdb_file": str(path)}
    if parquet:
        pq = folder / f"orders_{n}.parquet"
        con.execute(f"COPY orders TO '{pq}' (FORMAT parquet, ROW_GROUP_SIZE 1000000)")
        out["parquet"] = str(pq)
    con.close()
    out["generate_s"] = round(time.perf_counter() - started, 2)
    return out


# ---------------------------------------------------------------------- workers (run in a subprocess)
def _analyses(table: Any) -> dict[str, Any]:
    from heedful.value import rfm_from_summary, transaction_summary

    # One pass over the orders: the summary query also sums each customer's net spend, and RFM is
    # scored from that summary (equal to `rfm(orders)`, tests/value/test_rfm.py) instead of a second scan.
    t0 = time.perf_counter()
    summary = transaction_summary(table, net_spend=True)
    t1 = time.perf_counter()
    result = rfm_from_summary(summary, "W")
    t2 = time.perf_counter()
    return {
        "summary_s": round(t1 - t0, 2),
        "rfm_s": round(t2 - t1, 2),
        "seconds": round(t2 - t0, 2),
        "customers_out": len(summary),
        "rfm_customers": len(result.customers),
        "mean_frequency": float(summary["frequency"].mean()),
    }


def worker_duckdb(path: str, threads: int | None) -> dict[str, Any]:
    import ibis

    con = ibis.duckdb.connect(path, read_only=True)
    if threads:
        con.raw_sql(f"SET threads = {threads}")
    return _analyses(con.table("orders"))


def worker_spark(parquet: str, master: str, driver_memory: str) -> dict[str, Any]:
    from heedful.store.spark import SparkEngine

    t0 = time.perf_counter()
    engine = SparkEngine.connect(f"spark://{master}", driver_memory=driver_memory, shuffle_partitions=8)
    table = engine.load_parquet("orders", parquet)
    startup = time.perf_counter() - t0
    out = _analyses(table)
    out["startup_s"] = round(startup, 2)
    engine.session.stop()
    return out


# ---------------------------------------------------------------------- runner
def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            pid, ppid = int(entry), int(fields[1])
            children.setdefault(ppid, []).append(pid)
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def run_worker(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        stop.set()
        return {"error": f"timed out after {timeout:.0f} s", "peak_rss_mb": round(peak / 2**20)}
    stop.set()
    sampler.join()
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        return {"error": err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"}
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["process_wall_s"] = round(wall, 2)
    result["peak_rss_mb"] = round(peak / 2**20)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6,1e7,1e8", help="order counts, comma-separated")
    parser.add_argument("--spark-max", type=float, default=1e7, help="largest size also run on Spark")
    parser.add_argument("--master", default="local[2]", help="Spark master for the Spark runs")
    parser.add_argument("--driver-memory", default="8g")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds per engine run")
    parser.add_argument("--folder", default=None, help="where the generated data goes (default: a temp folder)")
    parser.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        kind, *rest = args.worker
        if kind == "duckdb":
            result = worker_duckdb(rest[0], int(rest[1]) or None)
        else:
            result = worker_spark(rest[0], rest[1], rest[2])
        print(json.dumps(result))
        return

    sizes = [int(float(s)) for s in args.sizes.split(",")]
    folder_ctx = tempfile.TemporaryDirectory(prefix="heedful-scale-") if args.folder is None else None
    folder = Path(folder_ctx.name if folder_ctx else args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    runs = []
    load_at_start = os.getloadavg()
    for n in sizes:
        with_spark = n <= args.spark_max
        data = generate(folder, n, parquet=with_spark)
        row: dict[str, Any] = {"orders": n, "customers": data["customers"], "generate_s": data["generate_s"]}
        row["duckdb"] = run_worker(["duckdb", data["duckdb_file"], str(args.threads or 0)], args.timeout)
        if with_spark:
            row["spark"] = run_worker(["spark", data["parquet"], args.master, args.driver_memory], args.timeout)
            d, s = row["duckdb"].get("seconds"), row["spark"].get("seconds")
            if d and s:
                row["ratio"] = round(s / d, 2)
                row["same_result"] = (
                    row["duckdb"]["customers_out"] == row["spark"]["customers_out"]
                    and abs(row["duckdb"]["mean_frequency"] - row["spark"]["mean_frequency"]) < 1e-9
                )
        else:
            row["spark"] = {"skipped": f"above --spark-max {args.spark_max:.0e}"}
        runs.append(row)
        for file in folder.glob(f"orders_{n}.*"):
            file.unlink()
        print(json.dumps(row), file=sys.stderr, flush=True)
    doc = {
        "benchmark": "customer value summaries + RFM, DuckDB vs Spark local mode",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "spark_master": args.master,
        "load_average_at_start": load_at_start,
        "load_average_at_end": os.getloadavg(),  # other jobs on the machine inflate the times
        "runs": runs,
    }
    print(json.dumps(doc, indent=2))
    if folder_ctx:
        folder_ctx.cleanup()


if __name__ == "__main__":
    main()
