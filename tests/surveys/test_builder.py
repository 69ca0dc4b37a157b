"""The survey builder's form: every question type and skip logic survive form and back; edits; messages in words."""

from __future__ import annotations

import pytest

from heedful.errors import InputError
from heedful.services import survey_brand
from heedful.store import Store
from heedful.surveys import builder
from heedful.surveys.definition import QUESTION_TYPES, parse_survey, survey_to_json

# Every question type, every kind of condition (question show_if, page show_if, next rules), option values
# that differ from their labels, and settings away from their defaults.
EVERY_TYPE = """
slug: every-type
title: Every type
intro: Hi {{customer.name}}, a few questions.
audience: customer
wave: "2026-Q4"
thank_you: Thanks!
pages:
  - id: first
    title: First
    questions:
      - {id: nps, type: nps, text: "Recommend us?", low_label: Never, high_label: Surely}
      - {id: csat, type: csat, text: "Satisfied?", help: Think of your last order., required: false}
      - {id: ces, type: ces, text: "Easy?"}
    next:
      - if: {question: nps, more_than: 8}
        goto: third
      - if: {question: csat, less_than: 2}
        goto: end
  - id: second
    show_if: {question: nps, not_equals: 10}
    questions:
      - id: problems
        type: multiple
        text: What went wrong?
        options: [{value: late, label: Delivery was late}, Price]
        other: true
        max_choices: 2
      - id: fix
        type: text
        text: What should we fix?
        show_if: {question: nps, in: [0, 1, 2, "3"]}
        multiline: false
        max_length: 300
  - id: third
    questions:
      - id: grid
        type: likert
        text: Agree?
        rows: [Fast, {value: fair_prices, label: Prices are fair}]
        scale: [Disagree, Unsure, Agree]
      - id: channel
        type: single
        text: Where did you hear of us?
        options: [Search, Friend]
        show_if: {question: problems, answered: false}
      - {id: rank, type: ranking, text: Rank these, options: [Price, Speed, Choice]}
      - {id: orders, type: numeric, text: "Orders a year?", min: 0, max: 500.5, integer: true, unit: orders}
      - {id: after, type: text, text: "Anything else?", required: false, show_if: {question: csat, equals: 5}}
      - {id: who, type: text, text: "Name?", show_if: {question: problems, equals: late}}
  - id: fourth
    title: Trade-offs
    questions:
      - id: features
        type: maxdiff
        text: Which matters most?
        items: [Free delivery, Next-day delivery, Easy returns, Loyalty points]
        items_per_task: 3
        tasks: 2
        versions: 10
        best_label: Best
        worst_label: Worst
      - id: plans
        type: conjoint
        text: Which plan?
        attributes: {delivery: [Standard, Next day], price: [5, 10.5, 15]}
        price: price
        alternatives: 2
        tasks: 2
        versions: 5
        currency: EUR
      - {id: price_feel, type: van_westendorp, text: A yearly membership., currency: EUR, product: the membership}
"""


def test_the_sample_uses_every_question_type() -> None:
    assert {q.type for q in parse_survey(EVERY_TYPE).questions} == set(QUESTION_TYPES)


def test_every_question_type_and_skip_rule_survives_the_form_unchanged() -> None:
    survey = parse_survey(EVERY_TYPE)
    again = builder.build(builder.form_of(survey))
    assert survey_to_json(again) == survey_to_json(survey)


def test_options_whose_value_differs_from_their_label_show_both() -> None:
    form = builder.form_of(parse_survey(EVERY_TYPE))
    problems = next(q for q in form.questions if q.id == "problems")
    assert problems.extras["options"] == "late | Delivery was late\nPrice"
    plans = next(q for q in form.questions if q.id == "plans")
    assert plans.extras["attributes"] == "delivery: Standard, Next day\nprice: 5, 10.5, 15"


def test_a_new_question_starts_with_its_types_defaults() -> None:
    form = builder.apply(builder.new_form(), "add_question:0:csat")
    added = form.questions[-1]
    assert (added.type, added.id, added.page) == ("csat", "csat_1", 0)
    assert added.extras["labels"].splitlines()[0] == "Very unsatisfied"


def test_questions_move_within_a_page_and_across_its_edges() -> None:
    form = builder.apply(builder.new_form(), "add_question:0:text")
    form = builder.apply(form, "add_page")
    assert [q.id for q in form.questions] == ["nps", "text_1"]
    form = builder.apply(form, "up:1")
    assert [q.id for q in form.questions] == ["text_1", "nps"]
    form = builder.apply(form, "down:1")  # the last of page 1 moves to page 2
    assert [(q.id, q.page) for q in form.questions] == [("text_1", 0), ("nps", 1)]
    form = builder.apply(form, "up:1")
    assert [(q.id, q.page) for q in form.questions] == [("text_1", 0), ("nps", 0)]
    form = builder.apply(form, "remove_question:0")
    assert [q.id for q in form.questions] == ["nps"]


def test_removing_a_page_removes_its_questions_and_renumbers_the_rest() -> None:
    form = builder.apply(builder.apply(builder.new_form(), "add_page"), "add_page")
    form = builder.apply(form, "add_question:2:text")
    form = builder.apply(form, "remove_page:1")
    assert [p.id for p in form.pages] == ["page_1", "page_3"]
    assert [(q.id, q.page) for q in form.questions] == [("nps", 0), ("text_1", 1)]
    assert builder.apply(builder.new_form(), "remove_page:0").pages  # the last page stays


def test_posted_fields_read_back_into_the_same_form() -> None:
    form = builder.form_of(parse_survey(EVERY_TYPE))
    fields = _fields_of(form)
    assert builder.read_form(fields) == form


def test_mistakes_get_a_message_next_to_their_field_in_words() -> None:
    form = builder.new_form()
    form.slug, form.title = "Spring Pulse", ""
    form = builder.apply(form, "add_question:0:single")
    form.questions[1].id = "Which One"
    form.questions[1].extras["options"] = "Only one"
    form.questions[0].extras["low_label"] = "Never"
    with pytest.raises(builder.BuilderErrors) as caught:
        builder.build(form)
    fields = caught.value.fields
    assert fields["slug"].startswith("Use lower-case letters, digits and hyphens")
    assert fields["q1.id"].startswith("Use lower-case letters, digits and underscores")
    assert fields["q1.x.options"] == "Give at least 2, one per line."
    assert fields["q1.text"] == "Write the question."
    assert fields["title"] == "Give the survey a title."
    assert "q0.x.low_label" not in fields


def test_a_condition_on_a_later_question_is_explained() -> None:
    form = builder.form_of(parse_survey(EVERY_TYPE))
    form.questions[0].show_if = builder.ConditionForm("orders", "more_than", "3")
    with pytest.raises(builder.BuilderErrors) as caught:
        builder.build(form)
    assert any("not asked on an earlier page" in m for m in caught.value.general)
    form.questions[0].show_if = builder.ConditionForm("csat", "more_than", "lots")
    with pytest.raises(builder.BuilderErrors) as caught:
        builder.build(form)
    assert caught.value.fields["q0.show_if"] == "Give a number to compare with."


def _fields_of(form: builder.SurveyForm) -> dict[str, str]:
    """What a browser posts for `form` (checked boxes only), the way the builder page names its fields."""
    fields = {
        "slug": form.slug,
        "title": form.title,
        "intro": form.intro,
        "audience": form.audience,
        "wave": form.wave,
        "thank_you": form.thank_you,
    }

    def condition(prefix: str, cond: builder.ConditionForm) -> None:
        fields.update({f"{prefix}.question": cond.question, f"{prefix}.test": cond.test, f"{prefix}.value": cond.value})

    for i, page in enumerate(form.pages):
        fields.update({f"p{i}.id": page.id, f"p{i}.title": page.title})
        condition(f"p{i}.show_if", page.show_if)
        for k, (cond, goto) in enumerate(page.next):
            condition(f"p{i}.next{k}", cond)
            fields[f"p{i}.next{k}.goto"] = goto
    for j, q in enumerate(form.questions):
        fields.update({f"q{j}.page": str(q.page), f"q{j}.id": q.id, f"q{j}.type": q.type, f"q{j}.text": q.text})
        fields[f"q{j}.help"] = q.help
        if q.required:
            fields[f"q{j}.required"] = "1"
        condition(f"q{j}.show_if", q.show_if)
        for name, value in q.extras.items():
            if value:
                fields[f"q{j}.x.{name}"] = value
    return fields


def test_the_brand_is_stored_and_read_back_with_a_validated_colour(store: Store) -> None:
    assert survey_brand.brand(store) is None
    saved = survey_brand.save_brand(store, "  Bloom   & Co ", "#1A6", "admin@example.com")
    assert saved == survey_brand.Brand("Bloom & Co", "#11aa66") == survey_brand.brand(store)
    with pytest.raises(InputError, match="is not a colour"):
        survey_brand.save_brand(store, "Bloom", "#12345", "admin@example.com")
    with pytest.raises(InputError, match="name"):
        survey_brand.save_brand(store, " ", "#123456", "admin@example.com")
    survey_brand.forget_brand(store)
    assert survey_brand.brand(store) is None


@pytest.mark.parametrize("colour", ["#ffffff", "#ffd700", "#777777", "#1a66aa", "#000000", "#00ff00", "#ff0000"])
def test_brand_colours_always_leave_text_readable(colour: str) -> None:
    style = survey_brand.style_of(survey_brand.Brand("Shop", colour))
    assert style.header_background == colour
    assert survey_brand.contrast_ratio(style.header_background, style.header_text) >= 4.5
    assert survey_brand.contrast_ratio(style.link, survey_brand.WHITE) >= 4.5
    assert survey_brand.contrast_ratio(style.accent, style.accent_text) >= 4.5


def test_contrast_ratio_matches_the_wcag_reference_values() -> None:
    assert survey_brand.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert survey_brand.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
