"""Retail churn features see nothing on or after the cut-off; labels look forward exactly `horizon_days`."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.retain.features import churn_labels, retail_churn_dataset, retail_features


def _orders(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"customer_id": c, "order_id": o, "ordered_at": pd.Timestamp(d), "amount": a, "product_id": "p" + o}
            for c, o, d, a in rows
        ]
    )


SMALL = _orders(
    [
        ("a", "1", "2024-01-01", 10.0),
        ("a", "2", "2024-02-01", 30.0),
        ("a", "3", "2024-03-15", 20.0),  # after the cut-off: comes back within 90 days
        ("b", "4", "2024-01-20", 50.0),
        ("b", "5", "2024-07-01", 50.0),  # after the cut-off, outside the horizon: churned
        ("c", "6", "2024-03-10", 5.0),  # first purchase after the cut-off: not scored
    ]
)
CUT = pd.Timestamp("2024-03-01")


def test_features_are_computed_from_orders_before_the_cutoff_only() -> None:
    f = retail_features(SMALL, CUT, use_btyd=False)
    assert list(f.index) == ["a", "b"]
    assert f.loc["a", "frequency"] == 2
    assert f.loc["a", "monetary_total"] == 40.0
    assert f.loc["a", "recency_days"] == (CUT - pd.Timestamp("2024-02-01")).days
    assert f.loc["a", "tenure_days"] == (CUT - pd.Timestamp("2024-01-01")).days
    assert f.loc["a", "mean_gap_days"] == 31.0
    assert f.loc["b", "frequency"] == 1


def test_adding_future_orders_feedback_and_answers_changes_no_feature(retail_orders: pd.DataFrame) -> None:
    cut = pd.Timestamp("2024-09-01")
    feedback = pd.DataFrame(
        {
            "customer_id": ["c0001", "c0002"],
            "created_at": [cut - pd.Timedelta(days=5)] * 2,
            "sentiment": ["negative", "positive"],
        }
    )
    nps = pd.DataFrame({"customer_id": ["c0001"], "answered_at": [cut - pd.Timedelta(days=3)], "score": [9.0]})
    before = retail_features(retail_orders, cut, feedback=feedback, nps=nps, use_btyd=False)
    future = retail_orders[pd.to_datetime(retail_orders["ordered_at"]) >= cut].copy()
    future["amount"] *= 100
    more_orders = pd.concat([retail_orders, future.assign(order_id=future["order_id"] + "x")])
    later = pd.DataFrame({"customer_id": ["c0002"], "created_at": [cut], "sentiment": ["negative"]})
    later_nps = pd.DataFrame({"customer_id": ["c0001"], "answered_at": [cut + pd.Timedelta(days=1)], "score": [0.0]})
    after = retail_features(
        more_orders, cut, feedback=pd.concat([feedback, later]), nps=pd.concat([nps, later_nps]), use_btyd=False
    )
    pd.testing.assert_frame_equal(before, after)
    assert before.loc["c0001", "negative_feedback_share_90d"] == 1.0
    assert before.loc["c0002", "negative_feedback_share_90d"] == 0.0
    assert before.loc["c0001", "nps_score"] == 9.0 and before.loc["c0001", "is_detractor"] == 0.0


def test_labels_mark_customers_without_a_purchase_in_the_horizon() -> None:
    labels = churn_labels(SMALL, CUT, horizon_days=90)
    assert labels.to_dict() == {"a": 0, "b": 1}
    assert churn_labels(SMALL, CUT, horizon_days=200).to_dict() == {"a": 0, "b": 0}


def test_returns_do_not_count_as_purchases_and_raise_the_return_share() -> None:
    orders = pd.concat([SMALL, _orders([("a", "C9", "2024-02-10", -20.0)]).assign(is_return=True)], ignore_index=True)
    f = retail_features(orders, CUT, use_btyd=False)
    assert f.loc["a", "frequency"] == 2
    assert f.loc["a", "return_share"] == pytest.approx(0.5)


def test_a_horizon_running_past_the_data_is_refused() -> None:
    with pytest.raises(InputError, match="past the last order"):
        retail_churn_dataset(SMALL, "2024-06-15", horizon_days=90)


def test_dataset_aligns_features_and_labels(retail_orders: pd.DataFrame) -> None:
    X, y = retail_churn_dataset(retail_orders, "2024-08-01", 90, use_btyd=False)
    assert list(X.index) == list(y.index)
    assert set(y.unique()) == {0, 1}
    assert X["recency_days"].min() > 0
