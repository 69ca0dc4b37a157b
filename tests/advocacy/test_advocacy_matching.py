"""Peer matching: optimal against brute force, capacities and opt-in respected, reasons given."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.advocacy.matching import (
    CandidateEdges,
    greedy_assignment,
    match_peers,
    solve_assignment,
    total_score,
)


def brute_force_best(scores: np.ndarray, capacity: list[int]) -> float:
    """Best total over every assignment (each customer: one advocate or nobody) within capacity."""
    n, m = scores.shape
    best = 0.0
    for choice in itertools.product(range(-1, m), repeat=n):
        load = np.bincount([c for c in choice if c >= 0], minlength=m)
        if (load > np.asarray(capacity)).any():
            continue
        value = sum(scores[i, c] for i, c in enumerate(choice) if c >= 0 and scores[i, c] > 0)
        best = max(best, value)
    return float(best)


def dense_edges(scores: np.ndarray) -> CandidateEdges:
    rows, cols = np.nonzero(scores > 0)
    return CandidateEdges(rows, cols, scores[rows, cols].astype(float), scores.shape[0], scores.shape[1])


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6),
    m=st.integers(1, 3),
    data=st.data(),
)
def test_assignment_is_optimal_against_brute_force(n: int, m: int, data: st.DataObject) -> None:
    values = data.draw(st.lists(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.55, 0.9]), min_size=n * m, max_size=n * m))
    scores = np.array(values).reshape(n, m)
    capacity = data.draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    edges = dense_edges(scores)
    assignment = solve_assignment(edges, np.array(capacity))
    load = np.bincount(assignment[assignment >= 0], minlength=m)
    assert (load <= np.array(capacity)).all()
    assert total_score(edges, assignment) == pytest.approx(brute_force_best(scores, capacity))
    # and greedy is never better than optimal
    assert total_score(edges, greedy_assignment(edges, np.array(capacity))) <= total_score(edges, assignment) + 1e-9


def test_greedy_can_be_beaten_where_the_assignment_is_not() -> None:
    # greedy gives the 0.9 pair to customer 0, leaving customer 1 with nothing; optimal: 0.8 + 0.7
    scores = np.array([[0.9, 0.8], [0.7, 0.0]])
    edges = dense_edges(scores)
    optimal = solve_assignment(edges, np.array([1, 1]))
    assert list(optimal) == [1, 0]
    assert total_score(edges, greedy_assignment(edges, np.array([1, 1]))) == pytest.approx(0.9)


def _people() -> tuple[pd.DataFrame, pd.DataFrame]:
    candidates = pd.DataFrame(
        {
            "customer_id": ["new1", "new2", "new3", "risk1"],
            "segment": ["florists", "florists", "cafes", "cafes"],
            "products": [["vase", "ribbon"], ["vase"], ["mug"], ["mug", "teapot"]],
            "attributes": [{"industry": "retail"}, {"industry": "retail"}, {"industry": "food"}, {"industry": "food"}],
            "themes": [["delivery"], [], ["price"], ["price", "delivery"]],
            "tenure_days": [10, 20, 5, 400],
            "need": ["onboarding", "onboarding", "onboarding", "at_risk"],
        }
    )
    advocates = pd.DataFrame(
        {
            "customer_id": ["florist_pro", "cafe_pro", "cafe_opted_out", "cafe_newbie"],
            "segment": ["florists", "cafes", "cafes", "cafes"],
            "products": [["vase", "ribbon"], ["mug", "teapot"], ["mug", "teapot"], ["mug", "teapot"]],
            "attributes": [{"industry": "retail"}, {"industry": "food"}, {"industry": "food"}, {"industry": "food"}],
            "themes": [["delivery"], ["price", "delivery"], ["price"], ["price"]],
            "tenure_days": [900, 1200, 1500, 30],
            "capacity": [1, 2, 5, 5],
            "peer_opt_in": [True, True, False, True],
        }
    )
    return candidates, advocates


def test_matches_respect_capacity_opt_in_and_journey_order() -> None:
    candidates, advocates = _people()
    result = match_peers(candidates, advocates, min_tenure_gap_days=90)
    pairs = dict(zip(result.matches["customer_id"], result.matches["advocate_id"], strict=True))
    assert "cafe_opted_out" not in pairs.values()  # no opt-in, no introductions
    assert "cafe_newbie" not in pairs.values()  # not further along than anyone it could help
    assert list(pairs.values()).count("florist_pro") <= 1  # capacity 1
    assert pairs["new3"] == "cafe_pro" and pairs["risk1"] == "cafe_pro"
    assert pairs["new1"] == "florist_pro"  # the closer of the two florists gets the only slot
    assert "new2" not in pairs


def test_every_match_says_why() -> None:
    candidates, advocates = _people()
    result = match_peers(candidates, advocates)
    reasons = result.matches.set_index("customer_id")["reasons"]
    assert "same segment: florists" in reasons["new1"]
    assert any(r.startswith("both bought: ribbon, vase") for r in reasons["new1"])
    assert "same industry: retail" in reasons["new1"]
    assert "both talked about: delivery" in reasons["new1"]
    assert any("months further along" in r for r in reasons["risk1"])


def test_nobody_is_matched_when_no_advocate_opted_in() -> None:
    candidates, advocates = _people()
    advocates["peer_opt_in"] = False
    assert match_peers(candidates, advocates).matches.empty


def test_optimal_matching_beats_or_equals_greedy_on_random_profiles() -> None:
    rng = np.random.default_rng(3)
    products = [f"p{i}" for i in range(30)]
    segments = ["a", "b", "c"]

    def people(n: int, prefix: str, tenure: tuple[int, int]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": [f"{prefix}{i}" for i in range(n)],
                "segment": rng.choice(segments, n),
                "products": [list(rng.choice(products, rng.integers(1, 6), replace=False)) for _ in range(n)],
                "themes": [
                    list(rng.choice(["price", "speed", "help"], rng.integers(0, 3), replace=False)) for _ in range(n)
                ],
                "tenure_days": rng.integers(*tenure, n),
            }
        )

    cands = people(300, "c", (0, 100))
    advs = people(40, "a", (300, 2000)).assign(capacity=rng.integers(1, 4, 40), peer_opt_in=True)
    optimal = match_peers(cands, advs, top_k=5)
    greedy = match_peers(cands, advs, top_k=5, method="greedy")
    assert optimal.total_score >= greedy.total_score - 1e-9
    load = optimal.matches["advocate_id"].value_counts()
    cap = advs.set_index("customer_id")["capacity"]
    assert (load <= cap.reindex(load.index)).all()


def test_profiles_may_be_lists_joined_strings_or_dicts() -> None:
    from heedful.advocacy.matching import candidate_edges

    as_lists = pd.DataFrame(
        {"customer_id": ["c"], "themes": [["price", "delivery"]], "attributes": [{"industry": "cafe"}]}
    )
    as_text = pd.DataFrame(
        {"customer_id": ["c"], "themes": ["delivery;price"], "attributes": [{"industry": "cafe", "size": None}]}
    )
    advocates = pd.DataFrame(
        {"customer_id": ["a", "b"], "themes": [np.array(["price"]), None], "attributes": [{"industry": "cafe"}, {}]}
    )
    one = candidate_edges(as_lists, advocates, min_score=0.0, min_tenure_gap_days=0)
    two = candidate_edges(as_text, advocates, min_score=0.0, min_tenure_gap_days=0)
    assert dict(zip(one.cols.tolist(), one.scores.tolist(), strict=True)) == pytest.approx(
        dict(zip(two.cols.tolist(), two.scores.tolist(), strict=True))
    )
    # cosine: themes 1/sqrt(2) * weight 0.25, attributes 1.0 * weight 0.15
    assert dict(zip(one.cols.tolist(), one.scores.tolist(), strict=True))[0] == pytest.approx(0.25 / np.sqrt(2) + 0.15)
