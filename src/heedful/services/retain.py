"""Retain use cases: churn risk with reasons and value at risk, next-best offers, look-alikes, survival.

Loaders read the store's orders, feedback sentiment, NPS answers and CLV; the use cases call `heedful.retain`
and save churn_scores, customer_value.churn_risk and offers. For a notebook::

    import heedful as hf
    store = hf.connect("duckdb:///heedful.duckdb")
    hf.services.retain.at_risk(store, top=50)   # scores every customer, saves, returns the top 50
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.ingest.sources import read_frame
from heedful.services.surveys import answers_of_type
from heedful.store import Store

if TYPE_CHECKING:
    from heedful.retain.atrisk import AtRiskResult

# Column names of common order exports (Online Retail, Shopify-like) -> canonical order fields.
ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customer_id", "customerid", "customer", "customer id"),
    "order_id": ("order_id", "invoiceno", "invoice", "order", "order id"),
    "ordered_at": ("ordered_at", "invoicedate", "order_date", "date", "created_at"),
    "product_id": ("product_id", "stockcode", "sku", "product", "item_id"),
    "product_name": ("product_name", "description", "title", "name"),
    "quantity": ("quantity", "qty"),
    "unit_price": ("unit_price", "unitprice", "price"),
    "amount": ("amount", "total", "line_total"),
    "is_return": ("is_return", "return"),
}
# Online Retail stock codes that are fees and adjustments, not products to offer.
NON_PRODUCTS = ("POST", "DOT", "M", "m", "D", "C2", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "S", "B")
# What `at_risk` lists, before the reason columns.
AT_RISK_COLUMNS = ["customer_id", "churn_risk", "clv", "clv_source", "value_at_risk", "action"]


# --------------------------------------------------------------------------- files
def read_table(path: Path) -> pd.DataFrame:
    """A CSV (optionally .gz), Parquet, Excel or JSON Lines file as a DataFrame of text (None where empty)."""
    frame: pd.DataFrame = read_frame(path)
    return frame


def orders_from_file(path: Path) -> pd.DataFrame:
    """An order-lines file in canonical or Online Retail column names, as canonical order columns."""
    raw = read_table(path)
    lookup = {c.strip().lower().replace(" ", "_"): c for c in raw.columns}
    lookup.update({c.strip().lower(): c for c in raw.columns})
    out = pd.DataFrame(index=raw.index)
    for field, aliases in ORDER_ALIASES.items():
        source = next((lookup[a] for a in aliases if a in lookup), None)
        if source is not None:
            out[field] = raw[source]
    for need in ("customer_id", "ordered_at", "product_id"):
        if need not in out.columns:
            raise InputError(f"{path} has no column for {need} (looked for {', '.join(ORDER_ALIASES[need])}).")
    out["ordered_at"] = pd.to_datetime(out["ordered_at"], errors="coerce")
    if "order_id" not in out.columns:
        out["order_id"] = out["customer_id"].astype(str) + "@" + out["ordered_at"].astype(str)
    qty = pd.to_numeric(out.get("quantity", pd.Series(1.0, index=out.index)), errors="coerce").fillna(1.0)
    if "amount" in out.columns:
        out["amount"] = pd.to_numeric(out["amount"], errors="coerce")
    else:
        price = pd.to_numeric(out.get("unit_price", pd.Series(0.0, index=out.index)), errors="coerce")
        out["amount"] = qty * price.fillna(0.0)
    out["quantity"] = qty
    if "is_return" in out.columns:
        out["is_return"] = out["is_return"].astype(str).str.lower().isin(["true", "1", "yes", "y", "t"])
    else:  # Online Retail: cancellation invoices start with C and carry negative quantities
        out["is_return"] = out["order_id"].astype(str).str.startswith("C") | (qty < 0)
    out["customer_id"] = out["customer_id"].where(out["customer_id"].notna(), None)
    return out[out["ordered_at"].notna()].reset_index(drop=True)


# --------------------------------------------------------------------------- loaders
def load_orders(store: Store) -> pd.DataFrame:
    """The stored order lines that have a customer; InputError when there are none."""
    frame = store.query(
        "SELECT customer_id, order_id, ordered_at, product_id, product_name, quantity, amount, is_return "
        "FROM orders WHERE customer_id IS NOT NULL"
    )
    if frame.empty:
        raise InputError("The store has no orders with a customer; import some with `heedful import orders`.")
    return frame


def load_feedback(store: Store) -> pd.DataFrame | None:
    """Customers' feedback with its sentiment (customer_id, created_at, sentiment), or None."""
    frame = store.query(
        "SELECT f.customer_id, f.created_at, e.sentiment FROM feedback f "
        "JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE f.customer_id IS NOT NULL"
    )
    return frame if not frame.empty else None


def load_nps(store: Store) -> pd.DataFrame | None:
    """Customers' would-you-recommend answers (survey_id, question_id, customer_id, answered_at, score), or None."""
    answers = answers_of_type(store, "nps")
    if answers.empty:
        return None
    return answers[["survey_id", "question_id", "customer_id", "answered_at", "score"]]


def load_clv(store: Store) -> pd.Series | None:
    """Stored CLV per customer_id, or None."""
    frame = store.query("SELECT customer_id, clv FROM customer_value WHERE clv IS NOT NULL")
    return None if frame.empty else frame.set_index("customer_id")["clv"].astype(float)


def load_customer_traits(store: Store) -> pd.DataFrame:
    """Customers with their stored traits (columns and `attributes` JSON keys) and value results."""
    frame = store.query(
        "SELECT c.customer_id, c.company, c.country, c.city, c.attributes, v.clv, v.segment "
        "FROM customers c JOIN customer_value v ON v.customer_id = c.customer_id WHERE c.kind = 'customer'"
    )
    if frame.empty:
        return frame
    extra = pd.DataFrame([_json_object(a) for a in frame["attributes"]], index=frame.index)
    return pd.concat([frame.drop(columns=["attributes"]), extra.drop(columns=frame.columns, errors="ignore")], axis=1)


def _json_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value:
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        return {}
    return (
        {k: v for k, v in parsed.items() if isinstance(v, str | int | float | bool)} if isinstance(parsed, dict) else {}
    )


# --------------------------------------------------------------------------- churn scores
def save_churn_scores(store: Store, scores: pd.DataFrame, model_version: str, horizon_days: int | None) -> int:
    """Upsert churn_scores and set customer_value.churn_risk (only that column) for known customers."""
    from heedful.retain.reasons import reason_context

    reason_cols = [c for c in scores.columns if c.startswith("reason_") and c.count("_") == 1]

    def reasons_json(row: pd.Series) -> str:
        items = []
        for c in reason_cols:
            feature = row.get(f"{c}_feature")
            if feature is None or pd.isna(feature):
                continue  # not explained (churn-score --reasons-for)
            shown = row.get(f"{c}_value")
            value = str(shown) if shown is not None and not pd.isna(shown) else str(row[c]).split(" = ", 1)[-1]
            item: dict[str, Any] = {"feature": feature, "value": value, "effect": float(row.get(f"{c}_effect", np.nan))}
            context = reason_context(str(feature), row.to_dict())
            if context:  # the exact value and the customer's other features its text reads ("usually every 40 days")
                item["context"] = context
            items.append(item)
        return json.dumps(items)

    now = datetime.now(UTC).replace(tzinfo=None)
    rows = pd.DataFrame(
        {
            "customer_id": scores["customer_id"].astype(str),
            "churn_risk": scores["churn_risk"].astype(float),
            "clv": scores["clv"].astype(float) if "clv" in scores else np.nan,
            "value_at_risk": scores["value_at_risk"].astype(float) if "value_at_risk" in scores else np.nan,
            "reasons": scores.apply(reasons_json, axis=1) if len(scores) else [],
            "action": scores.get("action"),
            "horizon_days": horizon_days,
            "model_version": model_version,
            "scored_at": now,
        }
    )
    with store.transaction():
        store.upsert("churn_scores", rows)
        store.execute(
            "UPDATE customer_value SET churn_risk = (SELECT s.churn_risk FROM churn_scores s "
            "WHERE s.customer_id = customer_value.customer_id) "
            "WHERE customer_id IN (SELECT customer_id FROM churn_scores)"
        )
    return len(rows)


def train_churn(
    path: Path,
    target: str,
    id_col: str,
    *,
    time_col: str | None = None,
    positive: str | None = None,
    drop: list[str] | None = None,
    folds: int = 5,
    leakage: str = "refuse",
    calibration: str = "isotonic",
    rounds: int = 300,
    bootstrap: int = 1000,
    model_out: Path | None = None,
) -> dict[str, Any]:
    """Train a churn model on a one-row-per-customer file with cross-validation; its report (and model_path)."""
    from heedful.retain.churn import ChurnModel, binary_target

    frame = read_table(path)
    for col in [target, id_col, *([time_col] if time_col else []), *(drop or [])]:
        if col not in frame.columns:
            raise InputError(f"Column {col!r} is not in {path} (columns: {', '.join(map(str, frame.columns[:30]))}).")
    y = binary_target(frame[target], positive)
    time = pd.to_datetime(frame[time_col], errors="coerce") if time_col else None
    X = frame.drop(columns=[target, id_col, *([time_col] if time_col else []), *(drop or [])])
    model = ChurnModel(
        n_folds=folds,
        n_estimators=rounds,
        leakage=leakage,  # type: ignore[arg-type]
        calibration=calibration,  # type: ignore[arg-type]
        n_bootstrap=bootstrap,
    )
    model.fit(X, y, time=None if time is None else time.to_numpy())
    model.meta_ = {"target": target, "id": id_col, "positive": positive, "trained_on": path.name}
    report: dict[str, Any] = model.report()
    if model_out is not None:
        report["model_path"] = str(model.save(model_out))
    return report


def score_churn(
    model_path: Path,
    path: Path,
    id_col: str | None = None,
    *,
    reasons: int = 3,
    reasons_for: int | None = None,
    store: Store | None = None,
) -> pd.DataFrame:
    """Calibrated churn risk and top reasons per customer of a file, by a saved model; with `store`, saved."""
    from heedful.retain.churn import ChurnModel

    model = ChurnModel.load(model_path)
    frame = read_table(path)
    key = id_col or model.meta_.get("id")
    if key is None or key not in frame.columns:
        raise InputError(f"Id column {key!r} is not in {path}; pass --id.")
    scores: pd.DataFrame = model.score(frame, frame[key].astype(str).tolist(), k=reasons, reasons_for=reasons_for)
    if store is not None:
        save_churn_scores(store, scores, model_version=f"churn:{model_path.name}", horizon_days=None)
    return scores


def run_at_risk(store: Store, horizon: int = 90) -> AtRiskResult:
    """Score every customer in the store and save churn_scores + customer_value.churn_risk."""
    from heedful.retain.atrisk import at_risk_customers

    result = at_risk_customers(
        load_orders(store),
        horizon_days=horizon,
        clv=load_clv(store),
        feedback=load_feedback(store),
        nps=load_nps(store),
    )
    version = f"retail-churn:{horizon}d"
    save_churn_scores(store, result.customers, model_version=version, horizon_days=horizon)
    save_churn_run(store, result.evaluation, version)
    return result


def save_churn_run(store: Store, evaluation: dict[str, Any], model_version: str) -> None:
    """Record a scoring run's out-of-fold quality (churn_runs), for `churn_model_quality`."""
    low, high = [*list(evaluation.get("cv_auc_ci95") or []), None, None][:2]
    now = datetime.now(UTC).replace(tzinfo=None)

    def number(value: Any) -> float | None:
        return None if value is None or pd.isna(value) else float(value)

    row = {
        "run_id": f"{model_version}@{now.isoformat()}",
        "model_version": model_version,
        "horizon_days": int(evaluation["horizon_days"]),
        "trained_cutoff": pd.Timestamp(evaluation["trained_cutoff"]).to_pydatetime(),
        "n_train_customers": int(evaluation["n_train_customers"]),
        "train_churn_rate": number(evaluation.get("train_churn_rate")),
        "cv_auc": number(evaluation.get("cv_auc")),
        "cv_auc_low": number(low),
        "cv_auc_high": number(high),
        "cv_brier": number(evaluation.get("cv_brier")),
        "n_scored": int(evaluation.get("n_scored") or 0),
        "scored_at": now,
    }
    store.upsert("churn_runs", pd.DataFrame([row]))


def churn_model_quality(store: Store) -> dict[str, Any] | None:
    """How far to trust the stored churn risks: the latest run of churn_runs (horizon, out-of-fold AUC with its
    95% interval, base rate…) of the model most stored scores came from, with `weak` and `in_words`
    (`heedful.retain.quality`); None before any run, or where the scores came from another model (a saved one,
    `retain churn-score`), whose quality this run does not speak for."""
    from heedful.jsonable import to_jsonable
    from heedful.retain.quality import judge

    if "churn_runs" not in store.list_tables():
        return None
    scored = store.fetchall(
        "SELECT model_version FROM churn_scores GROUP BY model_version ORDER BY COUNT(*) DESC, model_version LIMIT 1"
    )
    which, params = ("WHERE model_version = ? ", [scored[0][0]]) if scored else ("", None)
    runs = store.query(f"SELECT * FROM churn_runs {which}ORDER BY scored_at DESC LIMIT 1", params)
    if runs.empty:
        return None
    run: dict[str, Any] = to_jsonable(runs.iloc[0].to_dict())
    weak, words = judge(run)
    return {**run, "weak": weak, "in_words": words}


def at_risk_listing(customers: pd.DataFrame, top: int = 50) -> pd.DataFrame:
    """The first `top` scored customers: id, risk, CLV, value at risk, action and the reason texts."""
    listed = customers.head(top)
    columns = AT_RISK_COLUMNS + [
        c for c in listed.columns if c.startswith("reason_") and not c.endswith(("_feature", "_value"))
    ]
    out = listed[columns].reset_index(drop=True)
    # two reasons can read the same (the amount of feedback and its negative share both say "3 pieces of
    # feedback …, 1 of them negative"): each sentence once per customer, as the stored reasons read
    texts = [c for c in out.columns if c.startswith("reason_") and c.count("_") == 1]
    for i, column in enumerate(texts):
        repeated = out[column].notna() & out[texts[:i]].eq(out[column], axis=0).any(axis=1)
        out.loc[repeated, column] = None
        out.loc[repeated, f"{column}_effect"] = np.nan
    return out


def at_risk(store: Store, top: int = 50, horizon: int = 90) -> pd.DataFrame:
    """Score every customer (saved as `run_at_risk` does) and return the `top` by value at risk, highest first.

    Columns: customer_id, churn_risk, clv, clv_source, value_at_risk (CLV × risk), action, and per reason
    reason_N (plain words with direction, e.g. "bought 59 different products → risk down") and reason_N_effect.
    """
    return at_risk_listing(run_at_risk(store, horizon).customers, top)


def stored_at_risk(store: Store, top: int = 50) -> pd.DataFrame:
    """Stored churn scores, highest value at risk first; `reasons` as a list of plain-words texts with direction."""
    frame = store.query(
        "SELECT customer_id, churn_risk, clv, value_at_risk, action, reasons, scored_at FROM churn_scores "
        "ORDER BY value_at_risk DESC NULLS LAST, churn_risk DESC LIMIT ?",
        [int(top)],
    )
    frame["reasons"] = [_reason_texts(r) for r in frame["reasons"]]
    return frame


def _reason_texts(value: Any) -> list[str]:
    """Stored reasons (JSON items of feature, value, effect and maybe context) as plain words with direction."""
    from heedful.retain.reasons import reason_text

    try:
        items = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        return []
    if not isinstance(items, list):
        return []
    texts = [
        reason_text(
            str(i.get("feature")),
            i.get("value"),
            i.get("effect"),
            i.get("context") if isinstance(i.get("context"), dict) else None,
        )
        for i in items
        if isinstance(i, dict) and i.get("feature") is not None
    ]
    # two reasons can read the same (without feedback, its amount and its negative share both say "no feedback
    # in the last 90 days"): each sentence once, in order
    return list(dict.fromkeys(texts))


def value_at_risk(store: Store) -> dict[str, Any]:
    """THE value at risk: Σ CLV × churn risk over the stored churn scores, to the cent.

    The one definition the CLI (`retain at-risk`), the API, the Retain page, the report's headline and
    the at-risk alert show. `total` is None where no customer is scored; `high_risk_customers` counts
    those at 50% risk or more; `currency` is the orders' (None where the data do not say);
    `horizon_months` is the CLV horizon.
    """
    row = store.query(
        "SELECT COUNT(*) AS customers, SUM(value_at_risk) AS total, AVG(churn_risk) AS mean_risk, "
        "SUM(CASE WHEN churn_risk >= 0.5 THEN 1 ELSE 0 END) AS high_risk FROM churn_scores"
    ).iloc[0]
    from heedful.services.customers import business_currency, value_horizon

    scored = int(row["customers"] or 0)
    return {
        "total": round(float(row["total"]), 2) if scored and pd.notna(row["total"]) else None,
        "customers_scored": scored,
        "high_risk_customers": int(row["high_risk"] or 0) if scored else 0,
        "mean_risk": float(row["mean_risk"]) if scored and pd.notna(row["mean_risk"]) else None,
        "currency": business_currency(store),
        "horizon_months": value_horizon(store),  # the stored CLV's
    }


def at_risk_summary(store: Store) -> dict[str, Any]:
    """Customers scored, total value at risk and mean risk of the stored churn scores (None where none)."""
    figure = value_at_risk(store)
    if not figure["customers_scored"]:
        return {}
    return {
        "customers": figure["customers_scored"],
        "total_value_at_risk": figure["total"],
        "mean_risk": figure["mean_risk"],
        "currency": figure["currency"],
        "horizon_months": figure["horizon_months"],
    }


# --------------------------------------------------------------------------- offers
def offer_method_in_words(method: str) -> str:
    """'similar customers' baskets (matrix factorisation)' for "svd": how offers were chosen, for people."""
    from heedful.retain.offers import METHOD_NAMES

    return METHOD_NAMES.get(method, method)


def run_offers(store: Store, top: int = 5, method: str = "svd", customers: list[str] | None = None) -> pd.DataFrame:
    """Next-best offers per customer from the stored purchases, saved in `offers` (all, or those customers')."""
    from heedful.retain.offers import next_best_offers

    table = next_best_offers(
        load_orders(store), k=top, method=method, customer_ids=customers, exclude_products=NON_PRODUCTS
    )
    table["created_at"] = datetime.now(UTC).replace(tzinfo=None)
    stored = table[
        ["customer_id", "rank", "product_id", "product_name", "score", "method", "explanation", "created_at"]
    ]
    if customers:
        with store.transaction():
            store.upsert("offers", stored)
    else:
        store.replace_all("offers", stored)
    return stored


def stored_offers(store: Store, customer_ids: list[str]) -> dict[str, pd.DataFrame]:
    """Stored next-best offers per customer (rank, product_id, product_name, explanation), in rank order."""
    if not customer_ids:
        return {}
    marks = ", ".join("?" for _ in customer_ids)
    frame = store.query(
        f"SELECT customer_id, rank, product_id, product_name, explanation FROM offers "
        f"WHERE customer_id IN ({marks}) ORDER BY customer_id, rank",
        customer_ids,
    )
    return {str(c): g.drop(columns=["customer_id"]).reset_index(drop=True) for c, g in frame.groupby("customer_id")}


def evaluate_offers(
    path: Path, holdout_start: pd.Timestamp, ks: tuple[int, ...] = (5, 10), holdout_end: str | None = None
) -> dict[str, Any]:
    """Hit-rate@k and recall@k of each recommender and the popularity baseline on a time split of a file."""
    from heedful.retain.offers import evaluate_offers as evaluate

    result: dict[str, Any] = evaluate(
        orders_from_file(path), holdout_start, ks=ks, holdout_end=holdout_end, exclude_products=NON_PRODUCTS
    )
    return result


# --------------------------------------------------------------------------- look-alikes and survival
@dataclass
class LookalikeResult:
    """Prospects scored by resemblance to the best customers, and what the comparison rested on."""

    scores: pd.DataFrame
    n_customers: int
    n_best: int
    traits: list[str]
    trait_importance: pd.DataFrame


def lookalikes(
    store: Store,
    prospects_path: Path,
    id_col: str | None = None,
    *,
    best_quantile: float = 0.8,
    segments: list[str] | None = None,
) -> LookalikeResult:
    """Score a file of prospects against the stored customers with the best CLV (or in `segments`)."""
    from heedful.retain.lookalike import LookalikeModel, best_customers, trait_columns

    prospects = read_table(prospects_path)
    key = id_col or str(prospects.columns[0])
    customers = load_customer_traits(store)
    if customers.empty:
        raise InputError("No customers with value results; run `heedful value clv` (or rfm) first.")
    best = best_customers(customers, best_quantile, segments=segments)
    traits = trait_columns(customers, prospects.drop(columns=[key]))
    model = LookalikeModel().fit(customers, best, traits)
    scores = model.score(prospects, prospects[key].astype(str).tolist())
    return LookalikeResult(scores, len(customers), int(best.sum()), traits, model.trait_importance())


def survival(
    *,
    path: Path | None = None,
    store: Store | None = None,
    duration: str | None = None,
    event: str | None = None,
    segment: str | None = None,
    covariates: list[str] | None = None,
    inactive_days: int = 90,
) -> dict[str, Any]:
    """Kaplan–Meier curves by segment (medians, log-rank p) and Cox hazard ratios.

    From a file (one row per customer; `duration` and `event` name its columns) or, without one, from the
    store's retail orders: churned = no order for `inactive_days`, split by RFM segment where there is one.
    """
    from heedful.retain.survival import cox_hazard_ratios, kaplan_meier_by_segment

    if path is not None:
        if not duration or not event:
            raise InputError("With a file, pass --duration COL and --event COL.")
        frame = read_table(path)
    elif store is not None:
        frame = retail_survival_frame(store, inactive_days)
        duration, event = "duration_days", "churned"
        segment = segment or ("segment" if frame["segment"].notna().any() else None)
    else:
        raise InputError("Survival needs a file or a store.")
    km = kaplan_meier_by_segment(frame, duration, event, segment)
    doc: dict[str, Any] = {"medians": km["medians"], "logrank_p": km["logrank_p"]}
    if covariates:
        doc["hazard_ratios"] = cox_hazard_ratios(frame, duration, event, covariates)
    doc["curves"] = _thin_curves(km["curves"])
    return doc


def retail_survival_frame(store: Store, inactive_days: int = 90) -> pd.DataFrame:
    """One row per stored customer: duration_days, churned (no order for `inactive_days`) and RFM segment."""
    from heedful.retain.survival import retail_durations

    frame = retail_durations(load_orders(store), inactive_days=inactive_days)
    segments = store.query("SELECT customer_id, segment FROM customer_value")
    return frame.join(segments.set_index("customer_id")["segment"]).reset_index()


def _thin_curves(curves: pd.DataFrame, points: int = 60) -> pd.DataFrame:
    """At most `points` steps per segment, enough to draw the curve."""
    parts = []
    for _, g in curves.groupby("segment", sort=False):
        idx = np.unique(np.linspace(0, len(g) - 1, min(points, len(g))).astype(int))
        parts.append(g.iloc[idx])
    return pd.concat(parts, ignore_index=True) if parts else curves


# --------------------------------------------------------------------------- demo
def demo_step(store: Store) -> dict[str, object]:
    """Score churn and value at risk, and compute next-best offers, on the demo data in the store."""
    figures: dict[str, object] = {}
    result = run_at_risk(store, horizon=90)
    ev = result.evaluation
    figures["churn_cv_auc"] = round(float(ev["cv_auc"]), 3)
    figures["customers_scored"] = ev["n_scored"]
    quality = churn_model_quality(store)  # as the Retain page says it
    figures["churn_days"] = ev["horizon_days"]
    figures["churn_weak"] = bool(quality and quality["weak"])
    at_risk = value_at_risk(store)  # the one figure the page, API and report show
    figures["value_at_risk"] = at_risk["total"]
    figures["currency"] = at_risk["currency"]
    figures["top_action"] = str(result.customers["action"].head(50).mode().iat[0]) if len(result.customers) else None
    offers_table = run_offers(store, top=5)
    figures["offers"] = len(offers_table)
    return figures
