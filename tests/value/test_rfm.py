"""RFM scores and named segments."""

from __future__ import annotations

import pandas as pd

from heedful.value import rfm
from heedful.value.rfm import SEGMENTS, segment_of


def _orders() -> pd.DataFrame:
    rows = []
    # customer i buys (i % 10) + 1 times, the last purchase i days before the end, spending i each time
    for i in range(100):
        n = i % 10 + 1
        for k in range(n):
            rows.append(
                {
                    "customer_id": f"c{i:03d}",
                    "ordered_at": pd.Timestamp("2024-12-31") - pd.Timedelta(days=i + 7 * k),
                    "amount": float(i + 1),
                }
            )
    return pd.DataFrame(rows)


def test_segment_map_covers_the_named_segments() -> None:
    assert segment_of(5, 5) == "champions"
    assert segment_of(1, 5) == "can't lose"
    assert segment_of(1, 1) == "lost"
    assert segment_of(2, 2) == "hibernating"
    assert segment_of(5, 1) == "new"
    assert segment_of(2, 3) == "at risk"
    assert {segment_of(r, f) for r in range(1, 6) for f in range(1, 6)} == set(SEGMENTS)


def test_quintile_scores_and_segment_sizes() -> None:
    result = rfm(_orders(), observation_end="2024-12-31")
    customers = result.customers
    assert len(customers) == 100
    for col in ("r_score", "f_score", "m_score"):
        assert sorted(customers[col].value_counts().tolist()) == [20] * 5
    # the most recent customer (bought today) gets R = 5
    assert customers.loc["c000", "r_score"] == 5 and customers.loc["c000", "recency_days"] == 0
    segments = result.segments.set_index("segment")
    assert segments["customers"].sum() == 100
    assert segments["revenue"].sum() == customers["monetary"].sum()
    assert set(customers["segment"]) <= set(SEGMENTS)


def test_score_levels_are_configurable() -> None:
    result = rfm(_orders(), bins=3)
    assert set(result.customers["f_score"]) == {1, 2, 3}
    assert result.customers["rfm_score"].str.len().eq(3).all()
