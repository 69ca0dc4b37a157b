"""Benchmark: import the full UCI Online Retail file (541,909 rows) into DuckDB, validation included.

Compares with a plain `pandas.read_csv` + `DataFrame.to_sql` (sqlite3) baseline measured in the same run.
Each case runs in its own process so its peak RSS is its own. Prints one JSON document.

    .venv/bin/python bench/bench_import.py                       # full file, heedful vs pandas baseline
    .venv/bin/python bench/bench_import.py --replicate 10000000  # also a 10M-row replication (minutes)

The replicated run commits every 250,000 rows unless --commit-every says otherwise: DuckDB holds an
open transaction's changes (the customer index's among them) in memory, and smaller chunks keep the
peak lower. Peak RSS is each case's own (VmHWM), not the parent's carried over by fork and exec.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "uci_online_retail" / "online_retail.csv.gz"
STORE_MEMORY_LIMIT = "1GB"  # DuckDB buffer pool of the store during chunked imports
REPLICATED_COMMIT_EVERY = 250_000


def _peak_rss_mb() -> float:
    """Peak RSS of this process since it started (VmHWM).

    Not `getrusage(RUSAGE_SELF).ru_maxrss`: Linux carries that over from the parent across fork and
    exec, so a case started after `replicate` (DuckDB sorting the 10M-row copy in the parent,
    about 3 GB) reported the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def case_heedful(path: str, workdir: str, commit_every: int | None = None) -> dict[str, object]:
    from heedful.ingest import import_file
    from heedful.store import connect

    store = connect(f"duckdb:///{Path(workdir) / 'bench.duckdb'}")
    if commit_every:
        store.execute(f"SET memory_limit = '{STORE_MEMORY_LIMIT}'")
    cpu0, t0 = time.process_time(), time.perf_counter()
    result = import_file(store, path, "orders", preset="online-retail", commit_every=commit_every)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    store.close()
    return {
        "rows": result.rows_read,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(result.rows_read / seconds),
        "accepted": result.accepted,
        "rejected": result.rejected,
        "duplicates": result.duplicates,
        "peak_rss_mb": round(_peak_rss_mb()),
        "commit_every": commit_every,
    }


def case_pandas(path: str, workdir: str, commit_every: int | None = None) -> dict[str, object]:
    import sqlite3

    import pandas as pd

    con = sqlite3.connect(Path(workdir) / "baseline.sqlite")
    dtype = {"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"}
    cpu0, t0 = time.process_time(), time.perf_counter()
    rows = 0
    for chunk in pd.read_csv(path, dtype=dtype, parse_dates=["InvoiceDate"], chunksize=1_000_000):
        chunk.to_sql("orders", con, if_exists="append", index=False, chunksize=50_000)
        rows += len(chunk)
    con.commit()
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    con.close()
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "rows_per_s": round(rows / seconds),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


CASES = {"heedful": case_heedful, "pandas_to_sql": case_pandas}


def run_case(name: str, path: Path, commit_every: int = 0) -> dict[str, object]:
    """Run one case in a fresh interpreter so that peak RSS is measured per case."""
    with tempfile.TemporaryDirectory(prefix="heedful-bench-") as workdir:
        args = ["--case", name, "--file", str(path), "--workdir", workdir, "--commit-every", str(commit_every)]
        out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
        if out.returncode != 0:
            return {"failed": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _ratio(ours: dict[str, object], theirs: dict[str, object]) -> float | None:
    if "rows_per_s" not in ours or "rows_per_s" not in theirs:
        return None
    return round(float(ours["rows_per_s"]) / float(theirs["rows_per_s"]), 2)  # type: ignore[arg-type]


def replicate(source: Path, rows: int, target: Path) -> None:
    """The Online Retail file repeated until `rows` lines; each copy gets its own invoice numbers."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    copies = -(-rows // 541_909)
    con.execute(
        f"""COPY (
          SELECT CASE WHEN starts_with(InvoiceNo, 'C') THEN 'C' || k || '-' || substr(InvoiceNo, 2)
                      ELSE k || '-' || InvoiceNo END AS InvoiceNo,
                 StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country
          FROM range({copies}) AS r(k),
               read_csv('{source}', all_varchar = true, header = true)
          ORDER BY k
          LIMIT {rows}
        ) TO '{target}' (HEADER, DELIMITER ',')"""
    )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--replicate", type=int, default=0, help="also import a replication to this many rows")
    parser.add_argument("--baseline-replicated", action="store_true", help="run the pandas baseline on it too")
    parser.add_argument(
        "--commit-every",
        type=int,
        default=0,
        help=f"rows per commit (0: one transaction); the replicated run uses {REPLICATED_COMMIT_EVERY:,} unless given",
    )
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(CASES[args.case](str(args.file), args.workdir, args.commit_every or None)))
        return
    if not args.file.is_file():
        print(json.dumps({"skipped": f"{args.file} not found"}))
        return
    report: dict[str, object] = {"cpus": os.cpu_count(), "load_average": os.getloadavg(), "file": str(args.file)}
    heedful = run_case("heedful", args.file, args.commit_every)
    baseline = run_case("pandas_to_sql", args.file)
    report["online_retail"] = {
        "heedful": heedful,
        "pandas_to_sql": baseline,
        "speedup_vs_pandas": _ratio(heedful, baseline),
        "target_rows_per_s": 200_000,
    }
    if args.replicate:
        with tempfile.TemporaryDirectory(prefix="heedful-bench-rep-") as tmp:
            big = Path(tmp) / f"online_retail_x{args.replicate}.csv"
            replicate(args.file, args.replicate, big)
            chunk = args.commit_every or REPLICATED_COMMIT_EVERY
            section: dict[str, object] = {"rows": args.replicate, "heedful": run_case("heedful", big, chunk)}
            if args.baseline_replicated:
                base = run_case("pandas_to_sql", big)
                section["pandas_to_sql"] = base
                section["speedup_vs_pandas"] = _ratio(section["heedful"], base)  # type: ignore[arg-type]
            report["replicated"] = section
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
