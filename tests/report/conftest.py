"""Report fixtures: a store with synthetic journey data plus a trade-off survey and referrals."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from heedful.journey.synthetic import SyntheticSpec, canonical_tables, make_journey_data
from heedful.services.cases import open_cases
from heedful.store import Store, connect

PERIOD = "2026-10"


def add_tradeoff_survey(store: Store) -> None:
    """A MaxDiff question answered by 30 respondents who always rank low price least wanted."""
    definition = {"questions": [{"id": "priorities", "type": "maxdiff", "text": "What matters most to you?"}]}
    store.insert_new(
        "surveys",
        pd.DataFrame(
            [
                {
                    "survey_id": "priorities@1",
                    "slug": "priorities",
                    "version": 1,
                    "title": "Priorities",
                    "audience": "customer",
                    "status": "closed",
                    "definition": json.dumps(definition),
                    "created_at": pd.Timestamp("2026-10-01"),
                }
            ]
        ),
    )
    responses = pd.DataFrame(
        {
            "response_id": [f"p{i}" for i in range(30)],
            "survey_id": "priorities@1",
            "slug": "priorities",
            "started_at": pd.Timestamp("2026-10-02"),
            "completed_at": pd.Timestamp("2026-10-02"),
        }
    )
    store.insert_new("responses", responses)
    rows = []
    for i in range(30):  # two tasks each, stored as the survey collector stores them
        for task, shown, best, worst in (
            ("t1", "fast delivery|low price|quality", "fast delivery", "low price"),
            ("t2", "quality|low price|gift wrap", "quality", "low price"),
        ):
            for field, value in (("shown", shown), ("best", best), ("worst", worst)):
                rows.append(
                    {
                        "response_id": f"p{i}",
                        "question_id": "priorities",
                        "field": f"{task}.{field}",
                        "value": value,
                        "idempotency_key": f"p{i}-{task}",
                        "answered_at": pd.Timestamp("2026-10-02"),
                    }
                )
    answers = pd.DataFrame(rows)
    store.insert_new("answers", answers)


def add_referrals(store: Store) -> None:
    referrals = pd.DataFrame(
        {
            "referral_id": [f"r{i}" for i in range(10)],
            "code": "ABC",
            "advocate_id": ["C0000001"] * 6 + ["C0000002"] * 4,
            "status": ["converted"] * 3 + ["signed_up"] * 3 + ["landed"] * 4,
            "created_at": pd.Timestamp("2026-10-05"),
        }
    )
    store.insert_new("referrals", referrals)


@pytest.fixture(scope="session")
def report_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "template.duckdb"
    store = connect(f"duckdb:///{path}")
    data = make_journey_data(
        SyntheticSpec(customers=800, feedback=3000, positive_rate={"delivery_speed": {PERIOD: 0.35}}, seed=5)
    )
    for table, frame in canonical_tables(data).items():
        store.insert_new(table, frame)
    add_tradeoff_survey(store)
    add_referrals(store)
    open_cases(store)  # unhappy customers become cases: the report says whether following up worked
    store.close()
    return path


@pytest.fixture
def report_store(report_db_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "report.duckdb"
    shutil.copy(report_db_template, path)
    store = connect(f"duckdb:///{path}")
    yield store
    store.close()
