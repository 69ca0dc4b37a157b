"""Survey web fixtures: an app over a DuckDB store holding the sample survey and one analyst."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from heedful.services.surveys import save_definition
from heedful.store import Store, connect
from heedful.surveys.definition import parse_survey

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "heedful" / "surveys" / "examples" / "customer-pulse.yaml"
ANALYST = ("analyst@example.com", "correct-horse-battery")


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', html)
    assert match, f"no hidden field {name}"
    return match.group(1)


def seed_survey_store(store: Store) -> None:
    from heedful.services.accounts import Role, create_user

    save_definition(store, parse_survey(EXAMPLE.read_text()))
    save_definition(store, parse_survey(EXAMPLE.read_text().replace("slug: customer-pulse", "slug: other-survey")))
    create_user(store, ANALYST[0], Role.analyst, ANALYST[1])


@pytest.fixture
def survey_store(tmp_path: Path) -> Iterator[Store]:
    store = connect(f"duckdb:///{tmp_path / 'web.duckdb'}")
    seed_survey_store(store)
    yield store
    store.close()
