"""Benchmark: the full customer-focus report for 1M customers and 1M feedback items (target < 60 s).

Generates synthetic precomputed tables (customers, orders, feedback + listening results, survey
answers, customer value, operations) into a DuckDB file, then times — from that store — building
the report (reading the tables, scorecards, alerts, every section), rendering the HTML, and
optionally printing the PDF with headless Chromium. There is no peer library that builds such a
report, so the ratio printed is against the 60 s budget. Prints one JSON document.

    .venv/bin/python bench/bench_report.py [--customers 1000000] [--feedback 1000000] [--pdf] [--keep FILE]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from heedful.journey.synthetic import SyntheticSpec, canonical_tables, make_journey_data  # noqa: E402
from heedful.report.report import render_html, write_pdf  # noqa: E402
from heedful.services.report import build_report  # noqa: E402
from heedful.store import connect  # noqa: E402

BUDGET_S = 60.0
PERIOD = "2026-10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--pdf", action="store_true", help="also print the PDF with /usr/bin/chromium")
    parser.add_argument("--keep", type=Path, help="keep the generated DuckDB file here (and reuse it if it exists)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="heedful-bench-report-"))
    db_path = args.keep or folder / "bench.duckdb"
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    if not db_path.exists():
        t = time.perf_counter()
        spec = SyntheticSpec(
            customers=args.customers,
            feedback=args.feedback,
            months=args.months,
            end=PERIOD,
            positive_rate={"delivery_speed": {PERIOD: 0.5}},
            nps_answers_per_month=max(200, args.customers // 200),
            staff=500,
            staff_feedback=5_000,
            orders_per_customer=2.0,
            seed=42,
        )
        tables = canonical_tables(make_journey_data(spec))
        timings["generate_s"] = time.perf_counter() - t
        t = time.perf_counter()
        with connect(f"duckdb:///{db_path}") as store:
            for name, frame in tables.items():
                rows[name] = store.insert_new(name, frame)
        del tables
        timings["load_into_duckdb_s"] = time.perf_counter() - t

    with connect(f"duckdb:///{db_path}") as store:
        rows = rows or {t: store.count(t) for t in ("customers", "orders", "feedback", "answers", "customer_value")}
        t, cpu = time.perf_counter(), time.process_time()
        report = build_report(store, PERIOD)
        timings["build_report_s"] = time.perf_counter() - t
        # CPU seconds of this process: the machine is shared, so wall time overstates the cost.
        timings["build_report_cpu_s"] = time.process_time() - cpu
    t = time.perf_counter()
    html = render_html(report)
    timings["render_html_s"] = time.perf_counter() - t
    (folder / "report.html").write_text(html, encoding="utf-8")
    if args.pdf:
        t = time.perf_counter()
        write_pdf(render_html(report, for_print=True), folder / "report.pdf")
        timings["print_pdf_s"] = time.perf_counter() - t
    total = timings["build_report_s"] + timings["render_html_s"] + timings.get("print_pdf_s", 0.0)
    print(
        json.dumps(
            {
                "benchmark": "customer-focus report from precomputed tables",
                "rows": rows,
                "timings_s": {k: round(v, 2) for k, v in timings.items()},
                "report_total_s": round(total, 2),
                "budget_s": BUDGET_S,
                "ratio_vs_budget": round(total / BUDGET_S, 3),
                "within_budget": total < BUDGET_S,
                "sections_available": {s.key: s.available for s in report.sections},
                "alerts": len(report.alerts),
                "html_mb": round(len(html) / 1e6, 2),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 0),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "load_average_1m": round(os.getloadavg()[0], 1),
                },
                "output": str(folder),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
