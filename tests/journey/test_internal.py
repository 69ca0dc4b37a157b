"""Internal customers: staff and partners kept apart from customers, no group under 5 respondents shown."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heedful.journey.config import JourneyConfig
from heedful.journey.internal import (
    MIN_GROUP,
    apply_min_group,
    internal_summary,
    split_audiences,
    suppress_scorecard,
)
from heedful.journey.metrics import JourneyData
from heedful.journey.scorecard import build_scorecard


def _staff_feedback(groups: dict[str, int], period: str = "2026-10") -> pd.DataFrame:
    """Each theme gets feedback from the given number of distinct staff members (two items each)."""
    rows = []
    for theme, people in groups.items():
        for person in range(people):
            for item in range(2):
                rows.append(
                    {
                        "feedback_id": f"{theme}-{person}-{item}",
                        "created_at": pd.Timestamp(f"{period}-05"),
                        "customer_id": f"staff-{theme}-{person}",
                        "author_kind": "staff",
                        "text": f"About {theme}: my manager Jane Smith said no",
                        "redacted_text": f"About {theme}: my manager [NAME] said no",
                        "sentiment": "negative" if person % 2 else "positive",
                        "themes": theme,
                        "theme_sentiments": None,
                        "department": theme,
                    }
                )
    return pd.DataFrame(rows)


def test_groups_under_five_respondents_are_suppressed_with_a_note() -> None:
    data = JourneyData(feedback=_staff_feedback({"workload": 4, "pay": 5, "tools": 9}))
    summary = internal_summary(data, "2026-10", "staff")
    by_theme = {row["group"]: row for row in summary["themes"]}
    assert by_theme["workload"]["value"] is None and by_theme["workload"]["respondents"] is None
    assert "fewer than 5 respondents" in by_theme["workload"]["note"]
    assert by_theme["pay"]["respondents"] == 5 and by_theme["pay"]["value"] is not None
    assert by_theme["tools"]["respondents"] == 9
    by_dept = {row["group"]: row for row in summary["departments"]}
    assert by_dept["workload"]["value"] is None
    assert summary["respondents"] == 18
    assert summary["suppressed_groups"] == 2  # workload as a theme and as a department


def test_respondents_not_items_are_counted() -> None:
    # 4 people writing 2 items each = 8 items, still fewer than 5 people: suppressed
    data = JourneyData(feedback=_staff_feedback({"workload": 4}))
    summary = internal_summary(data, "2026-10", "staff")
    assert summary["positive"]["value"] is None and summary["respondents"] is None


def test_enps_needs_five_respondents() -> None:
    answers = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(4)],
            "slug": "pulse",
            "question_id": "enps",
            "value_num": [9.0, 10, 3, 8],
            "answered_at": pd.Timestamp("2026-10-03"),
            "customer_id": [f"s{i}" for i in range(4)],
            "audience": "staff",
        }
    )
    few = internal_summary(JourneyData(answers=answers), "2026-10", "staff")
    assert few["enps"]["value"] is None and few["enps"]["note"]
    more = pd.concat(
        [
            answers,
            answers.assign(response_id=lambda f: f["response_id"] + "b", customer_id=lambda f: f["customer_id"] + "b"),
        ]
    )
    enough = internal_summary(JourneyData(answers=more), "2026-10", "staff")
    assert enough["enps"]["value"] == 25.0 and enough["enps"]["respondents"] == 8


def test_staff_and_partner_feedback_never_reaches_the_customer_view(
    config: JourneyConfig, journey_data: JourneyData
) -> None:
    parts = split_audiences(journey_data)
    assert set(parts["external"].feedback["author_kind"]) <= {"customer", "prospect"}
    assert set(parts["staff"].feedback["author_kind"]) == {"staff"}
    staff_ids = set(parts["staff"].feedback["customer_id"])
    card = build_scorecard(config, parts["external"], "2026-10")
    shown = {c["customer_id"] for n in card.needs for c in n.customers_affected}
    quoted = {q["feedback_id"] for n in card.needs for q in n.quotes}
    assert not shown & staff_ids
    assert not quoted & set(parts["staff"].feedback["feedback_id"])
    # orders and customer value describe customers: internal audiences do not carry them
    assert parts["staff"].orders.empty and parts["staff"].customer_value.empty


def test_internal_scorecards_hide_people_small_groups_and_unredacted_text(config: JourneyConfig) -> None:
    fb = _staff_feedback({"delivery_speed": 3, "customer_support": 12})
    data = split_audiences(JourneyData(feedback=fb))["staff"]
    card = suppress_scorecard(build_scorecard(config, data, "2026-10", audience="staff"), data)
    for need in card.needs:
        assert need.customers_affected == [] and need.affected_value is None
        for m in need.metrics:
            assert m.value is None or m.n >= MIN_GROUP
        assert all("[NAME]" in q["text"] for q in need.quotes)
    delivery = next(n for n in card.needs if n.need.id == "on_time_delivery")
    assert any("fewer than 5 respondents" in note for note in delivery.notes)


def test_apply_min_group_blanks_small_rows() -> None:
    frame = pd.DataFrame({"team": ["a", "b"], "respondents": [3, 7], "score": [0.2, 0.8]})
    out = apply_min_group(frame, "respondents", ["score"])
    assert out.loc[0, "score"] is None and out.loc[0, "respondents"] is None and out.loc[0, "note"]
    assert out.loc[1, "score"] == 0.8 and out.loc[1, "note"] is None
    assert np.isfinite(out.loc[1, "respondents"])
