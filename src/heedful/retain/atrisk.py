"""Value at risk for retail customers: churn risk × CLV, the reasons, and what to do about it.

`at_risk_customers` trains a churn model on an earlier cut-off (features before it, label = no
purchase in the next `horizon_days`), checks it on that time split, then scores every customer
as of the end of the data. Each customer gets value at risk = CLV × risk, the top three reasons
and a suggested action: *reach out* when they told us they are unhappy, *peer advocate* for new
customers still finding their way, *offer* otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.retain.churn import ChurnModel, logistic_baseline_predict
from heedful.retain.features import monotone_directions, retail_churn_dataset, retail_features
from heedful.retain.metrics import auc, brier

ACTIONS = ("reach out", "peer advocate", "offer")
UNHAPPY_FEATURES = ("negative_feedback_share", "nps_score", "is_detractor")
NEW_CUSTOMER_DAYS = 180  # first purchase within this many days and at most two orders: a new customer


@dataclass
class AtRiskResult:
    """Ranked customers plus the fitted model and how well it did on the time split."""

    customers: pd.DataFrame
    model: ChurnModel
    evaluation: dict[str, Any]


def suggested_action(row: pd.Series) -> str:
    """Reach out to the unhappy, pair new customers (≤ 2 orders, first within 180 days) with an advocate, else offer."""
    unhappy = (row.get("negative_feedback_share_90d", 0) or 0) > 0 or (row.get("is_detractor", 0) or 0) > 0
    top_reasons = [str(row.get(f"reason_{i}_feature", "")) for i in (1, 2, 3)]
    if unhappy or any(r.startswith(UNHAPPY_FEATURES) for r in top_reasons[:1]):
        return "reach out"
    if (row.get("frequency", 0) or 0) <= 2 and (row.get("tenure_days", 0) or 0) <= NEW_CUSTOMER_DAYS:
        return "peer advocate"
    return "offer"


def at_risk_customers(
    orders: pd.DataFrame,
    horizon_days: int = 90,
    clv: pd.Series | None = None,
    feedback: pd.DataFrame | None = None,
    nps: pd.DataFrame | None = None,
    p_alive: pd.Series | None = None,
    as_of: pd.Timestamp | str | None = None,
    model: ChurnModel | None = None,
) -> AtRiskResult:
    """Every customer's churn risk, value at risk, reasons and action, highest value at risk first.

    `clv` (per customer_id, e.g. customer_value.clv) gives the value; without it a 12-month spend
    run-rate stands in and `clv_source` says so.
    """
    dates = pd.to_datetime(orders["ordered_at"])
    now = pd.Timestamp(as_of) if as_of is not None else dates.max().normalize() + pd.Timedelta(days=1)
    train_cut = now - pd.Timedelta(days=horizon_days)
    if train_cut <= dates.min() + pd.Timedelta(days=30):
        raise InputError(
            f"Need more than {horizon_days + 30} days of orders to learn churn over {horizon_days} days; "
            "pass a shorter --horizon."
        )
    extras: dict[str, Any] = {"feedback": feedback, "nps": nps}
    X_train, y_train = retail_churn_dataset(orders, train_cut, horizon_days, **extras)
    churn = model or ChurnModel(
        n_folds=5, leakage="flag", n_bootstrap=200, baseline=False, monotone=monotone_directions()
    )
    churn.fit(X_train, y_train)
    churn.meta_ = {"kind": "retail", "horizon_days": horizon_days, "trained_cutoff": str(train_cut.date())}
    X_now = retail_features(orders, now, feedback=feedback, nps=nps, p_alive=p_alive)
    X_now = X_now.reindex(columns=X_train.columns)
    scored = churn.score(X_now, X_now.index).set_index("customer_id")
    frame = X_now.join(scored)
    if clv is not None:
        frame["clv"] = clv.reindex(frame.index).astype(float)
        frame["clv_source"] = np.where(frame["clv"].notna(), "model", "run-rate")
    else:
        frame["clv"] = np.nan
        frame["clv_source"] = "run-rate"
    years = np.maximum(frame["tenure_days"], 30.0) / 365.25
    run_rate = frame["monetary_total"].clip(lower=0) / years
    frame["clv"] = frame["clv"].fillna(run_rate)
    frame["value_at_risk"] = frame["clv"] * frame["churn_risk"]
    frame["action"] = frame.apply(suggested_action, axis=1)
    frame = frame.sort_values("value_at_risk", ascending=False).reset_index()
    evaluation = {
        "trained_cutoff": str(train_cut.date()),
        "scored_as_of": str(now.date()),
        "horizon_days": horizon_days,
        "n_train_customers": len(y_train),
        "train_churn_rate": float(y_train.mean()),
        "cv_auc": churn.cv_["cv_auc"],
        "cv_auc_ci95": churn.cv_["cv_auc_ci95"],
        "cv_brier": churn.cv_["cv_brier"],
        "top_features": churn.cv_["top_features"][:5],
        "n_scored": len(frame),
        "total_value_at_risk": float(frame["value_at_risk"].sum()),
    }
    return AtRiskResult(frame, churn, evaluation)


def time_split_evaluation(
    orders: pd.DataFrame,
    train_cutoff: pd.Timestamp | str,
    test_cutoff: pd.Timestamp | str,
    horizon_days: int = 90,
    **model_params: Any,
) -> dict[str, Any]:
    """Train at one cut-off, test at a later one (new features, new labels): AUC and Brier on the future.

    Compares against recency alone and, when BTYD is available, P(alive) alone.
    """
    X_tr, y_tr = retail_churn_dataset(orders, train_cutoff, horizon_days)
    X_te, y_te = retail_churn_dataset(orders, test_cutoff, horizon_days)
    params = {"n_bootstrap": 200, "leakage": "flag", "monotone": monotone_directions(), **model_params}
    model = ChurnModel(**params).fit(X_tr, y_tr)
    risk = model.predict_proba(X_te.reindex(columns=X_tr.columns))
    yt = y_te.to_numpy()
    from heedful.retain.metrics import bootstrap_auc_ci, expected_calibration_error

    out: dict[str, Any] = {
        "train_cutoff": str(pd.Timestamp(train_cutoff).date()),
        "test_cutoff": str(pd.Timestamp(test_cutoff).date()),
        "horizon_days": horizon_days,
        "n_train": len(y_tr),
        "n_test": len(y_te),
        "test_churn_rate": float(yt.mean()),
        "test_auc": auc(risk, yt),
        "test_auc_ci95": list(bootstrap_auc_ci(model.predict_raw(X_te.reindex(columns=X_tr.columns)), yt, 1000)),
        "test_brier": brier(risk, yt),
        "test_ece": expected_calibration_error(risk, yt),
        "train_cv_auc": model.cv_["cv_auc"],
        "baseline_logistic_auc": auc(logistic_baseline_predict(X_tr, y_tr.to_numpy(), X_te[X_tr.columns]), yt),
        "baseline_recency_auc": auc(X_te["recency_days"].to_numpy(), yt),
        "top_features": model.cv_["top_features"][:6],
    }
    if "p_alive" in X_te.columns and X_te["p_alive"].notna().all():
        out["baseline_p_alive_auc"] = auc(-X_te["p_alive"].to_numpy(), yt)
    return out
