"""Evaluate heedful.retain on real data and print one JSON document.

- IBM Telco churn (7,043 customers): 5-fold stratified cross-validated AUC with a bootstrap 95%
  interval, Brier score, calibration (ECE and reliability table), against a logistic regression on
  the same folds.
- UCI Online Retail: retail churn on a time split (features before 2011-06-01, labels over the next
  90 days for training; features before 2011-09-01, labels Sep–Nov for testing), and next-best
  offers on a time split (learn before 2011-09-01, check Sep–Dec purchases of new products):
  hit-rate@k and recall@k of each recommender against the popularity baseline.

Usage: .venv/bin/python scripts/evaluate_retain.py [--data ../shared/data] [--skip-offers]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from heedful.jsonable import to_jsonable
from heedful.retain.atrisk import time_split_evaluation
from heedful.retain.churn import ChurnModel
from heedful.retain.offers import PurchaseHistory, evaluate_offers
from heedful.services.retain import NON_PRODUCTS

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def telco(data: Path) -> dict[str, Any]:
    frame = pd.read_csv(data / "telco_churn" / "Telco-Customer-Churn.csv")
    X = frame.drop(columns=["customerID", "Churn"])
    started = time.perf_counter()
    model = ChurnModel(n_folds=5, random_state=0).fit(X, frame["Churn"])
    report = model.report()
    keep = [
        "cv_auc",
        "cv_auc_ci95",
        "fold_auc",
        "cv_brier",
        "cv_brier_uncalibrated",
        "cv_ece",
        "baseline_auc",
        "baseline_auc_ci95",
        "baseline_brier",
        "churn_rate",
        "n_rows",
        "n_boosting_rounds",
        "cv_scheme",
        "calibration_method",
        "leakage",
    ]
    out = {k: report[k] for k in keep}
    out["calibration"] = report["calibration"]
    out["top_features"] = [
        {k: f[k] for k in ("feature", "mean_abs_shap", "gain_share")} for f in report["top_features"][:8]
    ]
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def online_retail_orders(data: Path) -> pd.DataFrame:
    raw = pd.read_csv(
        data / "uci_online_retail" / "online_retail.csv.gz",
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        parse_dates=["InvoiceDate"],
    )
    return pd.DataFrame(
        {
            "customer_id": raw["CustomerID"].astype("string"),
            "order_id": raw["InvoiceNo"],
            "ordered_at": raw["InvoiceDate"],
            "product_id": raw["StockCode"],
            "product_name": raw["Description"],
            "quantity": raw["Quantity"],
            "amount": raw["Quantity"] * raw["UnitPrice"],
            "is_return": raw["InvoiceNo"].str.startswith("C"),
        }
    )


def retail_churn(orders: pd.DataFrame) -> dict[str, Any]:
    started = time.perf_counter()
    out = time_split_evaluation(orders, "2011-06-01", "2011-09-01", horizon_days=90)
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


def offers(orders: pd.DataFrame) -> dict[str, Any]:
    started = time.perf_counter()
    result = evaluate_offers(orders, "2011-09-01", ks=(5, 10), exclude_products=NON_PRODUCTS)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["excluded_non_products"] = list(NON_PRODUCTS)
    peer = implicit_als(orders)
    if peer is not None:
        result["peer_implicit_als"] = peer
    return result


def implicit_als(orders: pd.DataFrame) -> dict[str, Any] | None:
    """The `implicit` library's ALS on the same split, as a reference (bench extra; skipped if absent)."""
    try:
        from implicit.als import AlternatingLeastSquares
    except ImportError:
        return None
    from heedful.retain.offers import _holdout_purchases, _ranking_metrics, bm25_weight

    start = pd.Timestamp("2011-09-01")
    train = orders[orders["ordered_at"] < start]
    test = orders[orders["ordered_at"] >= start]
    history = PurchaseHistory.from_orders(train, NON_PRODUCTS)
    relevant = _holdout_purchases(test, history, NON_PRODUCTS)
    customers = np.array(sorted(relevant))
    model = AlternatingLeastSquares(factors=64, iterations=15, regularization=0.05, random_state=0)
    user_items = bm25_weight(history.counts).tocsr()
    model.fit(user_items, show_progress=False)
    rows = history.rows_for(list(customers))
    ids, _ = model.recommend(rows, history.owned[rows], N=10, filter_already_liked_items=True)
    recs = pd.DataFrame(
        {
            "customer_id": np.repeat(customers, ids.shape[1]),
            "product_id": np.asarray(history.products)[ids.ravel()],
        }
    )
    return _ranking_metrics(recs, relevant, customers, (5, 10))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--skip-offers", action="store_true")
    args = parser.parse_args()
    result: dict[str, Any] = {"telco_churn": telco(args.data)}
    orders = online_retail_orders(args.data)
    result["online_retail_churn_time_split"] = retail_churn(orders)
    if not args.skip_offers:
        result["online_retail_offers_time_split"] = offers(orders)
    print(json.dumps(to_jsonable(result), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
