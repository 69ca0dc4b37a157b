"""Benchmark: listening speed against plain sentence-transformers, in the same run (issue 16's target).

Each contender runs in its own fresh Python process on the same clothing reviews, so model loading is
paid by each and reported apart:
- peer: `SentenceTransformer(<packaged all-MiniLM-L6-v2>).encode(texts)` with its default settings;
- default: `heedful.listen.classify.enrich` with the default taxonomy (what `listen classify` runs per
  batch: read, sentiment, themes, per-theme sentiment, PII redaction, rows);
- fast: the same with the static fast path (`--fast`): its piece vectors come from the packaged table
  (`listen/models/static_pieces.npz`, loading timed), so it loads neither torch nor the model.
items/s counts load + run (first call included); `run_items_per_s` is the run alone; `items_per_cpu_s`
is over the process's CPU time (all of it, data read included), less sensitive to a busy machine than
wall time. Ratios are over
the peer's items/s. With `--repeats N` the contenders take turns N times (peer, default, fast, peer, …)
and the median run of each is reported with every ratio, so a burst of load on a shared machine hits
them alike; the load averages at the start and the end are printed too. Prints one JSON document;
nothing is asserted.

    .venv/bin/python bench/bench_listen_speed.py [--data ../shared/data] [--items 2000] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
c0 = time.process_time()
kind, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
import pandas as pd
texts = pd.read_csv(path)["Review Text"].dropna().astype(str).tolist()[:n]
t1 = time.perf_counter()
if kind == "peer":
    from sentence_transformers import SentenceTransformer
    from heedful.listen.embed import model_path
    model = SentenceTransformer(model_path(), device="cpu")
    t2 = time.perf_counter()
    model.encode(texts)
else:
    from heedful.listen.classify import Classifier, enrich
    clf = Classifier.build(backend="static" if kind == "fast" else "transformer")
    t2 = time.perf_counter()
    enrich(clf, pd.DataFrame({"feedback_id": [str(i) for i in range(len(texts))], "text": texts}))
t3 = time.perf_counter()
print(json.dumps({"items": len(texts), "import_and_load_s": round(t2 - t1, 2), "run_s": round(t3 - t2, 2),
                  "data_read_s": round(t1 - t0, 2), "cpu_s": round(time.process_time() - c0, 2)}))
"""


def measure(kind: str, data: Path, items: int, threads: int) -> dict[str, float]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": str(threads),
        "HEEDFUL_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "TOKENIZERS_PARALLELISM": "false",
    }
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            kind,
            str(data / "womens_ecommerce_clothing_reviews" / "Womens Clothing E-Commerce Reviews.csv.gz"),
            str(items),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    total = result["import_and_load_s"] + result["run_s"]
    result["items_per_s"] = round(result["items"] / total, 1)
    result["run_items_per_s"] = round(result["items"] / result["run_s"], 1)
    result["items_per_cpu_s"] = round(result["items"] / result["cpu_s"], 1)
    return result


def median_run(results: list[dict[str, float]]) -> dict[str, float]:
    """The run with the median items/s (load included)."""
    return sorted(results, key=lambda r: r["items_per_s"])[len(results) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    load_start = [round(x, 2) for x in os.getloadavg()]
    runs: dict[str, list[dict[str, float]]] = {"peer": [], "default": [], "fast": []}
    for _ in range(args.repeats):
        for kind, results in runs.items():
            results.append(measure(kind, args.data, args.items, args.threads))
    peer, default, fast = (median_run(runs[k]) for k in ("peer", "default", "fast"))
    print(
        json.dumps(
            {
                "items": args.items,
                "threads": args.threads,
                "repeats": args.repeats,
                "load_average_start_end": [load_start, [round(x, 2) for x in os.getloadavg()]],
                "ratios_per_repeat": [
                    round(d["items_per_s"] / p["items_per_s"], 2)
                    for p, d in zip(runs["peer"], runs["default"], strict=True)
                ],
                "peer_sentence_transformers_encode": peer,
                "heedful_default": default,
                "heedful_fast": fast,
                "default_over_peer": round(default["items_per_s"] / peer["items_per_s"], 2),
                "fast_over_peer": round(fast["items_per_s"] / peer["items_per_s"], 2),
                "default_over_peer_per_cpu_s": round(default["items_per_cpu_s"] / peer["items_per_cpu_s"], 2),
                "default_over_peer_run_only": round(default["run_items_per_s"] / peer["run_items_per_s"], 2),
                "fast_over_peer_run_only": round(fast["run_items_per_s"] / peer["run_items_per_s"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
