"""Cohort retention and revenue tables."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.value import cohorts


def _orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c", "c", "a"],
            "ordered_at": pd.to_datetime(
                ["2024-01-05", "2024-02-10", "2024-01-20", "2024-03-01", "2024-02-02", "2024-03-15", "2024-03-20"]
            ),
            "amount": [10.0, 20.0, 5.0, 5.0, 7.0, 8.0, -4.0],
        }
    )


def test_monthly_retention_and_revenue() -> None:
    result = cohorts(_orders(), period="M")
    assert result.sizes.to_dict() == {"2024-01": 2, "2024-02": 1}
    jan = result.retention.loc["2024-01"]
    assert jan[0] == 1.0 and jan[1] == 0.5 and jan[2] == 0.5  # a in Feb, b in Mar
    assert result.retention.loc["2024-02", 1] == 1.0
    assert pd.isna(result.retention.loc["2024-02", 2])  # April is not observed
    # the refund in March (a, -4) is netted against the January cohort's March revenue
    assert result.revenue.loc["2024-01", 2] == pytest.approx(5.0 - 4.0)
    assert result.to_dict()["sizes"] == {"2024-01": 2, "2024-02": 1}


def test_unknown_period_is_a_user_error() -> None:
    with pytest.raises(InputError, match="period"):
        cohorts(_orders(), period="Y")


def test_periods_without_purchases_are_zero_not_missing() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-22"]),
            "amount": [1.0, 1.0],
        }
    )
    result = cohorts(orders, period="W")
    assert list(result.retention.columns) == [0, 1, 2, 3]
    assert result.retention.iloc[0].tolist() == [1.0, 0.0, 0.0, 1.0]
