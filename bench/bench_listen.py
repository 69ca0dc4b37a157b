"""Benchmark: listening throughput and theme discovery against BERTopic, on 2 CPU threads.

1. classify: feedback items per second end to end (`enrich`: segmentation, embedding, sentiment, themes,
   PII redaction, result rows) on real clothing reviews (~60 words each): the transformer backend, and the
   static-embedding fast path on its first call ("static_cold") and after 5,000 other reviews
   ("static_warm"); its piece vectors come from the packaged table, so no run computes any.
2. discover on 20k reviews: heedful's ThemeDiscovery vs BERTopic with default settings (its default
   embedding model is the same all-MiniLM-L6-v2, given here from the packaged copy because the machine
   is offline). Embeddings are computed once per backend and timed separately, so both the end-to-end
   figures and the clustering-only figures are reported; BERTopic and heedful-on-MiniLM share the same
   MiniLM vectors, heedful's fast path uses static SIF vectors (`embed_for_discovery`). UMAP's one-time
   numba compile is done before any timing. Topic quality: NPMI coherence of the top-10 words on the
   reviews, and agreement (NMI, ARI) with the SemEval-2014 aspect categories of the restaurant sentences
   whose category is unique.
Prints one JSON document.

    .venv/bin/python bench/bench_listen.py [--data ../shared/data] [--classify-items 2000] [--transformer-items 200]
        [--discover-items 20000] [--skip-discover] [--skip-bertopic]
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(var, "2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from heedful.listen.classify import Classifier, enrich  # noqa: E402
from heedful.listen.discover import ThemeDiscovery  # noqa: E402
from heedful.listen.embed import embed, embed_for_discovery, load_model  # noqa: E402
from heedful.services.listen_eval import CLOTHING_FILE, SEMEVAL_DIR, read_semeval  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def reviews(data: Path) -> list[str]:
    frame = pd.read_csv(data / CLOTHING_FILE)
    return frame["Review Text"].dropna().astype(str).tolist()


CPU_SECONDS: list[float] = []  # process CPU time of each timed() call (the machine may be shared)


def timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    cpu, start = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    CPU_SECONDS.append(time.process_time() - cpu)
    return out, time.perf_counter() - start


def npmi_coherence(topics: list[list[str]], docs: list[str], top: int = 10) -> float:
    """Mean NPMI of word pairs among each topic's top unigrams, from document co-occurrence in `docs`."""
    from sklearn.feature_extraction.text import CountVectorizer

    words = sorted({w for t in topics for w in t[:top]})
    if not words:
        return float("nan")
    X = CountVectorizer(vocabulary=words, binary=True, lowercase=True).fit_transform(docs).tocsc()
    n = X.shape[0]
    index = {w: i for i, w in enumerate(words)}
    scores = []
    for t in topics:
        t = [w for w in t[:top] if w in index]
        pair_scores = []
        for a, b in itertools.combinations(t, 2):
            ca, cb = X[:, index[a]], X[:, index[b]]
            pa, pb, pab = ca.sum() / n, cb.sum() / n, ca.multiply(cb).sum() / n
            if pab == 0:
                pair_scores.append(-1.0)
            elif pab == 1:
                pair_scores.append(1.0)
            else:
                pair_scores.append(float(np.log(pab / (pa * pb)) / -np.log(pab)))
        if pair_scores:
            scores.append(float(np.mean(pair_scores)))
    return float(np.mean(scores)) if scores else float("nan")


def unigrams(keywords: list[str]) -> list[str]:
    return [k for k in keywords if " " not in k]


def agreement(labels: np.ndarray, truth: list[str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    clustered = labels != -1
    t = np.asarray(truth)
    return {
        "nmi_clustered": round(float(normalized_mutual_info_score(t[clustered], labels[clustered])), 4),
        "ari_clustered": round(float(adjusted_rand_score(t[clustered], labels[clustered])), 4),
        "nmi_all_noise_as_cluster": round(float(normalized_mutual_info_score(t, labels)), 4),
        "clustered_share": round(float(clustered.mean()), 4),
        "clusters": len(set(labels.tolist()) - {-1}),
    }


def _throughput(clf: Classifier, texts: list[str]) -> dict[str, object]:
    """`enrich` (what `listen classify` runs per batch: classify, redact, assemble rows), timed end to end."""
    items = pd.DataFrame({"feedback_id": [str(i) for i in range(len(texts))], "text": texts})
    _, secs = timed(enrich, clf, items)
    return {
        "items": len(texts),
        "items_per_s": round(len(texts) / secs, 1),
        "seconds": round(secs, 2),
        "cpu_seconds": round(CPU_SECONDS[-1], 2),
        # what two dedicated cores would give if both stayed busy (an upper estimate on a shared machine)
        "items_per_s_per_2_cpu_seconds": round(2 * len(texts) / CPU_SECONDS[-1], 1),
    }


def bench_classify(texts: list[str], other: list[str], transformer_items: int) -> dict[str, object]:
    """Transformer path on `transformer_items` of `texts`; static path (its piece vectors come from the
    packaged table: no run computes any) on its first call and after `other`, disjoint reviews."""
    out: dict[str, object] = {"mean_words": round(float(np.mean([len(t.split()) for t in texts])), 1)}
    clf, build_s = timed(Classifier.build, backend="transformer")
    clf.classify(texts[-50:])  # warm-up (first-batch allocations)
    out["transformer"] = {**_throughput(clf, texts[:transformer_items]), "build_s": round(build_s, 2)}
    print(json.dumps({"transformer": out["transformer"]}), flush=True)
    clf, build_s = timed(Classifier.build, backend="static")
    out["static_cold"] = {**_throughput(clf, texts), "build_s": round(build_s, 2)}
    print(json.dumps({"static_cold": out["static_cold"]}), flush=True)
    Classifier.build(backend="static").classify(other)  # other texts first, as in a long-running process
    out["static_warm"] = {**_throughput(clf, texts), "after_other_reviews": len(other)}
    return out


def run_bertopic(docs: list[str], vectors: np.ndarray) -> tuple[np.ndarray, list[list[str]], float]:
    from bertopic import BERTopic

    model = BERTopic(embedding_model=load_model())  # default settings otherwise
    (topics, _), secs = timed(model.fit_transform, docs, vectors)
    words = [[w for w, _ in model.get_topic(t)] for t in sorted(set(topics)) if t != -1]
    return np.asarray(topics), words, secs


def run_ours(docs: list[str], vectors: np.ndarray) -> tuple[np.ndarray, list[list[str]], float]:
    model, secs = timed(ThemeDiscovery(top_words=10).fit, docs, vectors)
    return model.labels_, [unigrams(k) for k in model.topics_["keywords"]], secs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--classify-items", type=int, default=2000)
    parser.add_argument("--transformer-items", type=int, default=200, help="items for the (slow) transformer path")
    parser.add_argument("--skip-discover", action="store_true")
    parser.add_argument("--discover-items", type=int, default=20000)
    parser.add_argument("--skip-bertopic", action="store_true")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    load_model()
    corpus = reviews(args.data)
    rng = np.random.default_rng(0)
    report: dict[str, object] = {
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    order = rng.permutation(len(corpus))
    report["classify"] = bench_classify(
        [corpus[i] for i in order[: args.classify_items]],
        [corpus[i] for i in order[args.classify_items : args.classify_items + 5000]],
        args.transformer_items,
    )
    print(json.dumps(report), flush=True)
    if args.skip_discover:
        report["load_average_at_end"] = os.getloadavg()
        print(json.dumps(report, indent=2))
        return

    docs = [corpus[i] for i in rng.choice(len(corpus), min(args.discover_items, len(corpus)), replace=False)]
    # numba compiles UMAP's kernels on first use in a process; do it once, outside both timings
    _, t_jit = timed(ThemeDiscovery(min_cluster_size=5).fit, docs[:300], embed(docs[:300], "static"))
    static, t_static = timed(embed_for_discovery, docs, "static")
    dense, t_dense = timed(embed, docs, "transformer")
    disc: dict[str, object] = {
        "items": len(docs),
        "embed_s": {"static_sif": round(t_static, 1), "transformer": round(t_dense, 1)},
        "umap_first_compile_s_excluded": round(t_jit, 1),
    }
    semeval = [
        s
        for f in ("Restaurants_Train_v2.xml", "Restaurants_Test_Gold.xml")
        for s in read_semeval(args.data / SEMEVAL_DIR / f)
    ]
    single = [s for s in semeval if len({c for c, _ in s.categories}) == 1]
    s_docs, s_truth = [s.text for s in single], [s.categories[0][0] for s in single]
    s_static, s_dense = embed_for_discovery(s_docs, "static"), embed(s_docs, "transformer")

    for name, vectors, t_embed in (("heedful_static", static, t_static), ("heedful_transformer", dense, t_dense)):
        _, words, secs = run_ours(docs, vectors)
        s_labels, _, _ = run_ours(s_docs, s_static if name == "heedful_static" else s_dense)
        disc[name] = {
            "cluster_s": round(secs, 1),
            "end_to_end_s": round(secs + t_embed, 1),
            "topics": len(words),
            "npmi_coherence": round(npmi_coherence(words, docs), 4),
            "semeval_agreement": agreement(s_labels, s_truth),
        }
        print(json.dumps({name: disc[name]}), flush=True)
    if args.skip_bertopic:
        disc["bertopic"] = "skipped"
    else:
        try:
            _, words, secs = run_bertopic(docs, dense)
            s_labels, _, _ = run_bertopic(s_docs, s_dense)
        except Exception as exc:  # bertopic missing or failing offline: report ours alone
            disc["bertopic"] = f"not run: {type(exc).__name__}: {exc}"
        else:
            disc["bertopic"] = {
                "cluster_s": round(secs, 1),
                "end_to_end_s": round(secs + t_dense, 1),
                "topics": len(words),
                "npmi_coherence": round(npmi_coherence(words, docs), 4),
                "semeval_agreement": agreement(s_labels, s_truth),
            }
            b = disc["bertopic"]
            disc["speedup_end_to_end_static_vs_bertopic"] = round(
                b["end_to_end_s"] / disc["heedful_static"]["end_to_end_s"], 2
            )  # type: ignore[index]
            disc["speedup_cluster_same_embeddings_vs_bertopic"] = round(
                b["cluster_s"] / disc["heedful_transformer"]["cluster_s"], 2
            )  # type: ignore[index]
            disc["speedup_end_to_end_transformer_vs_bertopic"] = round(
                b["end_to_end_s"] / disc["heedful_transformer"]["end_to_end_s"], 2
            )  # type: ignore[index]
    report["discover"] = disc
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
