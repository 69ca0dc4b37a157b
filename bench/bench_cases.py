"""Cases speed: opening cases in bulk, and the department inbox under load (issue 18, "Performance").

1. Opening: a DuckDB file with 100k negative or mixed feedback items and 10k completed survey responses
   with a detractor answer (every one a signal), then one `services.cases.open_cases` call, timed whole
   (reading the signals, planning, writing cases and their history). Target ≥ 5,000 cases/s. The second
   call (nothing new to open: re-running never duplicates) is timed too.
2. The department inbox with the ~100k cases open: `heedful.web.app:create_app` served by Uvicorn in a
   subprocess, signed in as an analyst (session cookie for the pages, an API token for the API), driven
   by 4 concurrent users (async httpx). Server time is the app's `Server-Timing: app;dur=` header (time
   serving the request, without the wait for the one DuckDB connection); client time is reported beside
   it. Target p99 < 100 ms (server time).

    .venv/bin/python bench/bench_cases.py                      # 100k feedback, 10k responses
    .venv/bin/python bench/bench_cases.py --feedback 20000 --responses 2000 --requests 100   # quicker

Run by hand; prints one JSON document. Never a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_web import _free_port, drive, server_ms, start_server  # one server starter and driver for the benchmarks

from heedful.services import cases as case_service
from heedful.services.accounts import Role, create_token, create_user
from heedful.services.surveys import create_survey
from heedful.store import Store, connect

EMAIL, PASSWORD = "bench-analyst@example.com", "bench-password-123"
NOW = datetime(2026, 11, 30, 12, 0)
THEMES = [
    "delivery_speed",
    "product_quality",
    "price_value",
    "customer_service",
    "website_usability",
    "returns_refunds",
]
DEPARTMENTS = ["delivery", "product", "sales", "support", "marketing", "services"]
SURVEY = """\
slug: bench-pulse
title: How are we doing?
pages:
  - id: main
    questions:
      - id: nps
        type: nps
        text: How likely is it that you would recommend us?
"""
TARGET_CASES_PER_S = 5000.0
TARGET_P99_MS = 100.0


def build_store(path: Path, customers: int, feedback: int, responses: int) -> dict[str, float]:
    """Customers with value, negative/mixed feedback with listening results, detractor responses: set-based SQL."""
    t = time.perf_counter()
    store = connect(f"duckdb:///{path}")
    raw = store.raw
    raw.execute("SELECT setseed(0.42)")
    start = NOW - timedelta(days=60)  # every signal inside the rules' 90-day look-back
    raw.execute(
        f"""INSERT INTO customers (customer_id, kind, name, email, country, created_at, source)
        SELECT 'C' || i, 'customer', 'Customer ' || i, 'c' || i || '@example.com', 'UK', TIMESTAMP '2024-01-01', 'bench'
        FROM range({customers}) t(i)"""
    )
    raw.execute(
        f"""INSERT INTO customer_value (customer_id, model, frequency, recency, T, monetary_value, p_alive,
                                        expected_purchases, clv, churn_risk, computed_at)
        SELECT 'C' || i, 'bgnbd', 3, 30, 200, 40, 0.6, 1.2, random() * 2000, 0.4, TIMESTAMP '{NOW}'
        FROM range({customers}) t(i)"""
    )
    themes = "[" + ",".join(f"'{x}'" for x in THEMES) + "]"
    departments = "[" + ",".join(f"'{x}'" for x in DEPARTMENTS) + "]"
    raw.execute(
        f"""INSERT INTO feedback (feedback_id, channel, customer_id, author_kind, text, rating, rating_scale, created_at, source)
        SELECT 'F' || i, 'review', 'C' || (i % {customers}), 'customer',
               'The parcel came late and the mug was chipped (' || i || ')', 1 + (i % 3), 5,
               TIMESTAMP '{start}' + INTERVAL (i % 5000) MINUTE * 17, 'bench'
        FROM range({feedback}) t(i)"""
    )
    raw.execute(
        f"""INSERT INTO feedback_enriched (feedback_id, text_hash, sentiment, sentiment_score, themes, department,
                                           model_version, processed_at)
        SELECT 'F' || i, 'h' || i, CASE WHEN i % 3 = 0 THEN 'mixed' ELSE 'negative' END, -0.2 - (i % 8) / 10.0,
               {themes}[1 + (i % 6)], {departments}[1 + (i % 6)], 'bench', TIMESTAMP '{NOW}'
        FROM range({feedback}) t(i)"""
    )
    survey_id = create_survey(store, SURVEY, "bench-pulse.yaml")["survey_id"]
    raw.execute(
        f"""INSERT INTO responses (response_id, survey_id, slug, customer_id, started_at, completed_at, source)
        SELECT 'R' || i, '{survey_id}', 'bench-pulse', 'C' || (i % {customers}),
               TIMESTAMP '{start}' + INTERVAL (i % 5000) MINUTE * 17,
               TIMESTAMP '{start}' + INTERVAL (i % 5000) MINUTE * 17 + INTERVAL 3 MINUTE, 'bench'
        FROM range({responses}) t(i)"""
    )
    raw.execute(
        f"""INSERT INTO answers (response_id, question_id, field, value, value_num, idempotency_key, answered_at)
        SELECT 'R' || i, 'nps', '', CAST(i % 7 AS VARCHAR), i % 7, 'R' || i || ':nps',
               TIMESTAMP '{start}' + INTERVAL (i % 5000) MINUTE * 17 + INTERVAL 2 MINUTE
        FROM range({responses}) t(i)"""
    )
    create_user(store, EMAIL, Role.analyst, PASSWORD)
    store.close()
    return {"build_s": round(time.perf_counter() - t, 1)}


def time_opening(path: Path) -> dict[str, Any]:
    """One whole `open_cases` call on the built store, then a second (nothing new) one."""
    store = connect(f"duckdb:///{path}")
    rules = case_service.load_rules(store)
    t = time.perf_counter()
    result = case_service.open_cases(store, rules, now=NOW, actor="bench")
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = case_service.open_cases(store, rules, now=NOW, actor="bench")
    second = time.perf_counter() - t
    open_cases = case_service.count_cases(store, now=NOW)
    store.close()
    return {
        "opened": result["opened"],
        "held_out": result["held_out"],
        "by_trigger": result["by_trigger"],
        "seconds": round(first, 2),
        "cases_per_s": round(result["opened"] / first, 0),
        "target_cases_per_s": TARGET_CASES_PER_S,
        "rerun_opened": again["opened"],
        "rerun_seconds": round(second, 2),
        "open_cases_listed": open_cases,
    }


def make_token(path: Path) -> str:
    store: Store = connect(f"duckdb:///{path}")
    rows = store.fetchall("SELECT user_id FROM users WHERE email = ?", [EMAIL])
    _, token = create_token(store, str(rows[0][0]), "bench")
    store.close()
    return token


async def drive_users(
    client: httpx.AsyncClient, paths: list[str], users: int, headers: dict[str, str]
) -> dict[str, Any]:
    """`users` concurrent users GET `paths`; server and client latency (bench_web's driver) against the target."""
    return {**await drive(client, paths, users, headers), "target_p99_ms": TARGET_P99_MS}


async def run_inbox(base: str, token: str, requests: int, users: int, seed: int = 3) -> dict[str, Any]:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        login = await client.get("/login")
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', login.text)
        assert csrf
        signed = await client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf.group(1)})
        assert signed.status_code == 303, signed.status_code

        def some(make: Any) -> list[str]:
            return [make(rng.choice(DEPARTMENTS), rng.randrange(1, 20)) for _ in range(requests)]

        cases = {
            "inbox_page": (some(lambda d, p: f"/cases?department={d}"), {}),
            "inbox_page_by_value": (some(lambda d, p: f"/cases?department={d}&sort=value&page={p}"), {}),
            "inbox_page_overdue": (some(lambda d, p: f"/cases?department={d}&overdue=1"), {}),
            "api_department_cases": (
                some(lambda d, p: f"/api/v1/cases?department={d}&limit=50&offset={50 * p}"),
                {"Authorization": f"Bearer {token}"},
            ),
        }
        results: dict[str, Any] = {}
        for name, (paths, headers) in cases.items():
            t = time.perf_counter()
            first = await client.get(paths[0], headers=headers)
            cold = {"cold_client_ms": round((time.perf_counter() - t) * 1000, 1), "cold_server_ms": server_ms(first)}
            results[name] = {**cold, **(await drive_users(client, paths, users, headers))}
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--feedback", type=int, default=100_000)
    parser.add_argument("--responses", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per inbox view")
    parser.add_argument("--users", type=int, default=4, help="concurrent users")
    parser.add_argument("--db", type=Path, help="DuckDB file to build (kept afterwards)")
    parser.add_argument("--skip-inbox", action="store_true", help="only time opening cases")
    args = parser.parse_args()

    path = args.db or Path(tempfile.mkdtemp(prefix="heedful-bench-cases-")) / "bench.duckdb"
    path.unlink(missing_ok=True)
    report: dict[str, Any] = {
        "benchmark": "cases",
        "customers": args.customers,
        "feedback_items": args.feedback,
        "survey_responses": args.responses,
        "cpu_count": os.cpu_count(),
        "build": build_store(path, args.customers, args.feedback, args.responses),
    }
    report["opening"] = time_opening(path)
    if not args.skip_inbox:
        token = make_token(path)
        port = _free_port()
        server = start_server(f"duckdb:///{path}", port)
        try:
            report["inbox"] = asyncio.run(run_inbox(f"http://127.0.0.1:{port}", token, args.requests, args.users))
        finally:
            server.terminate()
            server.wait(timeout=30)
        report["concurrent_users"] = args.users
    report["meets_targets"] = {
        "opening_cases_per_s": report["opening"]["cases_per_s"] >= TARGET_CASES_PER_S,
        **{f"{name}_p99": view["server_p99_ms"] < TARGET_P99_MS for name, view in report.get("inbox", {}).items()},
    }
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
