"""Benchmark: summary + BG/NBD fit + Gamma-Gamma fit + 12-month CLV for every customer.

heedful against lifetimes (and PyMC-Marketing's MAP fit where it is installed), on the CDNOW sample
and on simulated customers. Each pipeline runs in its own process (so peak memory is its own) and
prints one JSON document at the end:

    .venv/bin/python bench/bench_value.py                  # CDNOW + 1M simulated customers
    .venv/bin/python bench/bench_value.py --customers 100000 --peer-timeout 600
    PYMC_PYTHON=/path/to/python bench/bench_value.py       # interpreter that has pymc-marketing

Times are wall-clock seconds on this machine; `ratio` is the fastest peer's time / heedful's time,
measured in the same run. Parameters are compared to 3 significant digits.

`--whole-process` times what a user waits for instead, start-up and reading included: one CSV of
simulated transactions (customer_id, ordered_at, amount), then each side as a fresh process on it —
heedful's real command `heedful value clv FILE.csv --json > out.json`, and a script doing what a
lifetimes user does (pandas.read_csv, summary_data_from_transaction_data, BetaGeoFitter,
GammaGammaFitter, customer_lifetime_value, the same JSON written). lifetimes lives in its own
interpreter (it is not in heedful's environment):

    python3.11 -m venv /tmp/ltvenv && /tmp/ltvenv/bin/pip install lifetimes pandas==2.3.3
    .venv/bin/python bench/bench_value.py --whole-process --peer-python /tmp/ltvenv/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ROOT.parent / "shared" / "data" / "cdnow" / "CDNOW_sample.txt"
CDNOW_CAL_END = "1997-09-30"
HORIZON_MONTHS = 12
DISCOUNT = 0.01


# ---------------------------------------------------------------------- data
def write_datasets(folder: Path, customers: int) -> dict[str, dict[str, Any]]:
    """Parquet transaction files (customer_id, ordered_at, amount) and their observation ends."""
    from heedful.value.simulate import simulate_transactions

    sets: dict[str, dict[str, Any]] = {}
    if CDNOW.exists():
        tx = pd.read_csv(
            CDNOW, sep=r"\s+", header=None, names=["m", "customer_id", "date", "cds", "amount"], dtype={"date": str}
        )
        tx["ordered_at"] = pd.to_datetime(tx["date"], format="%Y%m%d")
        tx = tx[tx["ordered_at"] <= CDNOW_CAL_END][["customer_id", "ordered_at", "amount"]]
        path = folder / "cdnow.parquet"
        tx.to_parquet(path)
        sets["cdnow"] = {"path": str(path), "end": CDNOW_CAL_END, "transactions": len(tx)}
    tx = simulate_transactions(customers, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=42)
    path = folder / f"sim_{customers}.parquet"
    tx.to_parquet(path)
    end = str((tx["ordered_at"].max()).date())
    sets[f"simulated_{customers}"] = {"path": str(path), "end": end, "transactions": len(tx), "customers": customers}
    return sets


# ---------------------------------------------------------------------- pipelines (run in workers)
class Stopwatch:
    """Wall and CPU seconds per stage (CPU time is the fair measure on a shared, busy machine)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._start = (time.perf_counter(), time.process_time())
        self._last = self._start

    def lap(self, stage: str) -> None:
        now = (time.perf_counter(), time.process_time())
        self.wall[stage] = now[0] - self._last[0]
        self.cpu[stage] = now[1] - self._last[1]
        self._last = now

    def report(self) -> dict[str, dict[str, float]]:
        self.wall["total"] = self._last[0] - self._start[0]
        self.cpu["total"] = self._last[1] - self._start[1]
        return {"timings": self.wall, "cpu_seconds": self.cpu}


def peak_memory_mb() -> float:
    """VmHWM of this process (ru_maxrss would include the parent's memory inherited at fork)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_heedful(path: str, end: str) -> dict[str, Any]:
    import ibis

    from heedful.value import BetaGeo, GammaGamma, clv_table, fit_clv_models, transaction_summary

    con = ibis.duckdb.connect()
    # the orders sit in the store (a DuckDB table), as the peers get theirs in a DataFrame: loading is not timed
    orders = con.create_table("orders", con.read_parquet(path))
    watch = Stopwatch()
    summary = transaction_summary(orders, time_unit="W", observation_end=end)
    watch.lap("summary")
    # the two fits side by side, as `heedful value clv` runs them (one stage: their times overlap)
    bg, gg = fit_clv_models(summary, BetaGeo(), GammaGamma())
    watch.lap("bgnbd_and_gamma_gamma_fit")
    assert gg is not None
    clv = clv_table(bg, gg, summary, horizon_months=HORIZON_MONTHS, discount_rate=DISCOUNT, time_unit="W")
    watch.lap("clv")
    return {
        **watch.report(),
        "customers": len(summary),
        "bgnbd": bg.params_.to_dict(),
        "bgnbd_converged": bool(bg.converged_),
        "bgnbd_ll": bg.log_likelihood_,
        "gamma_gamma": gg.params_.to_dict(),
        "gamma_gamma_converged": bool(gg.converged_),
        "total_clv": float(clv["clv"].sum()),
    }


def run_lifetimes(path: str, end: str) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter
    from lifetimes.utils import summary_data_from_transaction_data

    tx = pd.read_parquet(path)  # loading is not timed (nor is heedful's load into DuckDB)
    watch = Stopwatch()
    # days as the period, then weeks as the unit: the literature's convention (several orders a day = one)
    summary = summary_data_from_transaction_data(
        tx, "customer_id", "ordered_at", monetary_value_col="amount", observation_period_end=end, freq="D"
    )
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    watch.lap("summary")
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    watch.lap("bgnbd_fit")
    repeat = summary[summary["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    watch.lap("gamma_gamma_fit")
    clv = gg.customer_lifetime_value(
        bg,
        summary["frequency"],
        summary["recency"],
        summary["T"],
        summary["monetary_value"],
        time=HORIZON_MONTHS,
        discount_rate=DISCOUNT,
        freq="W",
    )
    watch.lap("clv")
    return {
        **watch.report(),
        "customers": len(summary),
        "bgnbd": {k: float(v) for k, v in bg.params_.items()},
        "gamma_gamma": {k: float(v) for k, v in gg.params_.items()},
        "total_clv": float(clv.sum()),
    }


def run_pymc(path: str, end: str) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
    from pymc_marketing.clv.utils import rfm_summary

    tx = pd.read_parquet(path)
    watch = Stopwatch()
    summary = rfm_summary(
        tx, "customer_id", "ordered_at", monetary_value_col="amount", observation_period_end=end, time_unit="D"
    )
    summary["recency"] /= 7.0
    summary["T"] /= 7.0
    watch.lap("summary")
    bg = BetaGeoModel(data=summary[["customer_id", "frequency", "recency", "T"]])
    bg.fit(method="map")
    watch.lap("bgnbd_fit")
    repeat = summary[summary["frequency"] > 0]
    gg = GammaGammaModel(data=repeat[["customer_id", "frequency", "monetary_value"]])
    gg.fit(method="map")
    watch.lap("gamma_gamma_fit")
    clv = gg.expected_customer_lifetime_value(
        transaction_model=bg, data=repeat, future_t=HORIZON_MONTHS, discount_rate=DISCOUNT, time_unit="W"
    )
    watch.lap("clv")
    post = bg.idata.posterior
    return {
        **watch.report(),
        "customers": len(summary),
        "bgnbd": {k: float(post[k].values.ravel()[0]) for k in ("r", "alpha", "a", "b")},
        "gamma_gamma": {k: float(gg.idata.posterior[k].values.ravel()[0]) for k in ("p", "q", "v")},
        "total_clv": float(np.asarray(clv).sum()),
        "note": "MAP with PyMC-Marketing's default priors (not the MLE); CLV for repeat customers only",
    }


WORKERS = {"heedful": run_heedful, "lifetimes": run_lifetimes, "pymc-marketing": run_pymc}


def worker_main(name: str, path: str, end: str) -> None:
    result = WORKERS[name](path, end)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = peak_memory_mb()
    result["process_cpu_seconds"] = usage.ru_utime + usage.ru_stime  # includes loading data and imports
    print("RESULT " + json.dumps(result))


# ---------------------------------------------------------------------- driver
def run_worker(name: str, dataset: dict[str, Any], timeout: float, python: str) -> dict[str, Any]:
    cmd = [python, str(Path(__file__).resolve()), "--worker", name, dataset["path"], dataset["end"]]
    started = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"did not finish within {timeout:.0f} s"}
    wall = time.perf_counter() - started
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            result["status"] = "ok"
            result["process_wall_s"] = wall
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"status": "failed", "error": " | ".join(tail)}


def same_to_3_significant(a: dict[str, float], b: dict[str, float]) -> bool:
    return all(float(f"{a[k]:.3g}") == float(f"{b[k]:.3g}") for k in a if k in b)


# ---------------------------------------------------------------------- whole processes
LIFETIMES_SCRIPT = """
import json, sys, warnings
warnings.simplefilter("ignore")
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
from lifetimes.utils import summary_data_from_transaction_data

path, out, horizon, discount, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
tx = pd.read_csv(path, parse_dates=["ordered_at"])
summary = summary_data_from_transaction_data(
    tx, "customer_id", "ordered_at", monetary_value_col="amount", observation_period_end=tx["ordered_at"].max(), freq="D"
)
summary["recency"] /= 7.0
summary["T"] /= 7.0
bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
repeat = summary[summary["frequency"] > 0]
gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
summary["p_alive"] = bg.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
summary["clv"] = gg.customer_lifetime_value(
    bg, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"],
    time=horizon, discount_rate=discount, freq="W",
)
best = summary.sort_values("clv", ascending=False).head(top).reset_index()
with open(out, "w") as fh:
    json.dump({
        "n_customers": len(summary),
        "params": {k: float(v) for k, v in bg.params_.items()},
        "spend_params": {k: float(v) for k, v in gg.params_.items()},
        "total_clv": float(summary["clv"].sum()),
        "customers": json.loads(best.to_json(orient="records")),
    }, fh)
"""


def write_transactions_csv(path: Path, customers: int) -> dict[str, Any]:
    """The simulated transactions as one CSV (DuckDB writes it: pandas' to_csv takes a minute for 10M rows)."""
    import duckdb

    from heedful.value.simulate import simulate_transactions

    tx = simulate_transactions(customers, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=42)
    con = duckdb.connect()
    con.register("tx", tx)
    con.execute(
        f"COPY (SELECT customer_id, strftime(ordered_at, '%Y-%m-%d') AS ordered_at, round(amount, 2) AS amount "
        f"FROM tx) TO '{path}' (HEADER, DELIMITER ',')"
    )
    con.close()
    return {"path": str(path), "transactions": len(tx), "customers": customers, "bytes": path.stat().st_size}


def timed_process(cmd: list[str], timeout: float, stdout: Path | None = None) -> dict[str, Any]:
    """Wall seconds and CPU seconds (user + system, children included) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    try:
        with open(stdout or os.devnull, "w") as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "error": f"did not finish within {timeout:.0f} s"}
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        return {"status": "failed", "error": " | ".join(proc.stderr.strip().splitlines()[-3:])}
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"status": "ok", "wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}


def whole_process(customers: int, peer_python: str | None, timeout: float, repeat: int) -> dict[str, Any]:
    """heedful's `value clv FILE.csv` and the lifetimes pipeline as fresh processes on the same CSV."""
    heedful = Path(sys.executable).parent / "heedful"
    heedful_cmd = [str(heedful)] if heedful.is_file() else [sys.executable, "-m", "heedful.cli.main"]
    out: dict[str, Any] = {
        "benchmark": "whole process: start-up + read CSV + summary + BG/NBD + Gamma-Gamma + 12-month CLV + write",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_at_start": os.getloadavg(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = write_transactions_csv(folder / f"transactions_{customers}.csv", customers)
        out["data"] = {k: v for k, v in data.items() if k != "path"}
        script = folder / "lifetimes_clv.py"
        script.write_text(LIFETIMES_SCRIPT)
        runs: dict[str, list[dict[str, Any]]] = {"heedful": [], "lifetimes": []}
        results: dict[str, Any] = {}
        for _ in range(repeat):  # interleaved, so a busy moment hits both sides
            ours = folder / "heedful.json"
            # BG/NBD on both sides (heedful's default is MBG/NBD; lifetimes' script fits BetaGeoFitter)
            cmd = [*heedful_cmd, "value", "clv", data["path"], "--model", "bgnbd", "--horizon", str(HORIZON_MONTHS)]
            runs["heedful"].append(timed_process([*cmd, "--discount-rate", str(DISCOUNT), "--json"], timeout, ours))
            if runs["heedful"][-1]["status"] == "ok":
                results["heedful"] = json.loads(ours.read_text())
            if peer_python:
                theirs = folder / "lifetimes.json"
                args = [data["path"], str(theirs), str(HORIZON_MONTHS), str(DISCOUNT), "50"]
                runs["lifetimes"].append(timed_process([peer_python, str(script), *args], timeout))
                if runs["lifetimes"][-1]["status"] == "ok":
                    results["lifetimes"] = json.loads(theirs.read_text())
    out["runs"] = runs
    out["heedful_command"] = " ".join([*heedful_cmd, "value", "clv", "FILE.csv", "--model", "bgnbd", "--json"])
    best = {k: min((r["wall_s"] for r in v if r["status"] == "ok"), default=None) for k, v in runs.items()}
    out["best_wall_s"] = best
    if best["heedful"] and best["lifetimes"]:
        out["ratio_lifetimes_over_heedful"] = round(best["lifetimes"] / best["heedful"], 2)
        cpu = {k: min(r["cpu_s"] for r in v if r["status"] == "ok") for k, v in runs.items()}
        out["best_cpu_s"] = cpu
        out["cpu_ratio_lifetimes_over_heedful"] = round(cpu["lifetimes"] / cpu["heedful"], 2)
    if "heedful" in results and "lifetimes" in results:
        ours_r, theirs_r = results["heedful"], results["lifetimes"]
        out["same_bgnbd_params_3_significant"] = same_to_3_significant(ours_r["params"], theirs_r["params"])
        out["total_clv"] = {"heedful": ours_r["total_clv"], "lifetimes": theirs_r["total_clv"]}
        out["customers"] = {"heedful": ours_r["n_customers"], "lifetimes": theirs_r["n_customers"]}
    out["target"] = "heedful >= 10x faster than lifetimes, whole process"
    out["load_average_after"] = os.getloadavg()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--peer-timeout", type=float, default=1800)
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--worker", nargs=3, metavar=("NAME", "PATH", "END"))
    parser.add_argument("--whole-process", action="store_true", help="time both sides as fresh processes on a CSV")
    parser.add_argument("--peer-python", help="interpreter with lifetimes installed (--whole-process)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side (--whole-process); the best counts")
    args = parser.parse_args()
    if args.whole_process:
        peer = None if args.skip_peers else (args.peer_python or sys.executable)
        print(json.dumps(whole_process(args.customers, peer, args.peer_timeout, args.repeat), indent=2, default=float))
        return
    if args.worker:
        worker_main(*args.worker)
        return
    pymc_python = os.environ.get("PYMC_PYTHON", sys.executable)
    out: dict[str, Any] = {
        "benchmark": "summary + BG/NBD fit + Gamma-Gamma fit + 12-month CLV for all customers",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "load_average_at_start": os.getloadavg(),  # 1, 5, 15 min: other jobs on the machine inflate wall times
        "datasets": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        datasets = write_datasets(Path(tmp), args.customers)
        for key, dataset in datasets.items():
            entry: dict[str, Any] = {"transactions": dataset["transactions"], "runs": {}}
            entry["runs"]["heedful"] = run_worker("heedful", dataset, args.peer_timeout, sys.executable)
            if not args.skip_peers:
                entry["runs"]["lifetimes"] = run_worker("lifetimes", dataset, args.peer_timeout, sys.executable)
                entry["runs"]["pymc-marketing"] = run_worker("pymc-marketing", dataset, args.peer_timeout, pymc_python)
            ours = entry["runs"]["heedful"]
            peers = {k: v for k, v in entry["runs"].items() if k != "heedful" and v.get("status") == "ok"}
            if ours.get("status") == "ok":
                entry["customers"] = ours["customers"]
                if peers:
                    fastest = min(peers, key=lambda k: peers[k]["timings"]["total"])
                    entry["fastest_peer"] = fastest
                    entry["ratio_vs_fastest_peer"] = peers[fastest]["timings"]["total"] / ours["timings"]["total"]
                    fastest_cpu = min(peers, key=lambda k: peers[k]["cpu_seconds"]["total"])
                    entry["fastest_peer_cpu"] = fastest_cpu
                    entry["cpu_ratio_vs_fastest_peer"] = (
                        peers[fastest_cpu]["cpu_seconds"]["total"] / ours["cpu_seconds"]["total"]
                    )
                    entry["same_params_3_significant"] = {
                        k: {
                            "bgnbd": same_to_3_significant(ours["bgnbd"], v["bgnbd"]),
                            "gamma_gamma": same_to_3_significant(ours["gamma_gamma"], v["gamma_gamma"]),
                        }
                        for k, v in peers.items()
                    }
            entry["load_average_after"] = os.getloadavg()
            out["datasets"][key] = entry
            print(json.dumps({key: entry}, default=float), file=sys.stderr)
    print(json.dumps(out, indent=2, default=float))


if __name__ == "__main__":
    main()
