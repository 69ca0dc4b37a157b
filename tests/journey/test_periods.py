"""Comparable periods and minimum evidence (issue 17): a month whose data ends early is never the
default and never compared with a whole month; a need measured on too few answers is neither met nor
missed."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.journey.alerts import detect_alerts
from heedful.journey.config import Department, JourneyConfig, MetricSpec, Need, Stage
from heedful.journey.metrics import JourneyData
from heedful.journey.periods import coverage, default_period, first_days, last_complete_period
from heedful.journey.scorecard import build_scorecard
from heedful.services import journey as service
from heedful.store import Store

runner = CliRunner()


def _config(**metric: object) -> JourneyConfig:
    spec = MetricSpec.model_validate({"id": "positive", "kind": "feedback_positive_share", "target": 0.5, **metric})
    return JourneyConfig(
        stages=[Stage(id="use", name="Use")],
        departments=[Department(id="product", name="Product")],
        needs=[Need(id="works", label="It works", stage="use", department="product", metrics=[spec])],
    )


def _feedback(blocks: list[tuple[str, int, int, float]]) -> pd.DataFrame:
    """Feedback items: for each (first day, last day, count, positive share), `count` items spread over
    those days (inclusive), the first `share` of them positive."""
    rows = []
    for first, last, count, share in blocks:
        days = pd.date_range(first, last, freq="D")
        for i in range(count):
            rows.append(
                {
                    "feedback_id": f"{first}-{i}",
                    "created_at": days[i % len(days)] + pd.Timedelta(hours=10),
                    "customer_id": f"c{i}",
                    "author_kind": "customer",
                    "text": "some words about it",
                    "sentiment": "positive" if i < round(share * count) else "negative",
                    "themes": "",
                }
            )
    return pd.DataFrame(rows)


def _add_order(store: Store, when: str) -> None:
    store.insert_new(
        "orders",
        pd.DataFrame(
            [
                {
                    "order_line_id": "late-1",
                    "order_id": "late-1",
                    "customer_id": "C0000001",
                    "ordered_at": pd.Timestamp(when),
                    "quantity": 1.0,
                    "unit_price": 10.0,
                    "amount": 10.0,
                    "is_return": False,
                    "source": "test",
                }
            ]
        ),
    )


# ---------------------------------------------------------------- the one helper


def test_a_month_the_data_ends_in_is_partial_with_the_days_it_covers() -> None:
    end = "2011-12-09 12:50"  # the bundled Online Retail data ends here
    december = coverage("2011-12", end)
    assert (december.partial, december.days, december.days_in_period) == (True, 9, 31)
    assert december.label == "Dec 2011 (partial, 9 days)"
    assert december.comparison.startswith("compared with the first 9 days of 2011-11")
    assert not coverage("2011-11", end).partial and coverage("2011-11", end).days == 30
    assert coverage("2012-01", end).days == 0
    assert last_complete_period(end) == "2011-11"
    assert last_complete_period("2011-11-30 08:00") == "2011-11"  # data on the last day: complete
    assert coverage("2011-11", None).partial is False  # no data: nothing to call partial


def test_default_period_falls_back_to_the_partial_month_only_when_no_month_is_complete() -> None:
    assert default_period("2010-12-01", "2011-12-09") == "2011-11"
    assert default_period("2011-12-02", "2011-12-09") == "2011-12"
    assert default_period(None, None) is None


def test_first_days_cuts_only_the_named_months() -> None:
    fb = _feedback([("2026-09-01", "2026-09-30", 30, 1.0), ("2026-10-01", "2026-10-30", 30, 1.0)])
    cut = first_days(JourneyData(feedback=fb), ["2026-10"], 9)
    months = pd.to_datetime(cut.feedback["created_at"]).dt.strftime("%Y-%m")
    assert (months == "2026-09").sum() == 30
    assert pd.to_datetime(cut.feedback.loc[months == "2026-10", "created_at"]).dt.day.max() == 9


# ---------------------------------------------------------------- defaults skip a partial month


def test_default_period_skips_a_partial_last_month(journey_store: Store) -> None:
    assert service.resolve_period(journey_store, None) == "2026-10"  # data to 31 October: complete
    _add_order(journey_store, "2026-11-09 12:00")
    # Before issue 17 this was "2026-11": the latest month with any data, though it held 9 days.
    assert service.resolve_period(journey_store, None) == "2026-10"
    november = service.period_coverage(journey_store, "2026-11")
    assert (november.partial, november.days) == (True, 9)
    assert service.alert_periods(journey_store, pd.Timestamp("2026-09-01").date()) == ["2026-09", "2026-10"]


def test_scorecard_json_names_its_period_and_whether_it_is_partial(journey_store: Store) -> None:
    _add_order(journey_store, "2026-11-09 12:00")
    url = journey_store.url
    journey_store.close()
    result = runner.invoke(app, ["journey", "scorecard", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["period"], doc["partial"], doc["days_covered"]) == ("2026-10", False, 31)
    result = runner.invoke(app, ["journey", "scorecard", "--db", url, "--json", "--period", "2026-11"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["period"], doc["partial"], doc["days_covered"]) == ("2026-11", True, 9)
    assert "first 9 days of 2026-10" in doc["comparison"]


# ---------------------------------------------------------------- like with like


def test_a_partial_month_is_compared_with_the_same_days_of_the_month_before() -> None:
    # October: all positive in its first 9 days, all negative after; November holds 9 days, all positive.
    fb = _feedback(
        [
            ("2026-10-01", "2026-10-09", 60, 1.0),
            ("2026-10-10", "2026-10-31", 400, 0.0),
            ("2026-11-01", "2026-11-09", 60, 1.0),
        ]
    )
    data, config = JourneyData(feedback=fb), _config()
    whole = build_scorecard(config, data, "2026-11").needs[0].metrics[0]
    assert whole.previous == pytest.approx(60 / 460)  # the old comparison: 9 days against a whole month
    card = build_scorecard(config, data, "2026-11", coverage=coverage("2026-11", "2026-11-09 18:00"))
    metric = card.needs[0].metrics[0]
    assert metric.previous == pytest.approx(1.0) and metric.trend == "stable"
    doc = card.to_dict()
    assert doc["partial"] is True and doc["days_covered"] == 9
    assert doc["comparison"].startswith("compared with the first 9 days of 2026-10")


def test_alerts_do_not_raise_a_drop_from_a_partial_month_against_a_whole_one() -> None:
    # Positive share 30% in the first 9 days of every month, 90% later on: November (9 days) looks
    # like a collapse against the whole of October, and is no change against its first 9 days.
    fb = _feedback(
        [
            ("2026-10-01", "2026-10-09", 200, 0.3),
            ("2026-10-10", "2026-10-31", 800, 0.9),
            ("2026-11-01", "2026-11-09", 200, 0.3),
        ]
    )
    data, config = JourneyData(feedback=fb), _config()
    assert [a.kind for a in detect_alerts(config, data, "2026-11")] == ["need_worsened"]  # the old behaviour
    partial = coverage("2026-11", "2026-11-09 18:00")
    assert detect_alerts(config, data, "2026-11", coverage=partial) == []


# ---------------------------------------------------------------- minimum evidence


def test_a_need_measured_on_one_answer_is_not_enough_data_rather_than_met() -> None:
    fb = _feedback([("2026-10-03", "2026-10-03", 1, 1.0)])
    card = build_scorecard(_config(), JourneyData(feedback=fb), "2026-10")
    need = card.needs[0]
    metric = need.metrics[0]
    assert (metric.value, metric.n) == (1.0, 1)  # 100%, interval 20.7-100%: shown, but not "met"
    assert metric.status == "not_enough_data" and need.status == "not_enough_data"
    doc = card.to_dict()
    assert doc["needs"][0]["metrics"][0]["status_text"] == "not enough data (n = 1)"
    assert doc["needs"][0]["metrics"][0]["min_n"] == 30
    summary = doc["departments"][0]
    assert (summary["met"], summary["missed"], summary["not_enough_data"]) == (0, 0, 1)


def test_minimum_evidence_is_a_parameter_of_the_metric() -> None:
    fb = _feedback([("2026-10-03", "2026-10-03", 1, 1.0)])
    card = build_scorecard(_config(min_n=1), JourneyData(feedback=fb), "2026-10")
    assert card.needs[0].status == "met"


def test_a_need_with_one_measured_metric_takes_its_status_and_ignores_the_thin_one() -> None:
    spec_thin = MetricSpec(id="thin", kind="feedback_positive_share", target=0.5, stage="rare")
    spec_ok = MetricSpec(id="ok", kind="feedback_positive_share", target=0.5)
    config = JourneyConfig(
        stages=[Stage(id="use", name="Use")],
        departments=[Department(id="product", name="Product")],
        needs=[Need(id="works", label="It works", stage="use", department="product", metrics=[spec_thin, spec_ok])],
    )
    fb = _feedback([("2026-10-01", "2026-10-30", 40, 0.1)])
    fb["journey_stage"] = np.where(np.arange(len(fb)) == 0, "rare", "use")
    need = build_scorecard(config, JourneyData(feedback=fb), "2026-10").needs[0]
    assert [m.status for m in need.metrics] == ["not_enough_data", "missed"]
    assert need.status == "missed"
