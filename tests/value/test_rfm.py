"""RFM scores and named segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.value import rfm, rfm_from_summary, transaction_summary
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


def _orders_with_returns_and_shared_days() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(300):
        days = sorted(rng.choice(400, size=int(rng.integers(1, 12)), replace=False))
        for d in days:
            for _ in range(int(rng.integers(1, 4))):  # several lines on one day are one purchase day
                rows.append({"customer_id": f"c{i}", "ordered_at": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)),
                             "amount": float(rng.gamma(2.0, 20.0)), "is_return": False})  # fmt: skip
        if rng.random() < 0.3:  # a refund, out of revenue but counted against spend
            rows.append({"customer_id": f"c{i}", "ordered_at": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(days[-1]) + 3),
                         "amount": -15.0, "is_return": True})  # fmt: skip
    return pd.DataFrame(rows)


@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
def test_rfm_from_the_summary_equals_rfm_from_the_orders(time_unit: str) -> None:
    orders = _orders_with_returns_and_shared_days()
    direct = rfm(orders, observation_end="2025-03-31").customers
    summary = transaction_summary(orders, time_unit=time_unit, observation_end="2025-03-31", net_spend=True)
    derived = rfm_from_summary(summary, time_unit).customers
    assert len(direct) == 300
    pd.testing.assert_frame_equal(derived.sort_index(), direct.sort_index(), check_dtype=False)


def test_rfm_from_a_summary_without_spend_is_refused() -> None:
    with pytest.raises(InputError, match="net_spend=True"):
        rfm_from_summary(transaction_summary(_orders()))
