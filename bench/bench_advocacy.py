"""Benchmark: peer matching of 50k customers to 5k advocates (target < 30 s on 2 cores).

Compares, in the same run and on the same pruned candidate graph, heedful's exact assignment with a
greedy best-pair-first baseline (total similarity and time), and measures what pruning to the top-K
advocates per customer costs against the unpruned exact optimum on a smaller instance.
Prints one JSON document.

    .venv/bin/python bench/bench_advocacy.py [--candidates 50000] [--advocates 5000]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "2")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402

from heedful.advocacy.matching import (  # noqa: E402
    CandidateEdges,
    candidate_edges,
    greedy_assignment,
    match_peers,
    solve_assignment,
    total_score,
)


def synthetic_people(n: int, prefix: str, rng: np.random.Generator, tenure: tuple[int, int]) -> pd.DataFrame:
    """Profiles shaped like a retailer's: Zipf-popular products, a few segments, industries, countries, themes."""
    n_products = 3000
    popularity = 1.0 / np.arange(1, n_products + 1) ** 1.1
    popularity /= popularity.sum()
    segments = [f"segment_{i}" for i in range(10)]
    industries = [f"industry_{i}" for i in range(20)]
    countries = [f"country_{i}" for i in range(30)]
    themes = [f"theme_{i}" for i in range(15)]
    sizes = rng.integers(1, 12, n)
    return pd.DataFrame(
        {
            "customer_id": [f"{prefix}{i}" for i in range(n)],
            "segment": rng.choice(segments, n),
            "products": [list(set(rng.choice(n_products, s, p=popularity).astype(str))) for s in sizes],
            "attributes": [
                {"industry": industries[a], "country": countries[b]}
                for a, b in zip(rng.integers(0, 20, n), rng.integers(0, 30, n), strict=True)
            ],
            "themes": [list(rng.choice(themes, rng.integers(0, 4), replace=False)) for _ in range(n)],
            "tenure_days": rng.integers(*tenure, n),
        }
    )


def exact_dense(scores: np.ndarray, capacity: np.ndarray) -> float:
    """The unpruned optimum by linear_sum_assignment on advocate slots plus one 'unmatched' column per customer."""
    slots = np.repeat(np.arange(scores.shape[1]), capacity)
    n = scores.shape[0]
    gain = np.concatenate([np.maximum(scores[:, slots], 0.0), np.zeros((n, n))], axis=1)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    return float(gain[rows, cols].sum())


def pruning_gap(rng: np.random.Generator, top_k: int) -> dict[str, float]:
    cands = synthetic_people(2000, "c", rng, (0, 120))
    advs = synthetic_people(200, "a", rng, (200, 3000)).assign(capacity=rng.integers(1, 6, 200), peer_opt_in=True)
    cap = advs["capacity"].to_numpy()
    full = candidate_edges(cands, advs, top_k=advs.shape[0], min_score=0.0)
    dense = np.zeros((full.n_rows, full.n_cols))
    dense[full.rows, full.cols] = full.scores
    unpruned = exact_dense(dense, cap)
    pruned_edges = candidate_edges(cands, advs, top_k=top_k, min_score=0.0)
    pruned = total_score(pruned_edges, solve_assignment(pruned_edges, cap))
    return {"unpruned_optimum": unpruned, "top_k_optimum": pruned, "gap": (unpruned - pruned) / unpruned}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=50_000)
    parser.add_argument("--advocates", type=int, default=5_000)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cands = synthetic_people(args.candidates, "c", rng, (0, 120))
    advs = synthetic_people(args.advocates, "a", rng, (60, 3000))
    advs = advs.assign(capacity=rng.integers(1, 6, args.advocates), peer_opt_in=rng.random(args.advocates) < 0.9)

    t0 = time.perf_counter()
    result = match_peers(cands, advs, top_k=args.top_k)
    t_full = time.perf_counter() - t0

    opted = advs[advs["peer_opt_in"]].reset_index(drop=True)
    cap = opted["capacity"].to_numpy()
    t0 = time.perf_counter()
    edges: CandidateEdges = candidate_edges(cands, opted, top_k=args.top_k)
    t_graph = time.perf_counter() - t0
    t0 = time.perf_counter()
    optimal = solve_assignment(edges, cap)
    t_exact = time.perf_counter() - t0
    t0 = time.perf_counter()
    greedy = greedy_assignment(edges, cap)
    t_greedy = time.perf_counter() - t0
    opt_score, greedy_score = total_score(edges, optimal), total_score(edges, greedy)

    report = {
        "benchmark": "peer matching",
        "candidates": args.candidates,
        "advocates": args.advocates,
        "advocates_opted_in": len(opted),
        "slots": int(cap.sum()),
        "top_k": args.top_k,
        "edges": int(edges.rows.size),
        "cpu_threads": os.environ["OMP_NUM_THREADS"],
        "heedful_match_peers_seconds": round(t_full, 2),
        "target_seconds": 30,
        "within_target": t_full < 30,
        "matched": len(result.matches),
        "stages_seconds": {"candidate_graph": round(t_graph, 2), "exact_assignment": round(t_exact, 2)},
        "greedy_baseline": {
            "seconds_assignment": round(t_greedy, 2),
            "seconds_with_graph": round(t_graph + t_greedy, 2),
            "total_score": round(greedy_score, 3),
            "matched": int((greedy >= 0).sum()),
        },
        "exact": {
            "seconds_with_graph": round(t_graph + t_exact, 2),
            "total_score": round(opt_score, 3),
            "matched": int((optimal >= 0).sum()),
        },
        "greedy_optimality_gap": round((opt_score - greedy_score) / opt_score, 5),
        "time_ratio_exact_vs_greedy": round((t_graph + t_exact) / (t_graph + t_greedy), 2),
        "top_k_pruning_vs_unpruned_optimum_2000x200": pruning_gap(rng, args.top_k),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
