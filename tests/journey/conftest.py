"""Journey fixtures: synthetic journey data with known rates, and a store holding it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from heedful.journey.config import JourneyConfig, default_config
from heedful.journey.metrics import JourneyData
from heedful.journey.synthetic import SyntheticSpec, canonical_tables, make_journey_data
from heedful.store import Store, connect

PERIOD = "2026-10"
DROP = {"delivery_speed": {PERIOD: 0.35}}  # delivery praise falls from 70% to 35% in the last month


@pytest.fixture(scope="session")
def config() -> JourneyConfig:
    return default_config()


@pytest.fixture(scope="session")
def journey_data() -> JourneyData:
    return make_journey_data(SyntheticSpec(positive_rate=DROP, seed=7))


def fill_store(store: Store, data: JourneyData) -> None:
    for table, frame in canonical_tables(data).items():
        store.insert_new(table, frame)


@pytest.fixture(scope="session")
def journey_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with synthetic journey data, built once; tests get a copy."""
    path = tmp_path_factory.mktemp("journey") / "template.duckdb"
    store = connect(f"duckdb:///{path}")
    fill_store(store, make_journey_data(SyntheticSpec(customers=600, feedback=3000, positive_rate=DROP, seed=3)))
    store.close()
    return path


@pytest.fixture
def journey_store(journey_db_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "journey.duckdb"
    shutil.copy(journey_db_template, path)
    store = connect(f"duckdb:///{path}")
    yield store
    store.close()
