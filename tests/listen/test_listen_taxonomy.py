from __future__ import annotations

import pytest

from heedful.errors import InputError
from heedful.listen.taxonomy import default_taxonomy, parse_taxonomy

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
