"""Scorecards: per need value, target, status and trend, the evidence behind it, per department."""

from __future__ import annotations

from heedful.journey.config import JourneyConfig
from heedful.journey.internal import split_audiences
from heedful.journey.metrics import JourneyData
from heedful.journey.scorecard import build_scorecard, need_status


def test_every_need_is_scored_with_metrics_targets_and_status(config: JourneyConfig, journey_data: JourneyData) -> None:
    card = build_scorecard(config, split_audiences(journey_data)["external"], "2026-10")
    assert [n.need.id for n in card.needs] == [n.id for n in config.needs]
    delivery = next(n for n in card.needs if n.need.id == "on_time_delivery")
    feedback_metric = delivery.metrics[0]
    assert feedback_metric.status == "missed" and feedback_metric.trend == "worsening"
    assert feedback_metric.low < feedback_metric.value < feedback_metric.high  # type: ignore[operator]
    assert delivery.status == "missed"
    doc = card.to_dict()
    assert {"period", "audience", "departments", "needs"} <= set(doc)
    delivery_doc = next(n for n in doc["needs"] if n["need_id"] == "on_time_delivery")
    assert len(delivery_doc["metrics"][0]["series"]) == 6, "the monthly trend series is part of the scorecard"


def test_evidence_names_themes_quotes_and_the_most_valuable_unhappy_customers(
    config: JourneyConfig, journey_data: JourneyData
) -> None:
    external = split_audiences(journey_data)["external"]
    card = build_scorecard(config, external, "2026-10", department="delivery")
    assert [n.need.department for n in card.needs] == ["delivery"]
    need = card.needs[0]
    assert need.themes[0]["theme"] == "delivery_speed"
    assert need.quotes and need.quotes[0]["sentiment"] == "negative"
    assert any(topic in need.quotes[0]["text"] for topic in ("delivery speed", "packaging"))  # the need's themes
    clv = [c["clv"] for c in need.customers_affected]
    assert clv == sorted(clv, reverse=True) and len(clv) == 10
    assert need.affected_count >= len(clv)
    unhappy = set(
        external.feedback.loc[
            (external.feedback_period == "2026-10") & (external.feedback["sentiment"] == "negative"), "customer_id"
        ]
    )
    assert {c["customer_id"] for c in need.customers_affected} <= unhappy


def test_quotes_prefer_redacted_text(config: JourneyConfig, journey_data: JourneyData) -> None:
    external = split_audiences(journey_data)["external"]
    fb = external.feedback.copy()
    fb["redacted_text"] = fb["text"].str.replace("Disappointed", "[REDACTED]").str.replace("Really", "[REDACTED]")
    card = build_scorecard(config, JourneyData(feedback=fb, answers=external.answers), "2026-10", department="delivery")
    assert card.needs[0].quotes and all("[REDACTED]" in q["text"] for q in card.needs[0].quotes)


def test_need_status_is_the_worst_measured_metric() -> None:
    from heedful.journey.config import MetricSpec
    from heedful.journey.metrics import MetricResult

    spec = MetricSpec(id="m", kind="nps", question="nps", target=1)

    def r(status: str) -> MetricResult:
        return MetricResult(spec, "2026-10", None, None, None, 0, status)  # type: ignore[arg-type]

    assert need_status([r("met"), r("at_risk")]) == "at_risk"
    assert need_status([r("met"), r("no_data")]) == "met"
    assert need_status([r("no_data")]) == "no_data"
    assert need_status([r("missed"), r("met")]) == "missed"


def test_empty_data_gives_no_data_for_every_need(config: JourneyConfig) -> None:
    card = build_scorecard(config, JourneyData(), "2026-10")
    assert {n.status for n in card.needs} == {"no_data"}
    assert all(n.quotes == [] and n.customers_affected == [] for n in card.needs)
