from __future__ import annotations

import pytest

from heedful.errors import InputError
from heedful.journey.config import default_config
from heedful.listen.evaluation import semeval_taxonomy
from heedful.listen.taxonomy import Taxonomy, default_taxonomy, example_taxonomy, parse_taxonomy

VALID = """\
themes:
  - id: delivery_speed
    label: Delivery speed
    description: How fast orders arrive, delays, tracking
    department: logistics
    journey_stage: delivery
    examples: ["took three weeks to arrive", "came the next day"]
"""


def test_issue_example_parses_into_themes() -> None:
    tax = parse_taxonomy(VALID)
    theme = tax.theme("delivery_speed")
    assert theme.department == "logistics"
    assert theme.journey_stage == "delivery"
    assert theme.examples == ["took three weeks to arrive", "came the next day"]


def test_missing_department_is_reported_at_its_theme_line() -> None:
    text = VALID + "  - id: billing\n    label: Billing\n    journey_stage: purchase\n"
    with pytest.raises(InputError) as err:
        parse_taxonomy(text, "mine.yaml")
    assert "mine.yaml, line 8" in str(err.value)
    assert "department" in str(err.value)


def test_bad_id_is_reported_at_the_id_line() -> None:
    text = VALID.replace("id: delivery_speed", "id: Delivery Speed")
    with pytest.raises(InputError, match=r"line 2: themes\.0\.id"):
        parse_taxonomy(text)


def test_broken_yaml_names_the_line() -> None:
    with pytest.raises(InputError, match="line 3"):
        parse_taxonomy(VALID.replace("label: Delivery speed", "label: Delivery: speed"))


def test_duplicate_theme_ids_are_refused() -> None:
    second = VALID.split("\n", 1)[1]
    with pytest.raises(InputError, match="used twice"):
        parse_taxonomy(VALID + second)


def test_default_taxonomy_maps_every_theme_to_an_owner_and_stage() -> None:
    tax = default_taxonomy()
    assert {"product_quality", "price_value", "delivery_speed", "returns_refunds", "billing"} <= set(tax.ids)
    assert {"customer_support", "staff", "website_app", "communication", "onboarding", "fit_size"} <= set(tax.ids)
    assert all(t.department and t.journey_stage and t.examples for t in tax.themes)


def test_taxonomy_round_trips_through_yaml() -> None:
    tax = default_taxonomy()
    assert parse_taxonomy(tax.to_yaml()) == tax


DEPARTMENTS = [d.id for d in default_config().departments]
STAGES = [s.id for s in default_config().stages]


def test_unknown_department_and_stage_are_refused_at_their_lines_with_the_valid_ids() -> None:
    text = VALID.replace("department: logistics", "department: kitchen").replace(
        "journey_stage: delivery", "journey_stage: after_sales"
    )
    with pytest.raises(InputError) as err:
        parse_taxonomy(text, "mine.yaml", departments=DEPARTMENTS, stages=STAGES)
    message = str(err.value)
    assert "mine.yaml, line 5: themes.0.department: theme 'delivery_speed': unknown department 'kitchen'" in message
    assert "(known: delivery, marketing, product, sales, services, support)" in message
    assert "mine.yaml, line 6: themes.0.journey_stage" in message and "unknown journey stage 'after_sales'" in message
    assert "awareness, consideration, delivery, onboarding, purchase, renewal, support, use" in message


def test_owner_problems_are_reported_with_the_other_mistakes() -> None:
    text = VALID + "  - id: billing\n    label: Billing\n    department: finance\n"
    with pytest.raises(InputError) as err:
        parse_taxonomy(text, "mine.yaml", departments=DEPARTMENTS, stages=STAGES)
    assert "line 10: themes.1.department" in str(err.value)  # the unknown department
    assert "themes.1.journey_stage: Field required" in str(err.value)  # and the missing stage


def test_valid_owners_pass_and_no_ids_means_no_check() -> None:
    text = VALID.replace("department: logistics", "department: delivery")
    assert parse_taxonomy(text, departments=DEPARTMENTS, stages=STAGES).theme("delivery_speed").department == "delivery"
    assert parse_taxonomy(VALID).theme("delivery_speed").department == "logistics"


@pytest.mark.parametrize(
    "taxonomy", [default_taxonomy(), example_taxonomy("restaurant")], ids=["default", "restaurant"]
)
def test_shipped_taxonomies_route_every_theme_to_a_configured_department_and_stage(taxonomy: Taxonomy) -> None:
    for theme in taxonomy.themes:
        assert theme.department in DEPARTMENTS, theme.id
        assert theme.journey_stage in STAGES, theme.id
    assert parse_taxonomy(taxonomy.to_yaml(), departments=DEPARTMENTS, stages=STAGES) == taxonomy


def test_default_taxonomy_is_retail_and_restaurant_themes_are_an_example() -> None:
    assert "food_drink" not in default_taxonomy().ids
    restaurant = example_taxonomy("restaurant")
    assert restaurant.theme("food_drink").label == "Food and drink"
    # shared themes keep the default's ids and labels (the listening model asks about a theme by its label)
    for theme_id in ("staff", "store_ambience", "price_value", "delivery_speed"):
        assert restaurant.theme(theme_id).label == default_taxonomy().theme(theme_id).label
    with pytest.raises(InputError, match="restaurant"):
        example_taxonomy("bakery")


def test_needs_of_the_default_journey_name_themes_of_the_default_taxonomy() -> None:
    themes = set(default_taxonomy().ids)
    named = {m.theme for n in default_config().needs for m in n.metrics if m.theme}
    assert named <= themes


def test_semeval_evaluation_taxonomy_has_valid_owners() -> None:
    taxonomy = semeval_taxonomy([("The pasta was great.", ["food"]), ("Rude waiter.", ["service"])])
    assert parse_taxonomy(taxonomy.to_yaml(), departments=DEPARTMENTS, stages=STAGES) == taxonomy
