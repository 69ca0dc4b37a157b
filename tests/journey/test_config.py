"""Needs, stages and departments as data: YAML in and out, errors that name their line, stored config."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.errors import ConfigError
from heedful.journey.config import DEFAULT_STAGES, JourneyConfig, default_config, dump_config, parse_config
from heedful.services import journey as service
from heedful.store import Store

NEEDS_YAML = """\
needs:
  - id: quick_answers
    label: I get an answer the same day
    stage: support
    department: support
    metrics:
      - id: service_praise
        kind: theme_positive_share
        theme: customer_service
        target: 0.8
      - id: ticket_sla
        kind: operations_ratio
        operations_metric: answered_same_day
        target: 0.9
"""


def test_default_config_has_the_eight_stages_in_journey_order() -> None:
    config = default_config()
    assert [s.id for s in config.ordered_stages()] == [s for s, _ in DEFAULT_STAGES]
    assert {"marketing", "sales", "delivery", "services", "support", "product"} <= {d.id for d in config.departments}
    assert config.needs, "the shipped needs file defines starter needs"


def test_exported_yaml_reads_back_to_the_same_config() -> None:
    config = default_config()
    assert parse_config(dump_config(config)) == config


def test_missing_stages_and_departments_fall_back_to_the_defaults() -> None:
    config = parse_config(NEEDS_YAML)
    assert len(config.stages) == 8
    need = config.needs[0]
    assert need.metrics[1].operations_metric == "answered_same_day"
    assert need.metrics[0].better == "higher"


def test_unknown_stage_is_reported_with_its_line() -> None:
    bad = NEEDS_YAML.replace("stage: support", "stage: aftercare")
    with pytest.raises(ConfigError, match=r"line 4: needs\.0\.stage: .*unknown stage 'aftercare'"):
        parse_config(bad)


def test_metric_missing_its_parameter_is_reported_with_its_line() -> None:
    bad = NEEDS_YAML.replace("        theme: customer_service\n", "")
    with pytest.raises(
        ConfigError, match=r"line 7: needs\.0\.metrics\.0: metric kind 'theme_positive_share' needs theme"
    ):
        parse_config(bad)


def test_unknown_metric_kind_and_bad_yaml_name_their_line() -> None:
    with pytest.raises(ConfigError, match=r"line 12: needs\.0\.metrics\.1\.kind"):
        parse_config(NEEDS_YAML.replace("kind: operations_ratio", "kind: vibes"))
    with pytest.raises(ConfigError, match=r"line 3: not valid YAML"):
        parse_config("needs:\n  - id: x\n   label: [\n")


def test_churn_risk_share_is_better_when_lower_by_default() -> None:
    config = default_config()
    churn = next(m for n in config.needs for m in n.metrics if m.kind == "churn_risk_share")
    assert churn.better == "lower"


def test_stored_config_round_trips_on_both_backends(store: Store) -> None:
    assert service.load_config(store) == default_config()  # nothing stored yet: the default
    config = parse_config(NEEDS_YAML)
    counts = service.save_config(store, config)
    assert counts == {"stages": 8, "departments": 6, "needs": 1}
    loaded = service.load_config(store)
    assert isinstance(loaded, JourneyConfig)
    assert loaded.stages == config.stages
    assert loaded.needs == config.needs
    assert sorted(loaded.departments, key=lambda d: d.id) == sorted(config.departments, key=lambda d: d.id)


def test_listening_departments_and_stages_are_read_as_their_journey_owners() -> None:
    feedback = pd.DataFrame(
        {
            "department": ["logistics", "merchandising", "support", "astrology", None],
            "journey_stage": ["delivery", "after_sales", "use", "delivery", None],
        }
    )
    out = default_config().harmonise_feedback(feedback)
    assert out["department"].tolist()[:4] == ["delivery", "product", "support", "astrology"]
    assert out["journey_stage"].tolist()[:4] == ["delivery", "support", "use", "delivery"]
    assert feedback["department"].iloc[0] == "logistics"  # the caller's frame is left alone


def test_a_journey_that_defines_a_listening_id_keeps_it() -> None:
    config = parse_config(
        "departments:\n  - {id: logistics, name: Logistics}\n  - {id: services, name: Services}\nneeds: []\n"
    )
    out = config.harmonise_feedback(pd.DataFrame({"department": ["logistics", "returns"], "journey_stage": ["x", "y"]}))
    assert out["department"].tolist() == ["logistics", "services"]
