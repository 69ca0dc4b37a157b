"""Programme effect: randomised holdout, outcomes after the match, intervals with known coverage values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.advocacy.effect import (
    assign_arms,
    bootstrap_mean_difference,
    in_holdout,
    measure_outcomes,
    newcombe_difference,
    programme_effect,
    wilson_interval,
)
from heedful.errors import InputError


def test_newcombe_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II example (a): 56/70 vs 48/80, method 10
    diff, low, high = newcombe_difference(56, 70, 48, 80)
    assert diff == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=5e-4)


def test_wilson_interval_matches_the_published_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:857-872, 81/263: 0.2553 to 0.3662
    assert wilson_interval(81, 263) == pytest.approx((0.2553, 0.3662), abs=5e-4)


def test_bootstrap_interval_covers_a_known_shift() -> None:
    rng = np.random.default_rng(1)
    a = rng.exponential(50, 400) + 10
    b = rng.exponential(50, 400)
    diff, low, high = bootstrap_mean_difference(a, b, seed=2)
    assert low < diff < high
    assert low < 10 < high
    assert bootstrap_mean_difference(a, b, seed=2) == (diff, low, high)  # seeded: repeatable


def test_holdout_is_deterministic_and_near_the_asked_share() -> None:
    ids = [f"c{i}" for i in range(5000)]
    arms = assign_arms(ids, 0.2)
    assert arms.eq("holdout").mean() == pytest.approx(0.2, abs=0.02)
    assert arms.equals(assign_arms(ids, 0.2))
    assert in_holdout("c1", 0.0) is False
    with pytest.raises(InputError):
        in_holdout("c1", 1.0)


def test_outcomes_count_only_orders_inside_the_window_after_the_match() -> None:
    matches = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "arm": ["matched", "matched", "holdout", "holdout"],
            "created_at": pd.to_datetime(["2025-01-01"] * 3 + ["2025-03-15"]),
        }
    )
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "x"],
            "ordered_at": pd.to_datetime(["2024-12-31", "2025-02-01", "2025-06-01", "2025-03-01", "2025-04-15"]),
            "amount": [99.0, 30.0, 50.0, 20.0, 1.0],
            "is_return": False,
        }
    )
    out = measure_outcomes(matches, orders, window_days=90).set_index("customer_id")
    assert out["retained"].to_dict() == {"a": True, "b": False, "c": True, "d": False}
    assert out["spend"].to_dict() == {"a": 30.0, "b": 0.0, "c": 20.0, "d": 0.0}
    assert out["observed"].to_dict() == {"a": True, "b": True, "c": True, "d": False}  # d's window ends after the data
    effect = programme_effect(out.reset_index())
    assert effect["pending"] == 1
    assert effect["arms"]["matched"]["customers"] == 2 and effect["arms"]["holdout"]["customers"] == 1
    assert effect["conclusive"] is False  # three customers prove nothing
