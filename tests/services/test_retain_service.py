"""heedful.services.retain: the at-risk table a notebook asks for, and the loaders it rests on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.retain.conftest import make_retail_orders

import heedful as hf
from heedful.retain.quality import WEAK_AUC
from heedful.services import retain
from heedful.store import Store

ORDER_COLUMNS = [
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


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return make_retail_orders(150, seed=7)


def test_at_risk_lists_the_top_customers_by_value_at_risk_with_reasons(store: Store, orders: pd.DataFrame) -> None:
    store.insert_new("orders", orders[ORDER_COLUMNS])
    table = hf.services.retain.at_risk(store, top=12)
    assert isinstance(table, pd.DataFrame) and len(table) == 12
    assert list(table["value_at_risk"]) == sorted(table["value_at_risk"], reverse=True)
    np.testing.assert_allclose(table["value_at_risk"], table["clv"] * table["churn_risk"], rtol=1e-9)
    assert set(table["action"]) <= {"reach out", "peer advocate", "offer"}
    assert {"reason_1", "reason_2", "reason_3"} <= set(table.columns)
    assert table["reason_1"].str.endswith(("→ risk up", "→ risk down")).all()  # plain words, not `feature = value`
    assert not table["reason_1"].str.contains("_days|_90d|monetary_|_ratio|p_alive").any()
    assert (table["clv_source"] == "run-rate").all()  # no customer_value yet: a spend run-rate stands in
    # every customer was scored and saved; the stored table ranks the same customers first
    assert store.count("churn_scores") == orders["customer_id"].nunique()
    stored = retain.stored_at_risk(store, top=12)
    assert list(stored["customer_id"]) == list(table["customer_id"])
    assert all(len(reasons) == 3 for reasons in stored["reasons"])
    assert all(t.endswith(("→ risk up", "→ risk down")) and " = " not in t for r in stored["reasons"] for t in r)
    summary = retain.at_risk_summary(store)
    assert summary["customers"] == store.count("churn_scores")
    # the run's out-of-fold quality is kept beside the scores, for the page to say how far to trust them
    quality = retain.churn_model_quality(store)
    assert quality is not None and quality["horizon_days"] == 90 and quality["n_scored"] == summary["customers"]
    assert 0 <= quality["cv_auc_low"] <= quality["cv_auc"] <= quality["cv_auc_high"] <= 1
    assert quality["weak"] == (quality["cv_auc"] < WEAK_AUC or quality["cv_auc_low"] <= 0.5)
    assert "no order in the next 90 days" in quality["in_words"]
    json.dumps(quality)  # the API returns it as it is


def _evaluation(auc: float, low: float, high: float) -> dict[str, object]:
    return {
        "horizon_days": 60,
        "trained_cutoff": "2024-03-01",
        "n_train_customers": 1200,
        "train_churn_rate": 0.3,
        "cv_auc": auc,
        "cv_auc_ci95": [low, high],
        "cv_brier": 0.18,
        "n_scored": 1500,
    }


def test_churn_model_quality_is_said_in_plain_words_and_weak_models_are_called_rough(duck_store: Store) -> None:
    assert retain.churn_model_quality(duck_store) is None  # nothing scored yet
    retain.save_churn_run(duck_store, _evaluation(0.81, 0.78, 0.84), "retail-churn:60d")
    strong = retain.churn_model_quality(duck_store)
    assert strong is not None and not strong["weak"]
    assert strong["in_words"] == (
        "Churn risk is the chance that a customer places no order in the next 60 days. The model learnt it from "
        "1,200 customers' orders up to 2024-03-01 and what they did in the 60 days after (30% of them ordered "
        "nothing). Tested on customers it had not learnt from, it ranks a churner above a customer who stays 81% "
        "of the time (95% interval 78%–84%); 50% would be guessing."
    )
    retain.save_churn_run(duck_store, _evaluation(0.74, 0.49, 0.9), "retail-churn:60d")  # interval reaches chance
    latest = retain.churn_model_quality(duck_store)
    assert latest is not None and latest["weak"] and latest["cv_auc"] == 0.74
    assert latest["in_words"].endswith("That is weak: read each risk as a rough guide, not a forecast.")
    # scores from a saved model (`retain churn-score`): this run's quality does not speak for them
    scores = pd.DataFrame({"customer_id": ["C1"], "churn_risk": [0.3], "clv": [10.0], "value_at_risk": [3.0]})
    retain.save_churn_scores(duck_store, scores, "churn:model.joblib", horizon_days=None)
    assert retain.churn_model_quality(duck_store) is None


def _survey(store: Store, survey_id: str, questions: list[dict[str, str]]) -> None:
    definition = {"slug": survey_id, "title": survey_id, "pages": [{"id": "p1", "questions": questions}]}
    store.insert_new(
        "surveys",
        pd.DataFrame(
            {
                "survey_id": [survey_id],
                "slug": survey_id,
                "version": 1,
                "title": survey_id,
                "status": "open",
                "definition": [json.dumps(definition)],
                "created_at": [pd.Timestamp("2024-05-01")],
            }
        ),
    )


def _answer(store: Store, response_id: str, survey_id: str, customer: str, question: str, value: float) -> None:
    when = pd.Timestamp("2024-05-02")
    store.insert_new(
        "responses",
        pd.DataFrame(
            {
                "response_id": [response_id],
                "survey_id": survey_id,
                "slug": survey_id,
                "customer_id": [customer],
                "started_at": [when],
            }
        ),
    )
    store.insert_new(
        "answers",
        pd.DataFrame(
            {
                "response_id": [response_id],
                "question_id": question,
                "field": "",
                "value": str(value),
                "value_num": value,
                "idempotency_key": response_id,
                "answered_at": [when],
            }
        ),
    )


def test_nps_answers_are_those_of_nps_questions_in_the_definition(duck_store: Store) -> None:
    _survey(
        duck_store,
        "pulse",
        [
            {"id": "q7", "type": "nps", "text": "Would you recommend us?"},
            {"id": "nps_effort", "type": "ces", "text": "How easy was it?"},
        ],
    )
    _answer(duck_store, "r1", "pulse", "c1", "q7", 3.0)
    _answer(duck_store, "r2", "pulse", "c2", "nps_effort", 5.0)  # "nps" in the id, but a CES question
    nps = retain.load_nps(duck_store)
    assert nps is not None
    assert list(nps.columns) == ["survey_id", "question_id", "customer_id", "answered_at", "score"]
    assert nps[["customer_id", "question_id", "score"]].values.tolist() == [["c1", "q7", 3.0]]


def test_no_answers_means_no_nps(duck_store: Store) -> None:
    assert retain.load_nps(duck_store) is None


def test_order_files_are_read_by_the_importers_reader(tmp_path: Path) -> None:
    """Semicolon-separated Online Retail columns: the shared reader detects the delimiter."""
    path = tmp_path / "orders.csv"
    path.write_text(
        "InvoiceNo;StockCode;Description;Quantity;InvoiceDate;UnitPrice;CustomerID\n"
        "536365;85123A;HEART HOLDER;6;2010-12-01 08:26:00;2.55;17850\n"
        "C536379;D;Discount;-1;2010-12-01 09:41:00;27.50;14527\n"
    )
    frame = retain.orders_from_file(path)
    assert frame["customer_id"].tolist() == ["17850", "14527"]
    assert frame["amount"].tolist() == pytest.approx([15.3, -27.5])
    assert frame["is_return"].tolist() == [False, True]


def test_the_at_risk_listing_reads_each_reason_once_per_customer() -> None:
    from heedful.services.retain import at_risk_listing

    same = "3 pieces of feedback in the last 90 days, 1 of them negative → risk up"
    scored = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "churn_risk": [0.7, 0.4],
            "clv": [100.0, 50.0],
            "clv_source": ["model", "model"],
            "value_at_risk": [70.0, 20.0],
            "action": ["reach out", "offer"],
            "reason_1": [same, "2 orders so far → risk up"],
            "reason_1_feature": ["feedback_count_90d", "frequency"],
            "reason_1_effect": [1.4, 0.3],
            "reason_2": [same, "no returns → risk up"],
            "reason_2_feature": ["negative_feedback_share_90d", "return_share"],
            "reason_2_effect": [0.5, 0.1],
            "reason_3": ["2 orders so far → risk up", None],
            "reason_3_feature": ["frequency", None],
            "reason_3_effect": [0.1, float("nan")],
        }
    )
    listed = at_risk_listing(scored)
    assert listed.loc[0, ["reason_1", "reason_2", "reason_3"]].tolist() == [same, None, "2 orders so far → risk up"]
    assert pd.isna(listed.loc[0, "reason_2_effect"]) and listed.loc[0, "reason_1_effect"] == 1.4
    assert listed.loc[1, ["reason_1", "reason_2"]].tolist() == ["2 orders so far → risk up", "no returns → risk up"]
    assert "reason_1_feature" not in listed.columns
