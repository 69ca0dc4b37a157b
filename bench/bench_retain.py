"""Benchmark heedful.retain: churn training/scoring at 1M customers and next-best offers at 100k × 5k.

Each phase runs in its own Python process so its peak memory is its own. Prints one JSON document.
Peers measured in the same run: scikit-learn's HistGradientBoostingClassifier (same rounds, leaves
and threads) for training; `implicit`'s ALS (if installed, `pip install -e '.[bench]'`) and the
popularity baseline for offers.

Usage: .venv/bin/python bench/bench_retain.py [--customers 1000000] [--features 50]
       [--offer-customers 100000] [--products 5000] [--threads 2]
Targets (issue 7): train 1M × 50 < 120 s on 2 cores, score 1M < 20 s, offers 100k × 5k < 60 s,
peak memory < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = round(time.perf_counter() - self.wall, 2)
        self.cpu = round(time.process_time() - self.cpu, 2)


def churn_data(n: int, p: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """n customers × p features: p − 5 numbers and 5 text columns; churn driven by 6 of them."""
    rng = np.random.default_rng(seed)
    numbers = rng.normal(size=(n, p - 5)).astype(np.float32)
    frame = pd.DataFrame(numbers, columns=[f"x{i}" for i in range(p - 5)])
    plans = np.array(["monthly", "yearly", "two-year", "trial"])
    for j in range(5):
        frame[f"cat{j}"] = pd.Categorical.from_codes(
            rng.integers(0, 4, n), plans if j == 0 else [f"l{k}" for k in range(4)]
        )
    logit = (
        numbers[:, 0]
        - 0.8 * numbers[:, 1]
        + 0.6 * numbers[:, 2] * numbers[:, 3]
        - 0.5 * np.abs(numbers[:, 4])
        + 1.0 * (frame["cat0"].cat.codes.to_numpy() == 0)
        - 1.0
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return frame, y


def phase_train(args: argparse.Namespace) -> dict[str, Any]:
    import lightgbm as lgb
    from sklearn.ensemble import HistGradientBoostingClassifier

    from heedful.retain.churn import ChurnModel

    X, y = churn_data(args.customers, args.features)
    model = ChurnModel(n_jobs=args.threads, n_bootstrap=200)
    with Timer() as fit:
        model.fit(X, y)
    report = model.report()
    matrix = model.encoder_.transform(X)
    cats = model.encoder_.categorical_indices
    rounds = model.best_rounds_
    with Timer() as final:  # one LightGBM fit on all rows, as inside fit(): the like-for-like peer comparison
        lgb.train(model._params(), lgb.Dataset(matrix, y, categorical_feature=cats), num_boost_round=rounds)
    peer = HistGradientBoostingClassifier(
        max_iter=rounds,
        learning_rate=model.learning_rate,
        max_leaf_nodes=model.num_leaves,
        max_depth=model.max_depth,
        min_samples_leaf=model.min_child_samples,
        l2_regularization=1.0,
        categorical_features=cats,
        early_stopping=False,
        random_state=0,
    )
    with Timer() as hgb:
        peer.fit(matrix, y)
    model.save(args.model_dir)
    return {
        "customers": args.customers,
        "features": args.features,
        "threads": args.threads,
        "fit_with_cv_seconds": fit.wall,
        "fit_with_cv_cpu_seconds": fit.cpu,
        "cv_rows": report["n_evaluated"],
        "cv_auc": round(report["cv_auc"], 4),
        "baseline_auc": round(report["baseline_auc"], 4),
        "boosting_rounds": rounds,
        "final_fit_seconds": final.wall,
        "final_fit_cpu_seconds": final.cpu,
        "peer_sklearn_hgb_seconds": hgb.wall,
        "peer_sklearn_hgb_cpu_seconds": hgb.cpu,
        "lightgbm_vs_hgb_speedup": round(hgb.wall / max(final.wall, 1e-9), 2),
        "peak_memory_mb": round(_peak_mb()),
    }


def phase_score(args: argparse.Namespace) -> dict[str, Any]:
    from heedful.retain.churn import ChurnModel

    X, _ = churn_data(args.customers, args.features, seed=1)
    model = ChurnModel.load(args.model_dir)
    with Timer() as risk:
        scores = model.score(X, reasons_for=0)
    explain_n = min(args.explain, len(X))
    with Timer() as explained:
        model.score(X, reasons_for=explain_n)
    return {
        "customers": len(X),
        "score_seconds": risk.wall,
        "score_cpu_seconds": risk.cpu,
        "score_with_reasons_for_top": explain_n,
        "score_with_reasons_seconds": explained.wall,
        "reasons_seconds_per_100k": round((explained.wall - risk.wall) / explain_n * 100_000, 2),
        "mean_risk": round(float(scores["churn_risk"].mean()), 4),
        "peak_memory_mb": round(_peak_mb()),
    }


def offer_orders(n_customers: int, n_products: int, seed: int = 0) -> pd.DataFrame:
    """~30 order lines per customer: mostly from one taste cluster of products, some best sellers."""
    rng = np.random.default_rng(seed)
    lines = rng.poisson(30, n_customers) + 1
    cust = np.repeat(np.arange(n_customers), lines)
    n_clusters = max(n_products // 100, 1)
    taste = rng.integers(0, n_clusters, n_customers)[cust]
    size = n_products // n_clusters
    in_cluster = taste * size + np.minimum(rng.zipf(1.3, len(cust)) - 1, size - 1)
    popular = np.minimum(rng.zipf(1.2, len(cust)) - 1, n_products - 1)
    product = np.where(rng.random(len(cust)) < 0.8, in_cluster, popular)
    return pd.DataFrame(
        {
            "customer_id": pd.Categorical.from_codes(cust, [f"c{i}" for i in range(n_customers)]).astype(str),
            "order_id": (cust * 10 + rng.integers(0, 5, len(cust))).astype(str),
            "product_id": pd.Categorical.from_codes(product, [f"p{i}" for i in range(n_products)]).astype(str),
            "product_name": "",
            "ordered_at": pd.Timestamp("2024-01-01"),
            "is_return": rng.random(len(cust)) < 0.02,
        }
    )


def phase_offers(args: argparse.Namespace) -> dict[str, Any]:
    from heedful.retain.offers import PurchaseHistory, bm25_weight, explain_offers, make_recommender

    orders = offer_orders(args.offer_customers, args.products)
    out: dict[str, Any] = {"customers": args.offer_customers, "products": args.products, "order_lines": len(orders)}
    with Timer() as build:
        history = PurchaseHistory.from_orders(orders)
    out["history_seconds"] = build.wall
    for method in ("svd", "item-item", "popularity"):
        with Timer() as t:
            model = make_recommender(method).fit(history)
            recs = model.recommend(None, 5)
        with Timer() as e:
            explain_offers(recs, history, getattr(model, "co_counts_", None))
        out[f"{method}_fit_recommend_seconds"] = t.wall
        out[f"{method}_explain_seconds"] = e.wall
        out[f"{method}_total_seconds"] = round(build.wall + t.wall + e.wall, 2)
    try:
        from implicit.als import AlternatingLeastSquares
    except ImportError:
        out["peer_implicit_als"] = "not installed"
    else:
        with Timer() as t:
            als = AlternatingLeastSquares(factors=64, iterations=15, random_state=0)
            user_items = bm25_weight(history.counts).tocsr()
            als.fit(user_items, show_progress=False)
            rows = np.arange(len(history.customers))
            als.recommend(rows, history.owned[rows], N=5, filter_already_liked_items=True)
        out["peer_implicit_als_fit_recommend_seconds"] = t.wall
        out["svd_vs_implicit_als_speed_ratio"] = round(t.wall / max(out["svd_fit_recommend_seconds"], 1e-9), 2)
    out["peak_memory_mb"] = round(_peak_mb())
    return out


PHASES = {"train": phase_train, "score": phase_score, "offers": phase_offers}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--offer-customers", type=int, default=100_000)
    parser.add_argument("--products", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--explain", type=int, default=100_000, help="Customers to explain when scoring.")
    parser.add_argument("--model-dir", default="bench/results/churn_model")
    parser.add_argument("--phases", default="train,score,offers")
    parser.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:  # child process: run one phase, print its JSON
        print(json.dumps(PHASES[args.phase](args)))
        return 0
    os.makedirs(os.path.dirname(args.model_dir) or ".", exist_ok=True)
    results: dict[str, Any] = {"load_average_at_start": [round(v, 1) for v in os.getloadavg()], "cpus": os.cpu_count()}
    forwarded = [a for a in sys.argv[1:] if not a.startswith("--phases")]
    for phase in args.phases.split(","):
        env = {
            **os.environ,
            "OMP_NUM_THREADS": str(args.threads),
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_WAIT_POLICY": "PASSIVE",
        }
        proc = subprocess.run(
            [sys.executable, __file__, *forwarded, "--phase", phase],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            results[phase] = {"error": proc.stderr[-2000:]}
            continue
        results[phase] = json.loads(proc.stdout.strip().splitlines()[-1])
    results["load_average_at_end"] = [round(v, 1) for v in os.getloadavg()]
    targets = {
        "train_under_120s": results.get("train", {}).get("fit_with_cv_seconds", 1e9) < 120,
        "score_under_20s": results.get("score", {}).get("score_seconds", 1e9) < 20,
        "offers_under_60s": results.get("offers", {}).get("svd_total_seconds", 1e9) < 60,
        "peak_memory_under_4gb": max(r.get("peak_memory_mb", 0) for r in results.values() if isinstance(r, dict))
        < 4096,
    }
    results["targets_met"] = targets
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
