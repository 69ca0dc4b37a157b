"""Metric computation on synthetic data: values, 95% intervals, n and monthly series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from heedful.journey.config import MetricSpec
from heedful.journey.internal import split_audiences
from heedful.journey.metrics import (
    JourneyData,
    evaluate_metric,
    metric_series,
    nps_series,
    status_of,
    wilson_interval,
)


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)
    low0, high0 = wilson_interval(0, 20)
    assert low0 == pytest.approx(0.0, abs=1e-12)
    assert 0.1 < high0 < 0.2


def test_wilson_interval_covers_the_true_share_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(1)
    k = rng.binomial(80, 0.3, size=4000)
    low, high = wilson_interval(k, 80)
    coverage = np.mean((low <= 0.3) & (high >= 0.3))
    assert 0.93 < coverage < 0.97


def test_nps_counts_promoters_minus_detractors_with_the_adjusted_wald_interval() -> None:
    scores = pd.Series([10, 9, 9, 8, 7, 6, 3, 0, 10, 10], dtype=float)  # 5 promoters, 3 detractors
    s = nps_series(pd.Series(["2026-10"] * 10), scores)
    row = s.iloc[0]
    assert row["n"] == 10
    assert row["value"] == pytest.approx(20.0)
    p, d = 0.5, 0.3
    assert row["se"] == pytest.approx(100 * np.sqrt((p + d - (p - d) ** 2) / 10))  # what change tests use
    # the interval the survey pages show (Rocks 2016): 3/4 of a respondent added to promoters and detractors
    pa, da = 5.75 / 13, 3.75 / 13
    half = 1.959964 * np.sqrt((pa + da - (pa - da) ** 2) / 13)
    assert row["low"] == pytest.approx(100 * (pa - da - half), rel=1e-4)
    assert row["high"] == pytest.approx(100 * (pa - da + half), rel=1e-4)


def test_nps_interval_covers_the_true_score_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(2)
    runs, n = 1500, 150
    kind = rng.choice(3, size=(runs, n), p=[0.4, 0.35, 0.25])  # true NPS = 15
    scores = np.where(kind == 0, 10, np.where(kind == 1, 8, 3)).ravel().astype(float)
    periods = np.repeat(np.arange(runs), n).astype(str)
    s = nps_series(pd.Series(periods), pd.Series(scores))
    coverage = np.mean((s["low"] <= 15) & (s["high"] >= 15))
    assert 0.93 < coverage < 0.97


def test_theme_positive_share_reads_the_sentiment_about_that_theme(journey_data: JourneyData) -> None:
    spec = MetricSpec(id="d", kind="theme_positive_share", theme="delivery_speed", target=0.75)
    s = metric_series(spec, split_audiences(journey_data)["external"])
    by_period = s.set_index("period")
    # the synthetic data has 70% positive delivery feedback, except 35% in the last month
    assert by_period.loc["2026-10", "value"] == pytest.approx(0.35, abs=0.09)
    earlier = by_period.drop(index="2026-10")
    assert earlier["value"].mean() == pytest.approx(0.70, abs=0.05)
    assert (earlier["low"] < earlier["value"]).all() and (earlier["value"] < earlier["high"]).all()


def test_theme_sentiment_overrides_the_overall_sentiment() -> None:
    fb = pd.DataFrame(
        {
            "feedback_id": ["a", "b", "c"],
            "created_at": pd.to_datetime(["2026-10-02", "2026-10-03", "2026-10-04"]),
            "author_kind": "customer",
            "sentiment": ["mixed", "positive", "negative"],
            "themes": ["delivery;price", "price", "delivery"],
            "theme_sentiments": [json.dumps({"delivery": "positive", "price": "negative"}), "{}", None],
        }
    )
    data = JourneyData(feedback=fb)
    delivery = evaluate_metric(
        MetricSpec(id="d", kind="theme_positive_share", theme="delivery", target=0.5), data, "2026-10"
    )
    price = evaluate_metric(MetricSpec(id="p", kind="theme_positive_share", theme="price", target=0.5), data, "2026-10")
    assert (delivery.n, delivery.value) == (2, 0.5)  # a: positive about delivery; c: negative overall
    assert (price.n, price.value) == (2, 0.5)  # a: negative about price despite "mixed"; b: positive


def test_csat_ces_and_operations_ratio() -> None:
    answers = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(6)],
            "slug": "support",
            "question_id": ["csat"] * 4 + ["ces"] * 2,
            "value_num": [5, 4, 2, 5, 6, 4],
            "answered_at": pd.Timestamp("2026-10-05"),
            "audience": "customer",
        }
    )
    ops = pd.DataFrame(
        {
            "metric": ["on_time", "on_time", "other"],
            "period_start": pd.to_datetime(["2026-10-01", "2026-10-01", "2026-10-01"]),
            "segment": ["north", "south", ""],
            "numerator": [90.0, 80.0, 1.0],
            "denominator": [100.0, 100.0, 2.0],
            "value": [None, None, None],
        }
    )
    data = JourneyData(answers=answers, operations=ops)
    csat = evaluate_metric(MetricSpec(id="c", kind="csat", question="csat", target=0.8), data, "2026-10")
    ces = evaluate_metric(MetricSpec(id="e", kind="ces", question="ces", target=5), data, "2026-10")
    on_time = evaluate_metric(
        MetricSpec(id="o", kind="operations_ratio", operations_metric="on_time", target=0.9), data, "2026-10"
    )
    assert (csat.value, csat.n) == (0.75, 4)
    assert (ces.value, ces.n) == (5.0, 2)
    assert ces.low is not None and ces.low < 5 < ces.high  # type: ignore[operator]
    assert (on_time.value, on_time.n) == (0.85, 200)
    assert on_time.status == "missed"  # Wilson upper bound of 170/200 is below 0.9


def test_repeat_rate_counts_buyers_who_bought_in_an_earlier_month() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "d"],
            "order_id": ["1", "2", "3", "4", "5", "6"],
            "ordered_at": pd.to_datetime(
                ["2026-08-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-20", "2026-09-01"]
            ),
            "amount": 10.0,
            "is_return": False,
        }
    )
    result = evaluate_metric(MetricSpec(id="r", kind="repeat_rate", target=0.5), JourneyData(orders=orders), "2026-10")
    assert result.n == 3  # buyers in October: a, b, c
    assert result.value == pytest.approx(1 / 3)  # only a had bought before October


def test_churn_risk_share_is_a_snapshot_for_the_period_asked() -> None:
    cv = pd.DataFrame({"customer_id": list("abcd"), "clv": [1.0, 2, 3, 4], "churn_risk": [0.1, 0.6, 0.7, 0.2]})
    result = evaluate_metric(
        # min_n=1: four customers are below the default minimum evidence of 30, which would make the
        # status "not_enough_data" (issue 17); this test is about the snapshot, not the minimum.
        MetricSpec(id="c", kind="churn_risk_share", target=0.3, min_n=1),
        JourneyData(customer_value=cv),
        "2026-10",
    )
    assert (result.value, result.n) == (0.5, 4)
    assert result.status == "at_risk"  # 50% > 30% target (lower is better) but the interval reaches 30%


def test_status_compares_value_and_interval_with_the_target() -> None:
    assert status_of(0.8, 0.7, 0.9, 0.75, "higher") == "met"
    assert status_of(0.7, 0.6, 0.8, 0.75, "higher") == "at_risk"
    assert status_of(0.5, 0.4, 0.6, 0.75, "higher") == "missed"
    assert status_of(0.5, 0.4, 0.6, 0.55, "lower") == "met"
    assert status_of(None, None, None, 0.5, "higher") == "no_data"


def test_trend_flags_a_significant_change_in_the_wrong_direction(journey_data: JourneyData) -> None:
    spec = MetricSpec(id="d", kind="theme_positive_share", theme="delivery_speed", target=0.75)
    result = evaluate_metric(spec, journey_data, "2026-10")
    assert result.trend == "worsening"
    assert result.change is not None and result.change < -0.2
    assert result.change_p_value is not None and result.change_p_value < 0.001
    assert list(result.series["period"]) == sorted(result.series["period"])


def test_a_period_without_data_is_no_data_not_an_error() -> None:
    result = evaluate_metric(MetricSpec(id="n", kind="nps", question="nps", target=30), JourneyData(), "2026-10")
    assert result.status == "no_data" and result.n == 0 and result.value is None
