"""Case rules saved in the web app: validated per setting, kept in the store, winning over cases.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.cases.rules import default_rules
from heedful.services import case_rules
from heedful.services import cases as case_service
from heedful.store import Store


def test_without_saved_rules_the_file_or_the_defaults_apply(store: Store, tmp_path: Path) -> None:
    assert case_rules.saved_rules(store) is None
    assert case_rules.current_rules(store) == (default_rules(), False)
    path = tmp_path / "cases.yaml"
    path.write_text("holdout_share: 0.2\ntriggers:\n  churn:\n    enabled: false\n", encoding="utf-8")
    from_file = case_service.load_rules(store, path)
    assert from_file.holdout_share == 0.2 and not from_file.triggers.churn.enabled
    assert case_service.load_rules(store) == default_rules()


def test_saved_rules_apply_until_reset_and_a_file_named_on_the_command_line_wins(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text("holdout_share: 0.2\n", encoding="utf-8")
    saved = case_rules.save_rules(
        store,
        {
            "triggers": {"survey": {"nps_max": 5}, "churn": {"enabled": False}},
            "departments": {"delivery": {"high": 8, "medium": 24, "low": 48}},
            "holdout_share": 0.05,
        },
        "admin@example.com",
    )
    assert saved.triggers.survey.nps_max == 5
    assert saved.triggers.survey.csat_max == default_rules().triggers.survey.csat_max  # untouched settings kept
    for rules in (case_service.load_rules(store), case_rules.saved_rules(store)):
        assert rules == saved
    assert case_service.load_rules(store, path).holdout_share == 0.2  # `cases open --rules FILE`: the file asked for
    assert saved.sla_for("delivery").high == 8 and saved.sla_for("support") == saved.sla_hours
    assert case_rules.current_rules(store) == (saved, True)

    case_rules.reset_rules(store)
    assert case_rules.saved_rules(store) is None
    assert case_service.load_rules(store, path).holdout_share == 0.2


def test_the_per_department_sla_is_replaced_as_a_whole(store: Store) -> None:
    case_rules.save_rules(store, {"departments": {"delivery": {"high": 8}, "sales": {"low": 200}}}, "a")
    rules = case_rules.save_rules(store, {"departments": {"sales": {"low": 100}}}, "a")
    assert set(rules.departments) == {"sales"}  # delivery follows the default SLA again
    assert rules.sla_for("sales").low == 100


def test_each_wrong_setting_is_named_in_words_and_nothing_is_saved(store: Store) -> None:
    with pytest.raises(case_rules.RulesProblem) as caught:
        case_rules.save_rules(
            store,
            {
                "triggers": {"survey": {"nps_max": "six"}, "churn": {"min_risk": 1.5, "department": "finance"}},
                "sla_hours": {"high": 0},
                "departments": {"nowhere": {"high": 4}},
                "holdout_share": 0.6,
            },
            "a",
        )
    problems = caught.value.problems
    assert problems["triggers.survey.nps_max"] == "must be a number"
    assert problems["triggers.churn.min_risk"] == "must be at most 1"
    assert problems["sla_hours.high"] == "must be more than 0"
    assert case_rules.saved_rules(store) is None
    # the model's own checks come first; the departments and the holdout limit once those pass
    with pytest.raises(case_rules.RulesProblem) as caught:
        case_rules.save_rules(
            store,
            {
                "triggers": {"churn": {"department": "finance"}},
                "departments": {"nowhere": {"high": 4}},
                "holdout_share": 0.6,
            },
            "a",
        )
    problems = caught.value.problems
    assert problems["holdout_share"] == "must be at most 50%"
    assert problems["triggers.churn.department"].startswith("there is no department 'finance' (departments: ")
    assert "Delivery / logistics" in problems["triggers.churn.department"]
    assert "departments.nowhere" in problems
    assert "must be at most 50%" in str(caught.value)
    assert case_rules.saved_rules(store) is None


def test_opening_cases_from_the_web_uses_the_saved_rules(store: Store) -> None:
    from .conftest import fill_signals

    fill_signals(store, customers=60, feedback=80)
    off = {t: {"enabled": False} for t in ("survey", "feedback", "alert", "churn")}
    case_rules.save_rules(store, {"triggers": {**off, "alert": {"enabled": True}}, "holdout_share": 0}, "a")
    result = case_service.open_cases(store, case_service.load_rules(store))
    assert result["by_trigger"] == {"alert": 1}
    assert result["held_out"] == 0
