"""Churn reasons read in the customer's terms, with the direction the feature moves the risk."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from heedful.retain.reasons import (
    NO_EFFECT,
    RISK_DOWN,
    RISK_UP,
    context_features,
    humanise,
    reason_context,
    reason_text,
)

# Every feature id the retail churn model can give as a reason: none may reach a user's screen.
RAW_FEATURES = (
    "recency_days",
    "tenure_days",
    "frequency",
    "monetary_total",
    "monetary_mean",
    "orders_last_90d",
    "spend_last_90d",
    "mean_gap_days",
    "overdue_ratio",
    "distinct_products",
    "return_share",
    "feedback_count_90d",
    "negative_feedback_share_90d",
    "p_alive",
    "nps_score",
    "is_detractor",
)


def assert_plain(text: str) -> None:
    """A reason text names no raw feature id, has no `feature = value` form, and says which way risk moves."""
    assert not any(f in text for f in RAW_FEATURES), text
    assert text.endswith((RISK_UP, RISK_DOWN, NO_EFFECT)), text
    assert " = " not in text, text


@pytest.mark.parametrize(
    ("feature", "value", "row", "up", "down"),
    [
        (
            "recency_days",
            "95",
            {"mean_gap_days": 40},
            "last order 95 days ago → risk up",
            "last order 95 days ago → risk down",
        ),
        (
            "overdue_ratio",
            "2.375",
            {"recency_days": 95, "mean_gap_days": 40},
            "no order for 95 days, usually every 40 days → risk up",
            "no order for 95 days, usually every 40 days → risk down",
        ),
        ("tenure_days", "850", None, "first order 850 days ago → risk up", "first order 850 days ago → risk down"),
        ("frequency", "2", None, "2 orders so far → risk up", "2 orders so far → risk down"),
        ("monetary_total", "1.235e+04", None, "spent 12,350 in all → risk up", "spent 12,350 in all → risk down"),
        (
            "monetary_mean",
            "12.5",
            None,
            "12.50 per order on average → risk up",
            "12.50 per order on average → risk down",
        ),
        (
            "orders_last_90d",
            "0",
            None,
            "no orders in the last 90 days → risk up",
            "no orders in the last 90 days → risk down",
        ),
        (
            "spend_last_90d",
            "1234",
            None,
            "spent 1,234 in the last 90 days → risk up",
            "spent 1,234 in the last 90 days → risk down",
        ),
        (
            "mean_gap_days",
            "40",
            None,
            "usually orders every 40 days → risk up",
            "usually orders every 40 days → risk down",
        ),
        (
            "distinct_products",
            "59",
            None,
            "bought 59 different products → risk up",
            "bought 59 different products → risk down",
        ),
        (
            "return_share",
            "0.12",
            None,
            "returned 12% of what they spent → risk up",
            "returned 12% of what they spent → risk down",
        ),
        (
            "feedback_count_90d",
            "3",
            {"negative_feedback_share_90d": 1 / 3},
            "3 pieces of feedback in the last 90 days → risk up",
            "3 pieces of feedback in the last 90 days → risk down",
        ),
        (
            "negative_feedback_share_90d",
            "0",
            {"feedback_count_90d": 3},
            "none of 3 pieces of feedback in the last 90 days negative → risk up",
            "none of 3 pieces of feedback in the last 90 days negative → risk down",
        ),
        (
            "p_alive",
            "0.85",
            None,
            "85% likely to still be buying, going by their purchase pattern → risk up",
            "85% likely to still be buying, going by their purchase pattern → risk down",
        ),
        (
            "nps_score",
            "3",
            None,
            "would-recommend score 3 out of 10 → risk up",
            "would-recommend score 3 out of 10 → risk down",
        ),
        (
            "is_detractor",
            "1",
            {"nps_score": 3},
            "a detractor: would-recommend score 3 out of 10 → risk up",
            "a detractor: would-recommend score 3 out of 10 → risk down",
        ),
    ],
)
def test_each_retail_feature_reads_in_plain_words_both_ways(
    feature: str, value: str, row: dict[str, float] | None, up: str, down: str
) -> None:
    assert reason_text(feature, value, 0.42, row) == up
    assert reason_text(feature, value, -0.42, row) == down
    assert_plain(up)
    assert_plain(down)


def test_the_direction_follows_the_sign_of_the_effect_and_is_left_out_without_one() -> None:
    assert reason_text("frequency", 1, 0.01).endswith("→ risk up")
    assert reason_text("frequency", 1, -0.01).endswith("→ risk down")
    assert reason_text("frequency", 1, 0.0) == "only 1 order so far → no effect on risk"
    assert reason_text("frequency", 1, None) == "only 1 order so far"
    assert reason_text("frequency", 1, float("nan")) == "only 1 order so far"


def test_the_customers_other_features_fill_in_the_picture() -> None:
    assert (
        reason_text("overdue_ratio", "2.375", 0.8)
        == "2.4 times the usual time between orders since the last one → risk up"
    )
    assert reason_text("overdue_ratio", 0.5, -0.3, {"recency_days": 20.2, "mean_gap_days": 40}) == (
        "next order not yet due: last one 20 days ago, usually every 40 days → risk down"
    )
    assert reason_text("recency_days", "0.4", -0.8) == "last order less than a day ago → risk down"
    assert reason_text("negative_feedback_share_90d", "1", 0.9) == "all feedback in the last 90 days negative → risk up"
    assert reason_text("feedback_count_90d", "1", 0.9, {"negative_feedback_share_90d": 1.0}) == (
        "1 piece of feedback in the last 90 days → risk up"
    )
    assert reason_text("negative_feedback_share_90d", "1", 0.9, {"feedback_count_90d": 1.0}) == (
        "the 1 piece of feedback in the last 90 days negative → risk up"
    )
    assert reason_text("negative_feedback_share_90d", "0.5", 0.9, {"feedback_count_90d": 4.0}) == (
        "2 of 4 pieces of feedback in the last 90 days negative → risk up"
    )
    assert reason_text("is_detractor", "0", -0.2, {"nps_score": 9}) == (
        "not a detractor: would-recommend score 9 out of 10 → risk down"
    )
    # the exact value in `row` wins over the rounded one shown
    assert (
        reason_text("monetary_total", "1.235e+04", 0.1, {"monetary_total": 12345.67}) == "spent 12,346 in all → risk up"
    )


def test_missing_values_and_other_windows_still_read_cleanly() -> None:
    assert reason_text("mean_gap_days", "missing", 0.3) == "only one order so far, so no usual rhythm yet → risk up"
    assert reason_text("overdue_ratio", "missing", 0.3) == "only one order so far, so no usual rhythm yet → risk up"
    assert reason_text("negative_feedback_share_90d", "missing", -0.1) == "no feedback in the last 90 days → risk down"
    assert reason_text("nps_score", "missing", 0.1) == "no would-recommend answer yet → risk up"
    assert reason_text("orders_last_30d", "1", 0.2) == "1 order in the last 30 days → risk up"
    assert reason_text("return_share", "0", -0.2) == "no returns → risk down"
    assert reason_text("spend_last_90d", "0", 0.2) == "spent nothing in the last 90 days → risk up"


def test_an_unknown_feature_reads_as_its_humanised_name_and_value() -> None:
    assert reason_text("Contract", "Month-to-month", 0.7) == "Contract = Month-to-month → risk up"
    assert reason_text("MonthlyCharges", "70.35", 0.2) == "Monthly charges = 70.35 → risk up"
    assert reason_text("TotalCharges", "1.234e+04", -0.2) == "Total charges = 12,340 → risk down"
    assert reason_text("num_support_calls", 6.0, 0.5) == "Num support calls = 6 → risk up"
    assert reason_text("PaymentMethod", "missing", 0.1) == "Payment method: not known → risk up"
    assert humanise("StreamingTV") == "Streaming TV" and humanise("customerID") == "Customer ID"


def test_context_names_the_related_features_of_the_same_window() -> None:
    assert context_features("overdue_ratio") == ("recency_days", "mean_gap_days")
    assert context_features("feedback_count_30d") == ("negative_feedback_share_30d",)
    assert context_features("Contract") == ()
    row = {"overdue_ratio": 2.4, "recency_days": 95.0, "mean_gap_days": np.nan, "frequency": 3.0}
    assert reason_context("overdue_ratio", row) == {"overdue_ratio": 2.4, "recency_days": 95.0}


def test_stored_reasons_are_shown_in_plain_words_with_their_context(duckdb_url: str) -> None:
    from heedful.services.retain import save_churn_scores, stored_at_risk
    from heedful.store import connect

    scores = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "churn_risk": [0.8, 0.2],
            "value_at_risk": [80.0, 10.0],
            "reason_1": ["no order for 95 days, usually every 40 days → risk up", "feedback_count_90d = 3"],
            "reason_1_feature": ["overdue_ratio", "feedback_count_90d"],
            "reason_1_value": ["2.375", None],  # b: a frame from before reason_N_value, text parsed instead
            "reason_1_effect": [0.9, -0.1],
            "recency_days": [95.0, 10.0],
            "mean_gap_days": [40.0, 20.0],
            "overdue_ratio": [2.375, 0.5],
            "feedback_count_90d": [np.nan, 3.0],
            "negative_feedback_share_90d": [np.nan, 2 / 3],
        }
    )
    with connect(duckdb_url) as store:
        save_churn_scores(store, scores, "test", 90)
        raw = dict(store.fetchall("SELECT customer_id, reasons FROM churn_scores"))
        stored = stored_at_risk(store).set_index("customer_id")["reasons"]
    item = json.loads(raw["a"])[0]
    assert {"feature", "value", "effect"} <= set(item) and item["value"] == "2.375" and item["effect"] == 0.9
    assert stored["a"] == ["no order for 95 days, usually every 40 days → risk up"]
    assert stored["b"] == ["3 pieces of feedback in the last 90 days → risk down"]
    for texts in stored:
        for text in texts:
            assert_plain(text)


def test_two_reasons_that_read_the_same_are_shown_once() -> None:
    import json

    from heedful.services.retain import _reason_texts

    # no feedback: the amount (0) and the negative share (missing) both say "no feedback in the last 90 days"
    context = {"feedback_count_90d": 0.0, "negative_feedback_share_90d": None}
    stored = json.dumps(
        [
            {"feature": "feedback_count_90d", "value": "0", "effect": 1.2, "context": context},
            {"feature": "negative_feedback_share_90d", "value": "missing", "effect": 0.5, "context": context},
            {"feature": "frequency", "value": "2", "effect": 0.1},
        ]
    )
    texts = _reason_texts(stored)
    assert len(texts) == len(set(texts)) == 2, texts
    assert texts[0] == "no feedback in the last 90 days → risk up"
    # with feedback, each says its own part, with its own direction
    context = {"feedback_count_90d": 3.0, "negative_feedback_share_90d": 0.0}
    stored = json.dumps(
        [
            {"feature": "feedback_count_90d", "value": "3", "effect": 1.2, "context": context},
            {"feature": "negative_feedback_share_90d", "value": "0", "effect": -0.5, "context": context},
        ]
    )
    assert _reason_texts(stored) == [
        "3 pieces of feedback in the last 90 days → risk up",
        "none of 3 pieces of feedback in the last 90 days negative → risk down",
    ]
