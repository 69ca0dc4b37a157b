"""Survey benchmarks (run by hand; prints one JSON document).

1. Hierarchical Bayes MNL for 1,000 respondents x 12 tasks x 4 alternatives x 6 attributes (five
   3-level attributes + a 4-level price), simulated respondents with known part-worths (target < 60 s
   on 2 cores). No peer HB library is installed (PyMC / NumPyro are absent), so the comparison is
   with heedful's own aggregate MNL on the same data, and recovery is reported against the truth.
2. Survey page submits against the real app served by Uvicorn on 127.0.0.1: an open-loop load of
   200 submissions per second, each a distinct respondent's first page; latency percentiles of the
   POST, and answers stored vs submissions acknowledged (target p99 < 50 ms, zero lost).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
os.environ.setdefault("MKL_NUM_THREADS", "2")

import asyncio
import json
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.surveys.simulate import simulate_conjoint  # noqa: E402

from heedful.surveys.conjoint import Conjoint  # noqa: E402

EXAMPLE = ROOT / "src" / "heedful" / "surveys" / "examples" / "customer-pulse.yaml"


def bench_hb() -> dict[str, object]:
    attrs = {f"a{i}": ["x", "y", "z"] for i in range(1, 6)}
    truth = {name: np.array([0.8, 0.0, -0.8]) * (1 - 0.12 * i) for i, name in enumerate(attrs)}
    data = simulate_conjoint(attrs, truth, [10, 20, 30, 40], -0.06, 1000, 12, 4, 0.5, seed=11)
    start = time.perf_counter()
    hb = Conjoint(method="hb", price_col="price", n_iter=4000, burn_in=2000, seed=1).fit(data)
    hb_seconds = time.perf_counter() - start
    start = time.perf_counter()
    Conjoint(method="mnl", price_col="price").fit(data)
    mnl_seconds = time.perf_counter() - start
    table = hb.summary.set_index(["attribute", "level"])
    est = np.concatenate([[table.loc[(a, lv), "utility"] for lv in ["x", "y", "z"]] for a in attrs])
    true = np.concatenate([truth[a] for a in attrs])
    wtp = float(table.loc[("a1", "z"), "wtp"])
    return {
        "respondents": 1000,
        "tasks": 12,
        "alternatives": 4,
        "attributes": 6,
        "parameters": hb.fit_stats_["n_parameters"],
        "iterations": 4000,
        "hb_seconds": round(hb_seconds, 2),
        "target_seconds": 60,
        "mnl_seconds": round(mnl_seconds, 2),
        "ratio_hb_over_mnl": round(hb_seconds / mnl_seconds, 1),
        "acceptance": round(float(hb.fit_stats_["acceptance"]), 3),
        "mean_rlh": round(float(hb.fit_stats_["mean_rlh"]), 3),
        "corr_population_partworths_vs_truth": round(float(np.corrcoef(est, true)[0, 1]), 4),
        "wtp_a1_z_vs_x": round(wtp, 2),
        "wtp_truth": round(float((truth["a1"][2] - truth["a1"][0]) / 0.06), 2),
        "peer": "none installed (PyMC/NumPyro absent); compared with heedful MNL on the same data",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _load(base: str, n: int, rate: float, server_cpu: Callable[[], float]) -> dict[str, object]:
    import httpx

    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        sessions = []
        for _ in range(n):  # each respondent opens the survey first (not timed)
            client.cookies.clear()
            page = await client.get("/s/customer-pulse")
            cookie = "; ".join(f"{k}={v}" for k, v in page.cookies.items())
            fields = dict(re.findall(r'name="(csrf_token|idempotency_key|page)" value="([^"]*)"', page.text))
            sessions.append((cookie, fields))
        client.cookies.clear()
        latencies: list[float] = []
        failures: list[float] = []
        acknowledged = 0

        async def submit(cookie: str, fields: dict[str, str]) -> None:
            nonlocal acknowledged
            data = fields | {"nps": "9", "csat": "4", "ces": "6"}
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    "/s/customer-pulse", data=data, headers={"Cookie": cookie}, follow_redirects=False
                )
            except httpx.HTTPError:
                failures.append(time.perf_counter() - t0)  # not acknowledged: the respondent would retry
                return
            latencies.append(time.perf_counter() - t0)
            if r.status_code == 303:
                acknowledged += 1

        cpu_before = server_cpu()
        start = time.perf_counter()
        tasks = []
        for i, (cookie, fields) in enumerate(sessions):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(submit(cookie, fields)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        cpu_used = server_cpu() - cpu_before
    lat = np.array(latencies + failures) * 1000  # failed requests count at the time they failed
    return {
        "submissions": n,
        "offered_rate_per_s": rate,
        "achieved_rate_per_s": round(n / elapsed, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
        "max_ms": round(float(lat.max()), 1),
        "acknowledged": acknowledged,
        "failed_requests": len(failures),
        # CPU the server process spent per submission: what bounds throughput when cores are shared
        "server_cpu_ms_per_submit": round(1000 * cpu_used / n, 2),
        "max_rate_per_s_on_one_free_core": round(n / cpu_used, 0) if cpu_used else None,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_submit(n: int = 1000, rate: float = 200.0) -> dict[str, object]:
    from heedful.services.surveys import save_definition
    from heedful.store import connect
    from heedful.surveys.definition import parse_survey

    folder = Path(tempfile.mkdtemp(prefix="hf-bench-"))
    url = f"duckdb:///{folder / 'bench.duckdb'}"
    with connect(url) as store:
        save_definition(store, parse_survey(EXAMPLE.read_text()))
    port = _free_port()
    code = (
        "import uvicorn; from heedful.web.app import create_app; "
        f"uvicorn.run(create_app({url!r}, secret_key='bench'), host='127.0.0.1', port={port}, log_level='warning')"
    )
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.2)
        result = asyncio.run(_load(f"http://127.0.0.1:{port}", n, rate, lambda: _cpu_seconds(server.pid)))
    finally:
        server.terminate()
        server.wait(timeout=30)
    with connect(url) as store:
        # each respondent's first page carries 4 fields incl. the page mark; count pages once
        stored = int(store.fetchall("SELECT COUNT(*) FROM answers WHERE question_id = '_page'")[0][0])
        nps_rows = int(store.fetchall("SELECT COUNT(*) FROM answers WHERE question_id = 'nps'")[0][0])
    result |= {
        "pages_stored": stored,
        "nps_answers_stored": nps_rows,
        "lost": result["acknowledged"] - stored,
        "target_p99_ms": 50,
    }  # type: ignore[operator]
    return result


if __name__ == "__main__":
    which = sys.argv[1:] or ["hb", "submit"]
    out: dict[str, object] = {"cpu_count": os.cpu_count(), "load_average_before": os.getloadavg()[0]}
    if "hb" in which:
        out["hb"] = bench_hb()
    if "submit" in which:
        out["submit"] = bench_submit()
        out["load_average_after"] = os.getloadavg()[0]
    if "submit-light" in which:  # the same at a tenth of the rate: latency when the server is not saturated
        out["submit_20_per_s"] = bench_submit(n=300, rate=20.0)
    print(json.dumps(out, indent=2))
