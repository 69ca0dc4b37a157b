"""Store I/O for the journey on both backends: the tables metrics read, history, alerts, operations."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.errors import ConfigError, InputError
from heedful.journey.alerts import detect_alerts
from heedful.journey.config import default_config
from heedful.journey.internal import split_audiences
from heedful.journey.scorecard import build_scorecard
from heedful.journey.synthetic import SyntheticSpec, make_journey_data
from heedful.services import journey as service
from heedful.store import Store

from .conftest import DROP, fill_store


def test_scorecard_from_the_store_matches_the_one_from_memory(store: Store) -> None:
    data = make_journey_data(
        SyntheticSpec(customers=300, feedback=4000, staff=10, staff_feedback=60, positive_rate=DROP, seed=9)
    )
    fill_store(store, data)
    config = default_config()
    assert service.latest_period(store) == "2026-10"
    loaded = service.load_journey_data(store, "2026-10")
    from_store = build_scorecard(config, split_audiences(loaded)["external"], "2026-10")
    in_memory = build_scorecard(config, split_audiences(data)["external"], "2026-10")
    for a, b in zip(from_store.needs, in_memory.needs, strict=True):
        for ma, mb in zip(a.metrics, b.metrics, strict=True):
            if ma.spec.kind == "repeat_rate":
                continue  # the store aggregates orders by customer-month; equal shares, checked below
            assert (ma.n, ma.value) == pytest.approx((mb.n, mb.value)), ma.spec.id
    repeat = next(m for n in from_store.needs for m in n.metrics if m.spec.kind == "repeat_rate")
    repeat_mem = next(m for n in in_memory.needs for m in n.metrics if m.spec.kind == "repeat_rate")
    assert repeat.value == pytest.approx(repeat_mem.value)
    # texts are loaded only for the reported month
    assert loaded.feedback.loc[loaded.feedback_period != "2026-10", "text"].isna().all()
    assert loaded.feedback.loc[loaded.feedback_period == "2026-10", "text"].notna().all()

    assert service.save_metric_values(store, from_store) == sum(len(n.metrics) for n in from_store.needs)
    alerts = detect_alerts(config, split_audiences(loaded)["external"], "2026-10")
    assert service.save_alerts(store, alerts) == len(alerts) > 0
    assert service.save_alerts(store, alerts) == 0  # the same alerts are not stored twice
    stored = service.load_alerts(store, since="2026-10")
    assert set(stored["alert_id"]) == {a.alert_id for a in alerts}
    service.mark_sent(store, [alerts[0].alert_id])
    assert service.load_alerts(store)["sent_at"].notna().sum() == 1


def test_headline_history_returns_the_last_earlier_figure(store: Store) -> None:
    service.record_headline(store, "at_risk_value", "2026-08", 100.0, 3)
    service.record_headline(store, "at_risk_value", "2026-09", 120.0, 4)
    assert service.previous_headline(store, "at_risk_value", "2026-10") == (120.0, "2026-09")
    assert service.previous_headline(store, "at_risk_value", "2026-08") is None


def test_operations_csv_is_validated_line_by_line(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "ops.csv"
    path.write_text(
        "metric,period,numerator,denominator,segment\n"
        "on_time_delivery,2026-09,930,1000,north\n"
        "on_time_delivery,2026-10-01,910,1000,north\n"
        "first_response,2026-10,,,\n"
    )
    with pytest.raises(InputError, match=r"ops\.csv line 4: give numerator and denominator, or value"):
        service.import_operations(store, path)
    assert store.count("operations") == 0
    path.write_text("metric,period,value\nfirst_response_hours,2026-10,4.5\n")
    assert service.import_operations(store, path)["stored"] == 1


def test_a_need_pointing_at_a_deleted_stage_is_a_clear_error(store: Store) -> None:
    service.save_config(store, default_config())
    store.execute("DELETE FROM journey_stages WHERE stage_id = 'delivery'")
    with pytest.raises(ConfigError, match=r"unknown stage 'delivery'.*needs import"):
        service.load_config(store)


def test_departments_added_in_settings_keep_the_default_needs(store: Store) -> None:
    import pandas as pd

    store.upsert("departments", pd.DataFrame([{"department_id": "finance", "name": "Finance", "email": None}]))
    config = service.load_config(store)
    assert [d.id for d in config.departments] == ["finance"]
    assert config.needs == []  # default needs belong to departments that are not stored
    for dept in default_config().departments:
        store.upsert("departments", pd.DataFrame([{"department_id": dept.id, "name": dept.name, "email": None}]))
    assert len(service.load_config(store).needs) == len(default_config().needs)


def test_feedback_listening_gave_to_logistics_counts_for_the_delivery_department(store: Store) -> None:
    data = make_journey_data(SyntheticSpec(customers=100, feedback=600, seed=4))
    fill_store(store, data)
    store.execute("UPDATE feedback_enriched SET department = 'logistics' WHERE department = 'delivery'")
    assert store.fetchall("SELECT count(*) FROM feedback_enriched WHERE department = 'logistics'")[0][0] > 0
    loaded = service.load_journey_data(store, "2026-10")
    assert "logistics" not in set(loaded.feedback["department"])
    assert (loaded.feedback["department"] == "delivery").sum() == (data.feedback["department"] == "delivery").sum()
