"""Page validation and skip logic (pure, no database)."""

from __future__ import annotations

from pathlib import Path

from heedful.surveys.collect import conjoint_tasks, known_values, maxdiff_tasks, next_page, validate_page
from heedful.surveys.definition import parse_survey

SURVEY = parse_survey(
    (Path(__file__).resolve().parents[2] / "src/heedful/surveys/examples/customer-pulse.yaml").read_text()
)


def test_required_and_out_of_range_answers_get_messages() -> None:
    page = SURVEY.pages[0]
    result = validate_page(SURVEY, page, {"nps": ["11"], "csat": [""]}, "r1", {})
    assert result.errors == {"nps": "Choose a number from 0 to 10.", "csat": "Please answer this question."}
    ok = validate_page(SURVEY, page, {"nps": ["9"], "csat": ["4"]}, "r1", {})
    assert ok.ok and [(a.question_id, a.value) for a in ok.answers] == [("nps", "9"), ("csat", "4")]


def test_promoters_skip_the_what_went_wrong_page() -> None:
    assert next_page(SURVEY, 0, known_values([("nps", "", "10")])) == 2
    assert next_page(SURVEY, 0, known_values([("nps", "", "3")])) == 1
    assert next_page(SURVEY, 3, {}) is None


def test_other_option_needs_its_text_and_multiple_choice_stores_one_row_per_option() -> None:
    page = SURVEY.pages[1]
    missing = validate_page(SURVEY, page, {"problems": ["price", "__other__"]}, "r1", {})
    assert "Other" in missing.errors["problems"]
    result = validate_page(
        SURVEY, page, {"problems": ["price", "__other__"], "problems.other": ["rude driver"]}, "r1", {}
    )
    assert [(a.field, a.value) for a in result.answers] == [("price", "1"), ("other", "rude driver")]


def test_ranking_needs_distinct_ranks_and_likert_every_row() -> None:
    page = SURVEY.pages[2]
    form = {
        "ratings.delivery_is_fast": ["4"],
        "priorities.price": ["1"],
        "priorities.speed": ["1"],
        "priorities.choice": ["3"],
        "channel": ["friend"],
        "orders_per_year": ["2.5"],
    }
    result = validate_page(SURVEY, page, form, "r1", {})
    assert set(result.errors) == {"ratings", "priorities", "orders_per_year"}


def test_tradeoff_tasks_are_stable_per_respondent_and_validated() -> None:
    q_md, q_cj, _q_vw = SURVEY.pages[3].questions
    tasks = maxdiff_tasks(q_md, "resp-a")
    assert tasks == maxdiff_tasks(q_md, "resp-a") and all(len(t) == 3 for t in tasks)
    profiles = conjoint_tasks(q_cj, "resp-a")
    assert len(profiles) == 2 and all(len(t) == 2 for t in profiles)
    form = {f"features.t{i + 1}.best": [t[0]] for i, t in enumerate(tasks)} | {
        f"features.t{i + 1}.worst": [t[1]] for i, t in enumerate(tasks)
    }
    form |= {"plans.t1": ["1"], "plans.t2": ["2"]}
    form |= {
        "price_feel.too_cheap": ["10"],
        "price_feel.cheap": ["20"],
        "price_feel.expensive": ["15"],
        "price_feel.too_expensive": ["40"],
    }
    result = validate_page(SURVEY, SURVEY.pages[3], form, "resp-a", {})
    assert set(result.errors) == {"price_feel"}  # prices must rise
    form["price_feel.expensive"] = ["30"]
    result = validate_page(SURVEY, SURVEY.pages[3], form, "resp-a", {})
    assert result.ok
    fields = {(a.question_id, a.field) for a in result.answers}
    assert ("features", "t1.best") in fields and ("plans", "t2.design") in fields and ("price_feel", "cheap") in fields
