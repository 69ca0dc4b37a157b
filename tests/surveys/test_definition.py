"""Survey definitions: the sample parses; mistakes are reported with their line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.errors import InputError
from heedful.surveys.definition import QUESTION_TYPES, parse_survey, pipe

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "heedful" / "surveys" / "examples" / "customer-pulse.yaml"


def test_sample_survey_uses_every_question_type() -> None:
    survey = parse_survey(EXAMPLE.read_text())
    assert {q.type for q in survey.questions} == set(QUESTION_TYPES)
    assert survey.question("channel").options[0].value == "search"


def test_wrong_question_type_names_its_line() -> None:
    text = (
        "slug: s\ntitle: T\npages:\n  - id: p1\n    questions:\n      - id: q1\n        type: bogus\n        text: x\n"
    )
    with pytest.raises(InputError) as err:
        parse_survey(text, "s.yaml")
    assert "s.yaml:6:" in str(err.value) and "bogus" in str(err.value)


def test_missing_field_and_too_few_options_name_their_lines() -> None:
    text = (
        "slug: s\ntitle: T\npages:\n  - id: p1\n    questions:\n"
        "      - id: q1\n        type: single\n        text: pick\n        options: [only]\n"
        "      - id: q2\n        type: nps\n"
    )
    with pytest.raises(InputError) as err:
        parse_survey(text, "s.yaml")
    message = str(err.value)
    assert "s.yaml:9: pages.0.questions.0.options" in message
    assert "s.yaml:10: pages.0.questions.1.text: Field required" in message


def test_broken_yaml_names_its_line() -> None:
    with pytest.raises(InputError, match=r"s.yaml:3: not valid YAML"):
        parse_survey("slug: s\ntitle: [\n", "s.yaml")


def test_skip_rules_must_point_forward_to_known_pages() -> None:
    text = (
        "slug: s\ntitle: T\npages:\n  - id: p1\n    questions:\n      - {id: q1, type: nps, text: x}\n"
        "    next:\n      - {if: {question: q1, less_than: 7}, goto: nowhere}\n"
    )
    with pytest.raises(InputError, match="unknown page 'nowhere'"):
        parse_survey(text)


def test_unknown_piped_field_is_refused_and_known_ones_are_filled() -> None:
    with pytest.raises(InputError, match=r"customer\.password"):
        parse_survey(
            "slug: s\ntitle: Hi {{customer.password}}\npages:\n  - id: p\n    questions:\n      - {id: q, type: text, text: x}\n"
        )
    assert (
        pipe("Hi {{customer.name}}, {{ customer.attributes.tier }}", {"name": "Ann", "attributes": {"tier": "gold"}})
        == "Hi Ann, gold"
    )
    assert pipe("Hi {{customer.name}}, welcome", None) == "Hi, welcome"


@pytest.mark.parametrize("slug", ["brand", "builder", "new"])
def test_a_slug_that_is_a_page_of_the_app_is_refused_on_its_line(slug: str) -> None:
    text = f"slug: {slug}\ntitle: T\npages:\n  - id: p1\n    questions:\n      - {{id: q1, type: nps, text: x}}\n"
    with pytest.raises(InputError) as err:
        parse_survey(text, "s.yaml")
    assert "s.yaml:1: slug" in str(err.value) and "page of the web app" in str(err.value)
