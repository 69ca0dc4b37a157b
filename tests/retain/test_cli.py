"""`heedful retain …` end to end: files in, JSON and CSV out, results in the store (DuckDB and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.retain.atrisk import suggested_action
from heedful.services.retain import churn_model_quality, demo_step, save_churn_scores, stored_at_risk
from heedful.store import Store, connect

from .conftest import make_churn_data, make_retail_orders
from .test_reasons import assert_plain

runner = CliRunner()
FAST_OPTS = ["--rounds", "60", "--bootstrap", "50", "--folds", "3"]


@pytest.fixture(scope="module")
def churn_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    frame, y, _ = make_churn_data(800, seed=11)
    frame["Churn"] = np.where(y == 1, "Yes", "No")
    path = tmp_path_factory.mktemp("churn") / "customers.csv"
    frame.to_csv(path, index=False)
    return path


def test_churn_train_prints_the_report_and_saves_a_model_that_scores(churn_csv: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    result = runner.invoke(
        app,
        [
            "retain",
            "churn-train",
            str(churn_csv),
            "--target",
            "Churn",
            "--id",
            "customer_id",
            "--model-out",
            str(model_dir),
            "--json",
            *FAST_OPTS,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {"cv_auc", "cv_auc_ci95", "cv_brier", "calibration", "top_features", "baseline_auc"} <= set(report)
    assert report["cv_auc"] > 0.7 and report["baseline_auc"] > 0.7
    assert {f["feature"] for f in report["top_features"][:3]} == {"support_calls", "plan", "tenure"}
    assert "customer_id" not in report["features"]
    assert (model_dir / "lightgbm.txt").is_file() and (model_dir / "metadata.json").is_file()

    out = tmp_path / "scores.csv"
    scored = runner.invoke(app, ["retain", "churn-score", str(churn_csv), "--model", str(model_dir), "--out", str(out)])
    assert scored.exit_code == 0, scored.output
    scores = pd.read_csv(out)
    assert len(scores) == 800
    assert scores["churn_risk"].between(0, 1).all()
    assert {"reason_1", "reason_2", "reason_3"} <= set(scores.columns)
    assert set(scores["customer_id"]) == set(pd.read_csv(churn_csv)["customer_id"])


def test_churn_train_refuses_a_leaking_column_with_advice(churn_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(churn_csv)
    frame["churn_reason_code"] = np.where(frame["Churn"] == "Yes", "R" + frame.index.astype(str).str[-1], "")
    path = tmp_path / "leaky.csv"
    frame.to_csv(path, index=False)
    args = ["retain", "churn-train", str(path), "--target", "Churn", "--id", "customer_id", "--json", *FAST_OPTS]
    refused = runner.invoke(app, args)
    assert refused.exit_code != 0
    assert isinstance(refused.exception, InputError)
    assert "churn_reason_code" in str(refused.exception) and "--leakage drop" in str(refused.exception)
    dropped = runner.invoke(app, [*args, "--leakage", "drop"])
    assert dropped.exit_code == 0, dropped.output
    assert json.loads(dropped.stdout)["dropped_features"] == ["churn_reason_code"]


def test_churn_train_with_a_time_column_uses_forward_folds(churn_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(churn_csv)
    frame["signup"] = (pd.Timestamp("2023-01-01") + pd.to_timedelta(np.arange(len(frame)) // 4, unit="D")).astype(str)
    path = tmp_path / "timed.csv"
    frame.to_csv(path, index=False)
    result = runner.invoke(
        app,
        [
            "retain",
            "churn-train",
            str(path),
            "--target",
            "Churn",
            "--id",
            "customer_id",
            "--time-col",
            "signup",
            "--json",
            *FAST_OPTS,
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["cv_scheme"] == "forward-chaining time folds"
    assert "signup" not in report["features"]


def _load_orders(store: Store, orders: pd.DataFrame) -> None:
    cols = [
        "order_line_id",
        "order_id",
        "customer_id",
        "ordered_at",
        "product_id",
        "product_name",
        "quantity",
        "unit_price",
        "amount",
        "is_return",
    ]
    store.insert_new("orders", orders[cols])
    ids = sorted(orders["customer_id"].unique())[:40]
    store.insert_new(
        "customer_value",
        pd.DataFrame(
            {
                "customer_id": ids,
                "model": "bgnbd",
                "clv": np.linspace(10, 400, len(ids)),
                "segment": "loyal",
                "computed_at": pd.Timestamp("2025-01-01"),
            }
        ),
    )


@pytest.fixture(scope="module")
def shop_orders() -> pd.DataFrame:
    return make_retail_orders(250, seed=4)


def test_at_risk_ranks_by_value_at_risk_and_stores_only_churn_risk(
    db_url: str, shop_orders: pd.DataFrame, tmp_path: Path
) -> None:
    store = connect(db_url)
    _load_orders(store, shop_orders)
    store.close()
    out = tmp_path / "crm.csv"
    result = runner.invoke(app, ["retain", "at-risk", "--db", db_url, "--top", "20", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    listed = pd.DataFrame(doc["customers"])
    assert len(listed) == 20
    assert list(listed["value_at_risk"]) == sorted(listed["value_at_risk"], reverse=True)
    np.testing.assert_allclose(listed["value_at_risk"], listed["clv"] * listed["churn_risk"], rtol=1e-9)
    assert set(listed["action"]) <= {"reach out", "peer advocate", "offer"}
    assert pd.read_csv(out).shape[0] == 20
    store = connect(db_url)
    with store:
        values = store.query("SELECT customer_id, clv, segment, churn_risk FROM customer_value ORDER BY customer_id")
        scores = store.query("SELECT customer_id, churn_risk, reasons FROM churn_scores")
    assert values["churn_risk"].notna().all()
    assert (values["segment"] == "loyal").all()
    np.testing.assert_allclose(values["clv"], np.linspace(10, 400, 40))
    merged = values.merge(scores, on="customer_id", suffixes=("", "_score"))
    np.testing.assert_allclose(merged["churn_risk"], merged["churn_risk_score"])
    assert len(json.loads(scores["reasons"].iat[0])) == 3
    # reasons read in plain words with direction, in the listing and as stored: no raw feature ids
    texts = [t for t in (*listed["reason_1"], *listed["reason_2"], *listed["reason_3"]) if t is not None]
    assert all(isinstance(t, str) for t in listed["reason_1"])  # every customer has at least one reason
    assert "reason_1_value" not in listed.columns
    with connect(db_url) as store:
        texts += [t for reasons in stored_at_risk(store, top=250)["reasons"] for t in reasons]
    assert len(texts) > 60
    for text in texts:
        assert_plain(text)


def test_offers_land_in_the_store_with_explanations(duckdb_url: str, shop_orders: pd.DataFrame) -> None:
    store = connect(duckdb_url)
    _load_orders(store, shop_orders)
    store.close()
    result = runner.invoke(app, ["retain", "offers", "--db", duckdb_url, "--top", "3", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_customers"] == shop_orders["customer_id"].nunique()
    with connect(duckdb_url) as store:
        offers = store.query("SELECT * FROM offers")
        bought = store.query("SELECT DISTINCT customer_id, product_id FROM orders")
    assert offers.groupby("customer_id").size().eq(3).all()
    assert offers.merge(bought, on=["customer_id", "product_id"]).empty
    assert offers["explanation"].str.len().gt(10).all()


def test_evaluate_offers_reads_online_retail_columns(tmp_path: Path, shop_orders: pd.DataFrame) -> None:
    raw = pd.DataFrame(
        {
            "InvoiceNo": shop_orders["order_id"],
            "StockCode": shop_orders["product_id"],
            "Description": shop_orders["product_name"],
            "Quantity": 1,
            "InvoiceDate": pd.to_datetime(shop_orders["ordered_at"]).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "UnitPrice": shop_orders["unit_price"],
            "CustomerID": shop_orders["customer_id"],
            "Country": "United Kingdom",
        }
    )
    path = tmp_path / "retail.csv"
    raw.to_csv(path, index=False)
    result = runner.invoke(app, ["retain", "evaluate-offers", str(path), "--holdout-start", "2024-09-15", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc["models"]) == {"item-item", "svd", "popularity"}
    assert {"hit_rate@5", "recall@5", "hit_rate@10", "recall@10"} == set(doc["models"]["popularity"])
    bad = runner.invoke(app, ["retain", "evaluate-offers", str(path), "--holdout-start", "soon", "--json"])
    assert isinstance(bad.exception, InputError)


def test_survival_from_a_file_gives_medians_and_hazard_ratios(churn_csv: Path) -> None:
    result = runner.invoke(
        app,
        [
            "retain",
            "survival",
            str(churn_csv),
            "--duration",
            "tenure",
            "--event",
            "Churn",
            "--segment",
            "plan",
            "--covariates",
            "plan,support_calls",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {m["segment"] for m in doc["medians"]} == {"monthly", "yearly", "two-year"}
    assert doc["logrank_p"] < 0.05
    support = next(h for h in doc["hazard_ratios"] if h["covariate"] == "support_calls")
    assert support["lower"] > 1.0


def test_lookalike_scores_prospects_against_best_customers(duckdb_url: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    country = rng.choice(["DE", "FR"], n)
    with connect(duckdb_url) as store:
        store.insert_new(
            "customers",
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "kind": "customer",
                    "country": country,
                    "attributes": [json.dumps({"industry": rng.choice(["retail", "health"])}) for _ in range(n)],
                    "created_at": pd.Timestamp("2024-01-01"),
                }
            ),
        )
        store.insert_new(
            "customer_value",
            pd.DataFrame(
                {
                    "customer_id": [f"c{i}" for i in range(n)],
                    "model": "bgnbd",
                    "clv": rng.gamma(2, 50, n) * np.where(country == "DE", 5, 1),
                    "computed_at": pd.Timestamp("2024-06-01"),
                }
            ),
        )
    prospects = tmp_path / "prospects.csv"
    pd.DataFrame({"lead": ["l1", "l2"], "country": ["FR", "DE"], "industry": ["retail", "retail"]}).to_csv(
        prospects, index=False
    )
    result = runner.invoke(app, ["retain", "lookalike", str(prospects), "--db", duckdb_url, "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["traits"] == ["country", "industry"]
    assert doc["prospects"][0]["prospect_id"] == "l2"
    assert doc["prospects"][0]["driver_1"] == "country = DE"


def test_demo_step_returns_headline_figures(duckdb_url: str, shop_orders: pd.DataFrame) -> None:
    with connect(duckdb_url) as store:
        _load_orders(store, shop_orders)
        figures = demo_step(store)
        assert store.count("offers") == figures["offers"]
        quality = churn_model_quality(store)  # the demo says what the Retain page says
        assert quality is not None and figures["churn_weak"] is quality["weak"] and figures["churn_days"] == 90
    assert 0.5 < float(figures["churn_cv_auc"]) <= 1.0  # type: ignore[arg-type]
    assert figures["customers_scored"] == shop_orders["customer_id"].nunique()


def test_unhappy_customers_are_reached_out_to_and_new_ones_get_an_advocate() -> None:
    assert suggested_action(pd.Series({"negative_feedback_share_90d": 0.5, "frequency": 9})) == "reach out"
    assert suggested_action(pd.Series({"is_detractor": 1.0, "frequency": 1})) == "reach out"
    assert (
        suggested_action(pd.Series({"frequency": 1, "tenure_days": 40, "reason_1_feature": "recency_days"}))
        == "peer advocate"
    )
    assert (
        suggested_action(pd.Series({"frequency": 1, "tenure_days": 400, "reason_1_feature": "recency_days"})) == "offer"
    )
    assert (
        suggested_action(pd.Series({"frequency": 8, "tenure_days": 40, "reason_1_feature": "recency_days"})) == "offer"
    )


def test_saving_scores_twice_replaces_them(duckdb_url: str) -> None:
    scores = pd.DataFrame(
        {
            "customer_id": ["a"],
            "churn_risk": [0.2],
            "reason_1": ["x = 1"],
            "reason_1_feature": ["x"],
            "reason_1_effect": [0.3],
        }
    )
    with connect(duckdb_url) as store:
        save_churn_scores(store, scores, "m1", 90)
        save_churn_scores(store, scores.assign(churn_risk=0.7), "m1", 90)
        assert store.query("SELECT churn_risk FROM churn_scores")["churn_risk"].tolist() == [0.7]


def test_at_risk_uses_negative_feedback_and_detractor_answers(duckdb_url: str, shop_orders: pd.DataFrame) -> None:
    end = pd.to_datetime(shop_orders["ordered_at"]).max()
    active = shop_orders.assign(t=pd.to_datetime(shop_orders["ordered_at"])).groupby("customer_id")["t"].max()
    unhappy, detractor = sorted(active[active > end - pd.Timedelta(days=60)].index)[:2]
    when = end - pd.Timedelta(days=10)
    with connect(duckdb_url) as store:
        _load_orders(store, shop_orders)
        store.insert_new(
            "feedback",
            pd.DataFrame(
                {
                    "feedback_id": ["f1"],
                    "channel": "review",
                    "customer_id": [unhappy],
                    "author_kind": "customer",
                    "text": ["Broken on arrival"],
                    "created_at": [when],
                }
            ),
        )
        store.insert_new(
            "feedback_enriched",
            pd.DataFrame(
                {
                    "feedback_id": ["f1"],
                    "text_hash": "h",
                    "sentiment": "negative",
                    "sentiment_score": -0.8,
                    "model_version": "test",
                    "processed_at": [when],
                }
            ),
        )
        definition = {"pages": [{"questions": [{"id": "recommend", "type": "nps", "text": "Would you recommend us?"}]}]}
        store.insert_new(
            "surveys",
            pd.DataFrame(
                {
                    "survey_id": ["s-1"],
                    "slug": "s",
                    "version": 1,
                    "title": "NPS",
                    "status": "open",
                    "definition": [json.dumps(definition)],
                    "created_at": [when],
                }
            ),
        )
        store.insert_new(
            "responses",
            pd.DataFrame(
                {
                    "response_id": ["r1"],
                    "survey_id": "s-1",
                    "slug": "s",
                    "customer_id": [detractor],
                    "started_at": [when],
                }
            ),
        )
        store.insert_new(
            "answers",
            pd.DataFrame(
                {
                    "response_id": ["r1"],
                    "question_id": "recommend",
                    "field": "",
                    "value": "2",
                    "value_num": 2.0,
                    "idempotency_key": "k",
                    "answered_at": [when],
                }
            ),
        )
        from heedful.services.retain import run_at_risk

        result = run_at_risk(store, horizon=90)
        stored = stored_at_risk(store, top=1000)
    for text in (t for reasons in stored["reasons"] for t in reasons):
        assert_plain(text)
    table = result.customers.set_index("customer_id")
    assert table.loc[unhappy, "negative_feedback_share_90d"] == 1.0
    assert table.loc[detractor, "nps_score"] == 2.0 and table.loc[detractor, "is_detractor"] == 1.0
    assert table.loc[unhappy, "action"] == "reach out"
    assert table.loc[detractor, "action"] == "reach out"
