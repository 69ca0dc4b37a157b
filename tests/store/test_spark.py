"""Spark engine: the same Ibis analyses give the same results on Spark (local mode) as on DuckDB."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.conftest import IN_CI

from heedful.services.spark import classify_feedback, monthly_repeat_rate, theme_counts
from heedful.store import Store
from heedful.store.spark import SparkEngine
from heedful.value import cohorts, rfm, transaction_summary


def _require_spark() -> None:
    missing = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        missing.append("pyspark (pip install 'heedful[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("a Java runtime")
    if missing:
        if IN_CI:
            pytest.fail(f"CI=true but Spark cannot run: missing {', '.join(missing)}")
        pytest.skip(f"Spark cannot run here: missing {', '.join(missing)}")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkEngine]:
    _require_spark()
    engine = SparkEngine.connect("spark://local[2]", shuffle_partitions=2, driver_memory="1g")
    yield engine
    engine.close()


def _orders(n_customers: int = 60, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    start = datetime(2024, 1, 1)
    for c in range(n_customers):
        first = start + timedelta(days=int(rng.integers(0, 300)), hours=int(rng.integers(0, 24)))
        for k in range(int(rng.geometric(0.35))):
            when = first + timedelta(days=int(rng.integers(0, 200)) * (k > 0))
            amount = float(np.round(rng.gamma(2.0, 15.0), 2))
            ret = bool(rng.random() < 0.08)
            rows.append(
                {
                    "order_line_id": f"L{c}-{k}",
                    "order_id": f"O{c}-{k}",
                    "customer_id": f"C{c:03d}",
                    "ordered_at": when,
                    "quantity": -1.0 if ret else 1.0,
                    "unit_price": amount,
                    "amount": -amount if ret else amount,
                    "is_return": ret,
                    "currency": "EUR",
                }
            )
    return pd.DataFrame(rows)


def _enriched() -> tuple[pd.DataFrame, pd.DataFrame]:
    themes = ["delivery_speed", "price_value;packaging", "", None, "delivery_speed;product_quality", "packaging"]
    sentiments = ["negative", "positive", "neutral", "negative", "mixed", "negative"]
    texts = [
        "The parcel took three weeks to arrive.",
        "Great value and lovely packaging!",
        "ok",
        "Support never answered my emails.",
        "Fast delivery but the mug broke.",
        "Box was crushed.",
    ]
    t0 = datetime(2024, 3, 1)
    feedback = pd.DataFrame(
        [
            {
                "feedback_id": f"F{i}",
                "channel": "review",
                "author_kind": "customer",
                "text": texts[i],
                "created_at": t0 + timedelta(days=3 * i),
            }
            for i in range(6)
        ]
        * 1
    )
    enriched = pd.DataFrame(
        [
            {
                "feedback_id": f"F{i}",
                "text_hash": str(i),
                "sentiment": sentiments[i],
                "sentiment_score": 0.0,
                "themes": themes[i],
                "model_version": "t",
                "processed_at": t0,
            }
            for i in range(6)
        ]
    )
    return feedback, enriched


@pytest.fixture
def loaded(spark: SparkEngine, duck_store: Store) -> tuple[Store, dict[str, object]]:
    duck_store.insert_new("orders", _orders())
    feedback, enriched = _enriched()
    duck_store.insert_new("feedback", feedback)
    duck_store.insert_new("feedback_enriched", enriched)
    tables = spark.load_store(duck_store, ["orders", "feedback", "feedback_enriched"])
    return duck_store, dict(tables)


def test_transaction_summary_equals_duckdb(loaded: tuple[Store, dict[str, object]]) -> None:
    store, tables = loaded
    on_duck = transaction_summary(store.table("orders"))
    on_spark = transaction_summary(tables["orders"])
    assert len(on_duck) > 40 and (on_duck["frequency"] > 0).any()
    pd.testing.assert_frame_equal(on_spark, on_duck, check_exact=False, rtol=1e-12)
    with_holdout = dict(calibration_end="2024-08-01", observation_end="2024-12-31")
    pd.testing.assert_frame_equal(
        transaction_summary(tables["orders"], **with_holdout),
        transaction_summary(store.table("orders"), **with_holdout),
    )


def test_rfm_and_cohorts_equal_duckdb(loaded: tuple[Store, dict[str, object]]) -> None:
    store, tables = loaded
    duck_rfm, spark_rfm = rfm(store.table("orders")), rfm(tables["orders"])
    pd.testing.assert_frame_equal(spark_rfm.customers, duck_rfm.customers)
    pd.testing.assert_frame_equal(spark_rfm.segments, duck_rfm.segments)
    duck_c, spark_c = cohorts(store.table("orders")), cohorts(tables["orders"])
    assert duck_c.retention.shape[0] >= 5
    pd.testing.assert_frame_equal(spark_c.retention, duck_c.retention)
    pd.testing.assert_frame_equal(spark_c.revenue, duck_c.revenue)
    pd.testing.assert_series_equal(spark_c.sizes, duck_c.sizes)


def test_theme_counts_and_scorecard_metric_equal_duckdb(loaded: tuple[Store, dict[str, object]]) -> None:
    from heedful.journey.metrics import JourneyData, _repeat_rate

    store, tables = loaded
    on_duck = theme_counts(store.table("feedback_enriched"))
    pd.testing.assert_frame_equal(theme_counts(tables["feedback_enriched"]), on_duck)
    assert dict(zip(on_duck["theme"], on_duck["mentions"], strict=True)) == {
        "delivery_speed": 2,
        "packaging": 2,
        "price_value": 1,
        "product_quality": 1,
    }
    assert dict(zip(on_duck["theme"], on_duck["negative"], strict=True))["packaging"] == 1
    duck_rate = monthly_repeat_rate(store.table("orders"))
    pd.testing.assert_frame_equal(monthly_repeat_rate(tables["orders"]), duck_rate)
    # … and both equal the journey scorecard's in-memory repeat_rate metric.
    in_memory = _repeat_rate(None, JourneyData(orders=store.query("SELECT * FROM orders")), None)  # type: ignore[arg-type]
    in_memory = in_memory.sort_values("period").reset_index(drop=True)
    assert list(in_memory["period"]) == list(duck_rate["period"])
    np.testing.assert_array_equal(in_memory["n"].to_numpy(), duck_rate["n"].to_numpy())
    np.testing.assert_allclose(in_memory["value"].to_numpy(), duck_rate["value"].to_numpy())


def test_classification_distributed_equals_local(spark: SparkEngine, loaded: tuple[Store, dict[str, object]]) -> None:
    from heedful.listen.classify import Classifier

    store, _ = loaded
    feedback = spark.session.table("feedback").coalesce(1)  # one worker: the classifier loads once
    result = classify_feedback(spark, feedback, backend="static").toPandas().sort_values("feedback_id")
    local = store.query("SELECT feedback_id, text FROM feedback ORDER BY feedback_id")
    expected = Classifier.build(backend="static").classify(local["text"].tolist())
    assert list(result["feedback_id"]) == list(local["feedback_id"])
    assert list(result["sentiment"]) == list(expected["sentiment"])
    assert list(result["themes"].fillna("")) == list(expected["themes"].fillna(""))
    np.testing.assert_allclose(result["sentiment_score"].to_numpy(), expected["sentiment_score"].to_numpy(), atol=1e-6)


def test_cli_spark_summary_and_themes(loaded: tuple[Store, dict[str, object]], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from heedful.cli.main import app

    store, _ = loaded
    runner = CliRunner()
    res = runner.invoke(app, ["spark", "summary", "--db", "spark://local[2]", "--store", store.url, "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    expected = transaction_summary(store.table("orders"))
    assert doc["customers"] == len(expected)
    assert doc["mean_frequency"] == pytest.approx(expected["frequency"].mean())
    parquet = tmp_path / "enriched.parquet"
    store.query("SELECT * FROM feedback_enriched").to_parquet(parquet)
    res = runner.invoke(app, ["spark", "themes", "--parquet", str(parquet), "--json"])
    assert res.exit_code == 0, res.output
    assert {t["theme"]: t["mentions"] for t in json.loads(res.stdout)["themes"]}["delivery_speed"] == 2
