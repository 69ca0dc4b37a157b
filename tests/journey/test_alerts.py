"""Alert statistics: stable data rarely raises an alert (< 5% by simulation), planted changes are found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.journey.alerts import (
    at_risk_value_spike,
    detect_alerts,
    digest_payload,
    digest_text,
    emerging_negative_themes,
    holm_adjust,
    need_worsened,
    segment_nps_drop,
)
from heedful.journey.config import JourneyConfig
from heedful.journey.internal import split_audiences
from heedful.journey.metrics import PROPORTION_KINDS, JourneyData

PERIODS = ["2026-07", "2026-08", "2026-09", "2026-10"]
THEMES = ["delivery", "price", "quality", "fit", "customer_service", "returns", "description"]


def test_holm_adjustment_matches_the_step_down_formula() -> None:
    adjusted = holm_adjust([0.01, 0.04, 0.03, 0.2])
    assert adjusted == pytest.approx([0.04, 0.09, 0.09, 0.2])


def _stable_series(
    config: JourneyConfig, rng: np.random.Generator, n: int = 150
) -> dict[tuple[str, str], pd.DataFrame]:
    """Two months of every metric drawn from the same distribution (nothing changed)."""
    series = {}
    for need in config.needs:
        for spec in need.metrics:
            rows = []
            for period in ("2026-09", "2026-10"):
                if spec.kind in PROPORTION_KINDS:
                    p = 0.7
                    value = rng.binomial(n, p) / n
                    se = np.sqrt(value * (1 - value) / n)
                elif spec.kind == "nps":
                    kind = rng.choice(3, size=n, p=[0.45, 0.35, 0.2])
                    promoters, detractors = np.mean(kind == 0), np.mean(kind == 2)
                    value = 100 * (promoters - detractors)
                    se = 100 * np.sqrt((promoters + detractors - (promoters - detractors) ** 2) / n)
                else:
                    draws = rng.normal(5.0, 1.2, size=n)
                    value, se = draws.mean(), draws.std(ddof=1) / np.sqrt(n)
                rows.append({"period": period, "n": n, "value": value, "low": np.nan, "high": np.nan, "se": se})
            series[(need.id, spec.id)] = pd.DataFrame(rows)
    return series


def test_worsening_need_false_alarm_rate_on_stable_data_is_below_5_percent(config: JourneyConfig) -> None:
    rng = np.random.default_rng(11)
    runs = 300
    alarms = sum(
        bool(need_worsened(config, JourneyData(), "2026-10", series=_stable_series(config, rng))) for _ in range(runs)
    )
    assert alarms / runs < 0.05


def _feedback(
    rng: np.random.Generator, per_month: int, negative: dict[str, dict[str, float]] | None = None
) -> pd.DataFrame:
    frames = []
    for period in PERIODS:
        theme = rng.choice(THEMES, size=per_month)
        rate = np.array([(negative or {}).get(t, {}).get(period, 0.25) for t in theme])
        neg = rng.random(per_month) < rate
        frames.append(
            pd.DataFrame(
                {
                    "feedback_id": [f"{period}-{i}" for i in range(per_month)],
                    "created_at": pd.Timestamp(f"{period}-10"),
                    "author_kind": "customer",
                    "sentiment": np.where(neg, "negative", "positive"),
                    "themes": theme,
                    "theme_sentiments": None,
                    "department": "support",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_emerging_theme_false_alarm_rate_on_stable_data_is_below_5_percent() -> None:
    rng = np.random.default_rng(12)
    runs = 120
    alarms = sum(
        bool(emerging_negative_themes(JourneyData(feedback=_feedback(rng, 350)), "2026-10")) for _ in range(runs)
    )
    assert alarms / runs < 0.05


def _nps_answers(rng: np.random.Generator, customers: np.ndarray, drop_for: set[str] | None = None) -> pd.DataFrame:
    frames = []
    for period in ("2026-09", "2026-10"):
        who = rng.choice(customers, size=500)
        low = np.isin(who, list(drop_for or set())) & (period == "2026-10")
        p = np.where(low[:, None], [0.15, 0.35, 0.5], [0.45, 0.35, 0.2])
        kind = (rng.random(500)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
        score = np.select([kind == 0, kind == 1], [10.0, 8.0], 3.0)
        frames.append(
            pd.DataFrame(
                {
                    "response_id": [f"{period}-{i}" for i in range(500)],
                    "question_id": "nps",
                    "value_num": score,
                    "answered_at": pd.Timestamp(f"{period}-12"),
                    "customer_id": who,
                    "audience": "customer",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _customer_value(rng: np.random.Generator) -> pd.DataFrame:
    ids = np.array([f"c{i}" for i in range(400)])
    clv = rng.lognormal(4, 1, size=400)
    segment = np.where(clv > np.quantile(clv, 0.75), "champions", "others")
    return pd.DataFrame({"customer_id": ids, "clv": clv, "churn_risk": 0.2, "segment": segment})


def test_segment_nps_false_alarm_rate_on_stable_data_is_below_5_percent() -> None:
    rng = np.random.default_rng(13)
    cv = _customer_value(rng)
    runs = 120
    alarms = 0
    for _ in range(runs):
        data = JourneyData(answers=_nps_answers(rng, cv["customer_id"].to_numpy()), customer_value=cv)
        alarms += bool(segment_nps_drop(data, "2026-10", questions=["nps"]))
    assert alarms / runs < 0.05


def test_planted_nps_drop_of_the_most_valuable_customers_is_detected() -> None:
    rng = np.random.default_rng(14)
    cv = _customer_value(rng)
    champions = set(cv.loc[cv["segment"] == "champions", "customer_id"])
    data = JourneyData(answers=_nps_answers(rng, cv["customer_id"].to_numpy(), drop_for=champions), customer_value=cv)
    alerts = segment_nps_drop(data, "2026-10", questions=["nps"])
    subjects = {a.subject for a in alerts}
    assert "champions" in subjects
    assert all(a.value_after < a.value_before for a in alerts)  # type: ignore[operator]


def test_planted_negative_theme_is_detected_and_only_that_one() -> None:
    rng = np.random.default_rng(15)
    fb = _feedback(rng, 350, negative={"returns": {"2026-10": 0.8}})
    alerts = emerging_negative_themes(JourneyData(feedback=fb), "2026-10")
    assert [a.subject for a in alerts] == ["returns"]
    assert alerts[0].department_id == "support"


def test_planted_delivery_drop_raises_a_need_alert_for_its_department(
    config: JourneyConfig, journey_data: JourneyData
) -> None:
    external = split_audiences(journey_data)["external"]
    alerts = detect_alerts(config, external, "2026-10")
    need_alerts = [a for a in alerts if a.kind == "need_worsened"]
    assert [a.subject for a in need_alerts] == ["on_time_delivery/delivery_feedback"]
    assert need_alerts[0].department_id == "delivery"
    assert need_alerts[0].severity == "high"  # it also misses the 75% target
    assert any(a.kind == "emerging_negative_theme" and a.subject == "delivery_speed" for a in alerts)


def test_small_samples_never_alert(config: JourneyConfig) -> None:
    series = {
        (need.id, spec.id): pd.DataFrame(
            [
                {"period": "2026-09", "n": 20, "value": 0.95, "low": 0, "high": 1, "se": 0.05},
                {"period": "2026-10", "n": 20, "value": 0.05, "low": 0, "high": 1, "se": 0.05},
            ]
        )
        for need in config.needs
        for spec in need.metrics
    }
    assert need_worsened(config, JourneyData(), "2026-10", series=series) == []


def test_at_risk_value_spike_needs_a_previous_figure_and_a_20_percent_rise() -> None:
    assert at_risk_value_spike(1000.0, 10, None, "2026-10") == []
    assert at_risk_value_spike(1100.0, 10, 1000.0, "2026-10") == []
    alerts = at_risk_value_spike(1300.0, 12, 1000.0, "2026-10", previous_label="2026-09")
    assert len(alerts) == 1 and alerts[0].kind == "at_risk_value_spike"
    assert "2026-09" in alerts[0].detail


def test_digest_groups_alerts_by_department_and_has_stable_ids(
    config: JourneyConfig, journey_data: JourneyData
) -> None:
    alerts = detect_alerts(config, split_audiences(journey_data)["external"], "2026-10")
    text = digest_text(alerts, "2026-10")
    assert "== delivery ==" in text
    payload = digest_payload(alerts, "2026-10")
    assert payload["count"] == len(alerts)
    again = detect_alerts(config, split_audiences(journey_data)["external"], "2026-10")
    assert [a.alert_id for a in again] == [a["alert_id"] for a in payload["alerts"]]
    assert digest_text([], "2026-10").endswith("nothing got significantly worse.\n")


def test_an_alert_names_the_theme_by_its_label_and_its_evidence_in_words() -> None:
    rng = np.random.default_rng(15)
    fb = _feedback(rng, 350, negative={"returns": {"2026-10": 0.8}})
    (alert,) = emerging_negative_themes(JourneyData(feedback=fb), "2026-10", theme_names={"returns": "Returns"})
    assert "“Returns”" in alert.title and "speak negatively of Returns" in alert.detail
    assert "chance this is noise" in alert.detail and "p =" not in alert.detail and "Holm" not in alert.detail
