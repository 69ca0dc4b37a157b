"""Peer matching: introduce new and wavering customers to experienced advocates with the same needs.

Similarity is a weighted sum of cosine similarities over four profiles (segment, products bought,
attributes such as industry or country, feedback themes); an advocate qualifies only when opted in,
with free capacity, and further along the journey (longer tenure). The candidate graph is pruned to
each customer's top-K advocates, then the assignment that maximises the total similarity under the
advocates' capacities is solved exactly as a sparse min-cost bipartite matching (advocates replicated
once per capacity slot, one private "stay free" vertex per slot).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from heedful.errors import InputError
from heedful.themes import decode_themes

BLOCKS = ("segment", "products", "attributes", "themes")
_DENSE_LIMIT = 25_000_000  # advocate feature cells kept dense (float32, ~100 MB) for fast products


@dataclass(frozen=True)
class MatchWeights:
    """Weight of each profile in the similarity score (they need not sum to 1)."""

    segment: float = 0.25
    products: float = 0.35
    attributes: float = 0.15
    themes: float = 0.25

    def as_dict(self) -> dict[str, float]:
        return {b: float(getattr(self, b)) for b in BLOCKS}


@dataclass(frozen=True)
class CandidateEdges:
    """The pruned candidate graph: customer row, advocate column and similarity of every kept pair."""

    rows: np.ndarray
    cols: np.ndarray
    scores: np.ndarray
    n_rows: int
    n_cols: int


@dataclass
class MatchResult:
    """Proposed matches (one row per customer matched) and figures about the solve."""

    matches: pd.DataFrame
    candidates: int
    eligible_candidates: int
    advocates: int
    slots: int
    edges: int
    total_score: float
    extra: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- profiles -> sparse features
def _tokens(value: Any) -> list[str]:
    """A profile value as tokens: lists as they are, 'a;b' strings decoded as theme lists, dicts as 'key=value'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    if isinstance(value, str):
        return decode_themes(value)
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in value.items() if v is not None and v != ""]
    if isinstance(value, Iterable):
        return [str(v) for v in value if v is not None and v != ""]
    return [str(value)]


def _token_pairs(values: Sequence[Any]) -> pd.DataFrame:
    """One (row, token) pair per distinct token of each row, vectorised for 50k-customer profiles."""
    series = pd.Series(list(values), dtype=object)
    simple = series.map(lambda v: isinstance(v, list | tuple | np.ndarray | str) or v is None)
    if not simple.all():
        series[~simple] = series[~simple].map(_tokens)
    strings = series.map(lambda v: isinstance(v, str))
    if strings.any():
        series[strings] = series[strings].map(decode_themes)
    exploded = series.explode().dropna()
    exploded = exploded[exploded != ""].astype(str)
    pairs = pd.DataFrame({"row": exploded.index.to_numpy(dtype=np.int64), "token": exploded.to_numpy()})
    return pairs.drop_duplicates()


def _block(cand_values: Sequence[Any], adv_values: Sequence[Any]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """L2-normalised binary token matrices over the advocates' vocabulary.

    Rows are normalised over *all* their tokens before tokens no advocate has are dropped: those
    cannot add to any dot product, but they do make a profile less similar (cosine, not overlap).
    """
    adv_pairs = _token_pairs(adv_values)
    vocab = pd.Index(adv_pairs["token"].unique())

    def encode(pairs: pd.DataFrame, n_rows: int) -> sp.csr_matrix:
        counts = np.bincount(pairs["row"].to_numpy(), minlength=n_rows)
        column = vocab.get_indexer(pairs["token"])
        kept = column >= 0
        rows = pairs["row"].to_numpy()[kept]
        data = (1.0 / np.sqrt(counts[rows])).astype(np.float32)
        return sp.csr_matrix((data, (rows, column[kept])), shape=(n_rows, max(len(vocab), 1)))

    return encode(_token_pairs(cand_values), len(cand_values)), encode(adv_pairs, len(adv_values))


def _features(
    candidates: pd.DataFrame, advocates: pd.DataFrame, weights: MatchWeights
) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    w = weights.as_dict()
    cand_parts, adv_parts = [], []
    for block in BLOCKS:
        if w[block] == 0 or block not in candidates or block not in advocates:
            continue
        c, a = _block(list(candidates[block]), list(advocates[block]))
        cand_parts.append(c * np.float32(w[block]))
        adv_parts.append(a)
    if not cand_parts:
        raise InputError(f"No profile to match on: give candidates and advocates at least one of {BLOCKS}.")
    return sp.hstack(cand_parts, format="csr"), sp.hstack(adv_parts, format="csr")


# ---------------------------------------------------------------- candidate graph
def candidate_edges(
    candidates: pd.DataFrame,
    advocates: pd.DataFrame,
    *,
    weights: MatchWeights | None = None,
    top_k: int = 10,
    min_score: float = 0.05,
    min_tenure_gap_days: float = 90.0,
    chunk_size: int = 2048,
) -> CandidateEdges:
    """Each customer's top-K eligible advocates by similarity (the sparse graph the solver sees).

    Eligible: a different person, and at least `min_tenure_gap_days` further along (tenure) when
    both tenures are known. Pairs scoring below `min_score` are left out.
    """
    xc, xa = _features(candidates, advocates, weights or MatchWeights())
    n, m = xc.shape[0], xa.shape[0]
    # C-contiguous, or every sparse x dense product copies it first
    adv_t: Any = np.ascontiguousarray(xa.T.toarray()) if xa.shape[0] * xa.shape[1] <= _DENSE_LIMIT else xa.T.tocsr()
    ten_c = pd.to_numeric(candidates.get("tenure_days", pd.Series(np.nan, index=candidates.index)))
    ten_a = pd.to_numeric(advocates.get("tenure_days", pd.Series(np.nan, index=advocates.index)))
    ten_c_arr = ten_c.to_numpy(dtype=float)
    ten_a_arr = ten_a.to_numpy(dtype=float)
    adv_pos = {cid: j for j, cid in enumerate(advocates["customer_id"].astype(str))}
    self_cols = np.array([adv_pos.get(c, -1) for c in candidates["customer_id"].astype(str)])
    k = max(1, min(top_k, m))
    rows_out, cols_out, scores_out = [], [], []
    for start in range(0, n, chunk_size):
        stop = min(start + chunk_size, n)
        block = xc[start:stop] @ adv_t
        scores = np.asarray(block.toarray() if sp.issparse(block) else block, dtype=np.float32)
        behind = ten_a_arr[None, :] < ten_c_arr[start:stop, None] + min_tenure_gap_days  # NaN compares False
        scores[behind] = -np.inf
        own = self_cols[start:stop]
        has_own = own >= 0
        scores[np.nonzero(has_own)[0], own[has_own]] = -np.inf
        top = np.argpartition(scores, m - k, axis=1)[:, m - k :] if k < m else np.tile(np.arange(m), (stop - start, 1))
        top_scores = np.take_along_axis(scores, top, axis=1)
        keep = np.isfinite(top_scores) & (top_scores >= min_score)
        r = np.nonzero(keep)[0]
        rows_out.append(r + start)
        cols_out.append(top[keep])
        scores_out.append(top_scores[keep].astype(np.float64))
    cat = np.concatenate
    return CandidateEdges(
        cat(rows_out) if rows_out else np.empty(0, np.int64),
        cat(cols_out) if cols_out else np.empty(0, np.int64),
        cat(scores_out) if scores_out else np.empty(0),
        n,
        m,
    )


# ---------------------------------------------------------------- solvers
def solve_assignment(edges: CandidateEdges, capacity: np.ndarray) -> np.ndarray:
    """The assignment maximising total similarity: advocate column per customer row, -1 if unmatched.

    Exact: each advocate j becomes min(capacity_j, degree_j) identical slot vertices, and each slot
    gets a private dummy customer ("slot stays free", cost M); real edges cost M - score. The
    matching of every slot that minimises cost maximises the total score of real matches. Slots,
    not customers, are the side that must be fully matched: there are far fewer of them, which
    makes the sparse LAPJV solver several times faster than the customer-side formulation.
    """
    assignment = np.full(edges.n_rows, -1, dtype=np.int64)
    cap = np.asarray(capacity, dtype=np.int64)
    ok = (edges.scores > 0) & (cap[edges.cols] > 0)
    rows, cols, scores = edges.rows[ok], edges.cols[ok], edges.scores[ok]
    if rows.size == 0:
        return assignment
    used_rows, row_idx = np.unique(rows, return_inverse=True)
    degree = np.bincount(cols, minlength=edges.n_cols)
    slots = np.minimum(cap, degree)
    offset = np.concatenate([[0], np.cumsum(slots)])
    n_slots = int(offset[-1])
    per_edge = slots[cols]
    # one edge per (slot, customer): repeat each edge once per slot of its advocate
    rep_customers = np.repeat(row_idx, per_edge)
    slot_in_adv = np.arange(per_edge.sum()) - np.repeat(np.cumsum(per_edge) - per_edge, per_edge)
    rep_slots = np.repeat(offset[cols], per_edge) + slot_in_adv
    big = float(scores.max()) + 1.0
    # a hair of extra cost on later slots breaks the symmetry between identical slots (speeds the solver)
    rep_cost = big - np.repeat(scores, per_edge) + slot_in_adv * 1e-9
    n = used_rows.size
    graph = sp.csr_matrix(
        (
            np.concatenate([rep_cost, np.full(n_slots, big)]),
            (np.concatenate([rep_slots, np.arange(n_slots)]), np.concatenate([rep_customers, n + np.arange(n_slots)])),
        ),
        shape=(n_slots, n + n_slots),
    )
    matched_slot, matched_customer = min_weight_full_bipartite_matching(graph)
    real = matched_customer < n
    slot_owner = np.repeat(np.arange(edges.n_cols), slots)
    assignment[used_rows[matched_customer[real]]] = slot_owner[matched_slot[real]]
    return assignment


def greedy_assignment(edges: CandidateEdges, capacity: np.ndarray) -> np.ndarray:
    """Baseline: take pairs best-first while the customer is free and the advocate has room."""
    assignment = np.full(edges.n_rows, -1, dtype=np.int64)
    room = np.asarray(capacity, dtype=np.int64).copy()
    for e in np.argsort(-edges.scores, kind="stable"):
        r, c = edges.rows[e], edges.cols[e]
        if assignment[r] < 0 and room[c] > 0 and edges.scores[e] > 0:
            assignment[r] = c
            room[c] -= 1
    return assignment


def total_score(edges: CandidateEdges, assignment: np.ndarray) -> float:
    lookup = dict(zip(zip(edges.rows.tolist(), edges.cols.tolist(), strict=True), edges.scores.tolist(), strict=True))
    return float(sum(lookup[(r, int(c))] for r, c in enumerate(assignment) if c >= 0))


# ---------------------------------------------------------------- the whole thing, with reasons
def match_peers(
    candidates: pd.DataFrame,
    advocates: pd.DataFrame,
    *,
    weights: MatchWeights | None = None,
    top_k: int = 10,
    min_score: float = 0.05,
    min_tenure_gap_days: float = 90.0,
    method: str = "optimal",
    theme_names: Mapping[str, str] | None = None,
) -> MatchResult:
    """Propose one advocate per customer, maximising total similarity under capacity and opt-in.

    candidates: customer_id, segment, products, attributes, themes, tenure_days (and optional `need`:
    onboarding | at_risk). advocates: the same profile columns plus `capacity` (free slots) and
    `peer_opt_in`. Returns matches with customer_id, advocate_id, score and readable reasons.
    """
    for name, frame in (("candidates", candidates), ("advocates", advocates)):
        if "customer_id" not in frame:
            raise InputError(f"{name} need a customer_id column")
    cand = candidates.reset_index(drop=True)
    adv = advocates.copy()
    opted = adv["peer_opt_in"].fillna(False).astype(bool) if "peer_opt_in" in adv else pd.Series(False, adv.index)
    capacity = pd.to_numeric(adv.get("capacity", pd.Series(1, index=adv.index))).fillna(0).astype(int)
    adv = adv[opted & (capacity > 0)].reset_index(drop=True)
    cap = capacity[opted & (capacity > 0)].to_numpy()
    empty = pd.DataFrame(columns=["customer_id", "advocate_id", "score", "need", "reasons"])
    if cand.empty or adv.empty:
        return MatchResult(empty, len(cand), 0, len(adv), int(cap.sum()), 0, 0.0)
    w = weights or MatchWeights()
    edges = candidate_edges(
        cand, adv, weights=w, top_k=top_k, min_score=min_score, min_tenure_gap_days=min_tenure_gap_days
    )
    if method == "greedy":
        assignment = greedy_assignment(edges, cap)
    elif method == "optimal":
        assignment = solve_assignment(edges, cap)
    else:
        raise InputError(f"Unknown matching method {method!r}: use optimal or greedy.")
    matched = np.nonzero(assignment >= 0)[0]
    scores = _edge_scores(edges, matched, assignment[matched])
    cand_recs = cand.iloc[matched].to_dict("records")
    adv_recs = adv.iloc[assignment[matched]].to_dict("records")
    rows = [
        {
            "customer_id": str(c["customer_id"]),
            "advocate_id": str(a["customer_id"]),
            "score": float(score),
            "need": c.get("need"),
            "reasons": match_reasons(c, a, w, theme_names),
        }
        for c, a, score in zip(cand_recs, adv_recs, scores, strict=True)
    ]
    matches = pd.DataFrame(rows, columns=empty.columns) if rows else empty
    return MatchResult(
        matches.sort_values("score", ascending=False, kind="mergesort").reset_index(drop=True),
        candidates=len(cand),
        eligible_candidates=int(np.unique(edges.rows).size),
        advocates=len(adv),
        slots=int(cap.sum()),
        edges=int(edges.rows.size),
        total_score=float(matches["score"].sum()) if rows else 0.0,
    )


def _edge_scores(edges: CandidateEdges, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Similarity of the given (row, col) pairs, looked up in the edge list by binary search."""
    keys = edges.rows.astype(np.int64) * edges.n_cols + edges.cols
    order = np.argsort(keys, kind="stable")
    wanted = rows.astype(np.int64) * edges.n_cols + cols
    return edges.scores[order[np.searchsorted(keys, wanted, sorter=order)]]


def match_reasons(
    candidate: Mapping[str, Any],
    advocate: Mapping[str, Any],
    weights: MatchWeights | None = None,
    theme_names: Mapping[str, str] | None = None,
) -> list[str]:
    """Why two people were matched, in words a person introducing them can repeat (`theme_names`: theme
    id -> label, so shared themes read as the business names them)."""
    w = (weights or MatchWeights()).as_dict()
    reasons: list[str] = []
    seg_c, seg_a = _tokens(candidate.get("segment")), _tokens(advocate.get("segment"))
    if w["segment"] and seg_c and seg_c == seg_a:
        reasons.append(f"same segment: {seg_c[0]}")
    for block, label in (("products", "both bought"), ("themes", "both talked about")):
        if not w[block]:
            continue
        shared = sorted(set(_tokens(candidate.get(block))) & set(_tokens(advocate.get(block))))
        if block == "themes" and theme_names is not None:
            shared = sorted(theme_names.get(t, t) for t in shared)
        if shared:
            more = f" (+{len(shared) - 3} more)" if len(shared) > 3 else ""
            reasons.append(f"{label}: {', '.join(shared[:3])}{more}")
    if w["attributes"]:
        shared_attrs = sorted(set(_tokens(candidate.get("attributes"))) & set(_tokens(advocate.get("attributes"))))
        reasons.extend(
            "same {}: {}".format(*token.split("=", 1)) if "=" in token else f"same {token}" for token in shared_attrs
        )
    ten_c, ten_a = candidate.get("tenure_days"), advocate.get("tenure_days")
    if ten_c is not None and ten_a is not None and pd.notna(ten_c) and pd.notna(ten_a):
        reasons.append(f"advocate is {(float(ten_a) - float(ten_c)) / 30.4:.0f} months further along")
    return reasons
