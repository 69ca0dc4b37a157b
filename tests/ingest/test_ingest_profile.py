"""The unified customer profile and the bundled demo data."""

from __future__ import annotations

import gzip
from datetime import datetime

import pandas as pd
import pytest

from heedful.errors import NotFoundError
from heedful.ingest.datasets import data_summary, demo_files, import_demo_data
from heedful.ingest.profile import customer_profile
from heedful.store import Store


@pytest.fixture
def demo_store(store: Store) -> Store:
    import_demo_data(store)
    return store


def test_bundled_files_are_small_real_slices() -> None:
    files = demo_files()
    assert set(files) == {"orders", "feedback"}
    assert sum(p.stat().st_size for p in files.values()) < 1_500_000
    assert (files["orders"].parent / "PROVENANCE.md").is_file()
    with gzip.open(files["orders"], "rt") as fh:
        header = fh.readline().strip()
    assert header == "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


def test_demo_import_accounts_for_every_line_and_is_idempotent(demo_store: Store) -> None:
    files = demo_files()
    lines = len(pd.read_csv(files["orders"], dtype=str))
    stored = demo_store.query("SELECT accepted + rejected + duplicates AS n FROM imports WHERE entity = 'orders'")
    assert int(stored["n"].iloc[0]) == lines
    again = import_demo_data(demo_store)
    assert again["orders"]["accepted"] == 0 and again["feedback"]["accepted"] == 0
    summary = data_summary(demo_store)
    assert summary["customers"] == 400 and summary["feedback_items"] == 1500
    assert summary["returns"] > 0 and summary["revenue"] > 0
    assert summary["date_range"]["first"].startswith("2010-12")


def test_profile_summarises_orders_and_lists_feedback(demo_store: Store) -> None:
    cid = demo_store.query(
        "SELECT customer_id FROM orders WHERE is_return GROUP BY customer_id ORDER BY customer_id LIMIT 1"
    ).iloc[0, 0]
    profile = customer_profile(demo_store, cid)
    expected = demo_store.query(
        "SELECT SUM(amount) AS revenue, COUNT(DISTINCT order_id) AS n FROM orders WHERE customer_id = ? AND NOT is_return",
        [cid],
    ).iloc[0]
    orders = profile["orders"]
    assert orders["revenue"] == pytest.approx(float(expected["revenue"]), abs=0.01)
    assert orders["orders"] == int(expected["n"]) and orders["returns"] >= 1
    assert profile["kind"] == "customer" and profile["identity"]["country"]
    n_feedback = demo_store.query("SELECT COUNT(*) FROM feedback WHERE customer_id = ?", [cid]).iloc[0, 0]
    assert len(profile["feedback"]) == min(int(n_feedback), 10)


def test_profile_reads_survey_answers_referrals_and_value(store: Store) -> None:
    now = datetime(2024, 1, 1, 12, 0)
    store.insert_new("customers", pd.DataFrame([{"customer_id": "c1", "kind": "partner", "created_at": now}]))
    store.insert_new(
        "responses",
        pd.DataFrame(
            [{"response_id": "r1", "survey_id": "nps-1", "slug": "nps", "customer_id": "c1", "started_at": now}]
        ),
    )
    store.insert_new(
        "answers",
        pd.DataFrame(
            [
                {
                    "response_id": "r1",
                    "question_id": "nps",
                    "field": "",
                    "value": "9",
                    "value_num": 9.0,
                    "idempotency_key": "k",
                    "answered_at": now,
                }
            ]
        ),
    )
    store.insert_new(
        "referrals",
        pd.DataFrame(
            [
                {
                    "referral_id": "ref1",
                    "code": "ANN10",
                    "advocate_id": "c1",
                    "referred_customer_id": "c2",
                    "status": "converted",
                    "created_at": now,
                }
            ]
        ),
    )
    store.insert_new(
        "customer_value",
        pd.DataFrame([{"customer_id": "c1", "model": "bgnbd", "clv": 123.4, "p_alive": 0.8, "computed_at": now}]),
    )
    profile = customer_profile(store, "c1")
    assert profile["kind"] == "partner"
    assert [(a["survey"], a["question_id"], a["value"]) for a in profile["survey_answers"]] == [("nps", "nps", "9")]
    assert [r["code"] for r in profile["referrals"]["made"]] == ["ANN10"]
    assert profile["value"]["clv"] == pytest.approx(123.4)
    assert profile["value"]["churn_horizon_days"] is None  # not scored for churn yet
    assert profile["orders"]["orders"] == 0 and profile["feedback"] == []
    store.insert_new(
        "churn_scores",
        pd.DataFrame(
            [{"customer_id": "c1", "churn_risk": 0.2, "horizon_days": 90, "model_version": "m", "scored_at": now}]
        ),
    )
    assert customer_profile(store, "c1")["value"]["churn_horizon_days"] == 90  # "churn risk 20% (next 90 days)"


def test_unknown_customer_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError):
        customer_profile(store, "nobody")
