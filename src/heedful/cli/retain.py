"""`heedful retain …`: churn risk with reasons, value at risk, next-best offers, look-alikes, survival."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.errors import InputError
from heedful.store import Store

app = typer.Typer(
    help="Keep and grow customers: churn risk with reasons, value at risk, next-best offers, look-alikes.",
    no_args_is_help=True,
)

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


def read_table(path: Path) -> pd.DataFrame:
    """A CSV (optionally .gz), Parquet or Excel file as a DataFrame, ids kept as text."""
    existing_file(path)
    name = path.name.lower()
    try:
        if name.endswith(".parquet"):
            return pd.read_parquet(path)
        if name.endswith((".xlsx", ".xls")):
            return pd.read_excel(path, dtype=str)
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc


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


# --------------------------------------------------------------------------- churn (contractual)
@app.command("churn-train")
def churn_train(
    file: Annotated[Path, typer.Argument(help="CSV/Parquet/Excel with one row per customer.")],
    target: Annotated[str, typer.Option("--target", help="Column that says who churned (Yes/No, 1/0…).")],
    id_col: Annotated[str, typer.Option("--id", help="Customer id column (not used as a feature).")],
    time_col: Annotated[
        str | None, typer.Option("--time-col", help="Date/time column: folds then run forward in time.")
    ] = None,
    positive: Annotated[str | None, typer.Option("--positive", help="Target value that means churn.")] = None,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")] = None,
    folds: Annotated[int, typer.Option("--folds", min=2, max=20)] = 5,
    leakage: Annotated[str, typer.Option("--leakage", help="refuse | drop | flag suspicious columns.")] = "refuse",
    calibration: Annotated[str, typer.Option("--calibration", help="isotonic | platt | none.")] = "isotonic",
    rounds: Annotated[int, typer.Option("--rounds", help="Most boosting rounds (early stopping picks fewer).")] = 300,
    bootstrap: Annotated[int, typer.Option("--bootstrap", help="Bootstrap resamples for the AUC interval.")] = 1000,
    model_out: Annotated[Path | None, typer.Option("--model-out", help="Folder to save the model in.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Train a churn model with cross-validation: AUC with 95% interval, calibration, top features, baseline."""
    from heedful.retain.churn import ChurnModel, binary_target

    if leakage not in ("refuse", "drop", "flag"):
        raise InputError("--leakage must be refuse, drop or flag.")
    if calibration not in ("isotonic", "platt", "none"):
        raise InputError("--calibration must be isotonic, platt or none.")
    frame = read_table(file)
    for col in [target, id_col, *([time_col] if time_col else []), *(drop or [])]:
        if col not in frame.columns:
            raise InputError(f"Column {col!r} is not in {file} (columns: {', '.join(map(str, frame.columns[:30]))}).")
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
    model.meta_ = {"target": target, "id": id_col, "positive": positive, "trained_on": file.name}
    report = model.report()
    if model_out is not None:
        report["model_path"] = str(model.save(model_out))
    if json_out:
        emit_json(report)
        return
    lo, hi = report["cv_auc_ci95"]
    console.print(f"Cross-validated AUC {report['cv_auc']:.3f} (95% CI {lo:.3f}–{hi:.3f}), {report['cv_scheme']}")
    console.print(f"Logistic baseline AUC {report['baseline_auc']:.3f}; Brier {report['cv_brier']:.4f}")
    for lk in report["leakage"]:
        console.print(f"[yellow]Leakage flag[/] {lk['feature']}: {lk['reason']}")
    console.print("Top features: " + ", ".join(f["feature"] for f in report["top_features"][:8]))
    if model_out is not None:
        console.print(f"Model saved to {report['model_path']}")


@app.command("churn-score")
def churn_score(
    file: Annotated[Path, typer.Argument(help="Customers to score (same columns as for training).")],
    model_path: Annotated[Path, typer.Option("--model", help="Folder written by churn-train --model-out.")],
    out: Annotated[Path | None, typer.Option("--out", help="CSV to write the scores to.")] = None,
    id_col: Annotated[str | None, typer.Option("--id", help="Customer id column (default: as trained).")] = None,
    reasons: Annotated[int, typer.Option("--reasons", min=1, max=10)] = 3,
    reasons_for: Annotated[
        int | None, typer.Option("--reasons-for", help="Explain only the N riskiest customers (faster).")
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Calibrated churn risk per customer with the top reasons; optionally stored (--db) in churn_scores."""
    from heedful.retain.churn import ChurnModel

    model = ChurnModel.load(model_path)
    frame = read_table(file)
    key = id_col or model.meta_.get("id")
    if key is None or key not in frame.columns:
        raise InputError(f"Id column {key!r} is not in {file}; pass --id.")
    scores = model.score(frame, frame[key].astype(str).tolist(), k=reasons, reasons_for=reasons_for)
    if out is not None:
        scores.to_csv(out, index=False)
    if db is not None:
        store = open_store(db)
        with store:
            save_churn_scores(store, scores, model_version=f"churn:{model_path.name}", horizon_days=None)
    summary = {
        "n_scored": len(scores),
        "mean_risk": float(scores["churn_risk"].mean()),
        "out": str(out) if out else None,
        "top": scores.head(10).to_dict(orient="records"),
    }
    if json_out:
        emit_json(summary)
    else:
        console.print(f"Scored {len(scores):,} customers; mean risk {summary['mean_risk']:.3f}.")
        if out:
            console.print(f"Wrote {out}")


# --------------------------------------------------------------------------- store helpers (I/O lives here)
def load_orders(store: Store) -> pd.DataFrame:
    frame = store.query(
        "SELECT customer_id, order_id, ordered_at, product_id, product_name, quantity, amount, is_return "
        "FROM orders WHERE customer_id IS NOT NULL"
    )
    if frame.empty:
        raise InputError("The store has no orders with a customer; import some with `heedful import orders`.")
    return frame


def load_feedback(store: Store) -> pd.DataFrame | None:
    frame = store.query(
        "SELECT f.customer_id, f.created_at, e.sentiment FROM feedback f "
        "JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE f.customer_id IS NOT NULL"
    )
    return frame if not frame.empty else None


def load_nps(store: Store) -> pd.DataFrame | None:
    """Answers to would-you-recommend (0–10) questions: type `nps` in the survey definition, or an id with 'nps'."""
    surveys = store.query("SELECT survey_id, definition FROM surveys")
    nps_questions: set[tuple[str, str]] = set()
    for survey_id, definition in surveys.itertuples(index=False):
        try:
            spec = json.loads(definition) if isinstance(definition, str) else definition
        except json.JSONDecodeError:
            continue
        for q in _questions(spec):
            if str(q.get("type", "")).lower() == "nps" and "id" in q:
                nps_questions.add((str(survey_id), str(q["id"])))
    answers = store.query(
        "SELECT r.survey_id, a.question_id, r.customer_id, a.answered_at, a.value_num AS score "
        "FROM answers a JOIN responses r ON r.response_id = a.response_id "
        "WHERE r.customer_id IS NOT NULL AND a.value_num IS NOT NULL"
    )
    if answers.empty:
        return None
    is_nps = [
        (str(s), str(q)) in nps_questions or "nps" in str(q).lower()
        for s, q in zip(answers["survey_id"], answers["question_id"], strict=True)
    ]
    answers = answers[is_nps]
    return answers if not answers.empty else None


def _questions(spec: Any) -> list[dict[str, Any]]:
    """Every question dict in a survey definition, however pages nest them."""
    found: list[dict[str, Any]] = []
    if isinstance(spec, dict):
        if "type" in spec and "id" in spec:
            found.append(spec)
        for value in spec.values():
            found.extend(_questions(value))
    elif isinstance(spec, list):
        for value in spec:
            found.extend(_questions(value))
    return found


def load_clv(store: Store) -> pd.Series | None:
    frame = store.query("SELECT customer_id, clv FROM customer_value WHERE clv IS NOT NULL")
    return None if frame.empty else frame.set_index("customer_id")["clv"].astype(float)


def save_churn_scores(store: Store, scores: pd.DataFrame, model_version: str, horizon_days: int | None) -> int:
    """Upsert churn_scores and set customer_value.churn_risk (only that column) for known customers."""
    reason_cols = [c for c in scores.columns if c.startswith("reason_") and c.count("_") == 1]

    def reasons_json(row: pd.Series) -> str:
        items = []
        for c in reason_cols:
            feature = row.get(f"{c}_feature")
            if feature is None or pd.isna(feature):
                continue  # not explained (churn-score --reasons-for)
            text = str(row[c])
            items.append(
                {"feature": feature, "value": text.split(" = ", 1)[-1], "effect": float(row.get(f"{c}_effect", np.nan))}
            )
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


# --------------------------------------------------------------------------- retail: at-risk and offers
@app.command("at-risk")
def at_risk(
    db: DbOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many customers to list.")] = 50,
    horizon: Annotated[int, typer.Option("--horizon", min=7, help="Churn = no purchase within this many days.")] = 90,
    out: Annotated[Path | None, typer.Option("--out", help="CSV for a CRM (all listed columns).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Customers ranked by value at risk (CLV × churn risk), with reasons and a suggested action."""
    store = open_store(db)
    with store:
        result = run_at_risk(store, horizon)
    listed = result.customers.head(top)
    columns = ["customer_id", "churn_risk", "clv", "clv_source", "value_at_risk", "action"]
    columns += [c for c in listed.columns if c.startswith("reason_") and not c.endswith("_feature")]
    if out is not None:
        listed[columns].to_csv(out, index=False)
    if json_out:
        emit_json({**result.evaluation, "customers": listed[columns]})
        return
    ev = result.evaluation
    console.print(
        f"Churn model (trained at {ev['trained_cutoff']}, {ev['horizon_days']}-day horizon): "
        f"CV AUC {ev['cv_auc']:.3f}. Total value at risk {ev['total_value_at_risk']:,.0f}."
    )
    from rich.table import Table

    table = Table("customer", "risk", "CLV", "value at risk", "action", "top reason")
    for row in listed.itertuples(index=False):
        table.add_row(
            str(row.customer_id),
            f"{row.churn_risk:.0%}",
            f"{row.clv:,.0f}",
            f"{row.value_at_risk:,.0f}",
            str(row.action),
            str(row.reason_1),
        )
    console.print(table)


def run_at_risk(store: Store, horizon: int = 90) -> Any:
    """Score every customer in the store and save churn_scores + customer_value.churn_risk."""
    from heedful.retain.atrisk import at_risk_customers

    result = at_risk_customers(
        load_orders(store),
        horizon_days=horizon,
        clv=load_clv(store),
        feedback=load_feedback(store),
        nps=load_nps(store),
    )
    save_churn_scores(store, result.customers, model_version=f"retail-churn:{horizon}d", horizon_days=horizon)
    return result


@app.command("offers")
def offers(
    db: DbOption = None,
    top: Annotated[int, typer.Option("--top", min=1, max=50, help="Offers per customer.")] = 5,
    method: Annotated[str, typer.Option("--method", help="svd | item-item | popularity.")] = "svd",
    customer: Annotated[list[str] | None, typer.Option("--customer", help="Only these customers.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="CSV of the offers.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Next-best offers per customer from purchase history, with why; stored in the offers table."""
    store = open_store(db)
    with store:
        table = run_offers(store, top, method, customer)
    if out is not None:
        table.to_csv(out, index=False)
    if json_out:
        emit_json({"method": method, "n_customers": int(table["customer_id"].nunique()), "offers": table.head(500)})
        return
    console.print(f"{len(table):,} offers for {table['customer_id'].nunique():,} customers ({method}).")
    for row in table.head(15).itertuples(index=False):
        console.print(f"{row.customer_id} #{row.rank}: {row.product_name} — {row.explanation}")


def run_offers(store: Store, top: int = 5, method: str = "svd", customers: list[str] | None = None) -> pd.DataFrame:
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


@app.command("evaluate-offers")
def evaluate_offers_cmd(
    file: Annotated[Path, typer.Argument(help="Order lines (canonical or Online Retail columns).")],
    holdout_start: Annotated[str, typer.Option("--holdout-start", help="First day of the holdout, YYYY-MM-DD.")],
    holdout_end: Annotated[str | None, typer.Option("--holdout-end", help="Day after the holdout.")] = None,
    k: Annotated[list[int] | None, typer.Option("--k", help="Cut-offs (repeatable; default 5 and 10).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Hit-rate@k and recall@k of each recommender and the popularity baseline on a time split."""
    from heedful.retain.offers import evaluate_offers

    try:
        start = pd.Timestamp(holdout_start)
    except ValueError as exc:
        raise InputError(f"--holdout-start {holdout_start!r} is not a date (YYYY-MM-DD).") from exc
    result = evaluate_offers(
        orders_from_file(file), start, ks=tuple(k or (5, 10)), holdout_end=holdout_end, exclude_products=NON_PRODUCTS
    )
    if json_out:
        emit_json(result)
        return
    console.print(f"{result['n_customers_evaluated']:,} customers bought new products after {result['holdout_start']}.")
    for method, metrics in result["models"].items():
        console.print(f"{method:>11}: " + ", ".join(f"{m} {v:.3f}" for m, v in metrics.items()))


# --------------------------------------------------------------------------- look-alikes and survival
@app.command("lookalike")
def lookalike(
    prospects_file: Annotated[Path, typer.Argument(help="Prospects with traits customers have (country, …).")],
    db: DbOption = None,
    id_col: Annotated[str | None, typer.Option("--id", help="Prospect id column (default: first column).")] = None,
    best_quantile: Annotated[float, typer.Option("--best-quantile", help="Top share by CLV counted as best.")] = 0.8,
    segment: Annotated[list[str] | None, typer.Option("--segment", help="Best = these segments instead.")] = None,
    out: Annotated[Path | None, typer.Option("--out")] = None,
    json_out: JsonOption = False,
) -> None:
    """Score prospects by resemblance to the best customers, with the traits that drive it."""
    from heedful.retain.lookalike import LookalikeModel, best_customers, trait_columns

    prospects = read_table(prospects_file)
    key = id_col or str(prospects.columns[0])
    store = open_store(db)
    with store:
        customers = load_customer_traits(store)
    if customers.empty:
        raise InputError("No customers with value results; run `heedful value clv` (or rfm) first.")
    best = best_customers(customers, best_quantile, segments=segment)
    traits = trait_columns(customers, prospects.drop(columns=[key]))
    model = LookalikeModel().fit(customers, best, traits)
    scores = model.score(prospects, prospects[key].astype(str).tolist())
    if out is not None:
        scores.to_csv(out, index=False)
    doc = {
        "n_prospects": len(scores),
        "n_customers": len(customers),
        "n_best": int(best.sum()),
        "traits": traits,
        "trait_importance": model.trait_importance().head(15),
        "prospects": scores.head(100),
    }
    if json_out:
        emit_json(doc)
        return
    console.print(f"Best customers: {doc['n_best']} of {doc['n_customers']}; traits compared: {', '.join(traits)}")
    for row in scores.head(15).itertuples(index=False):
        console.print(f"{row.prospect_id}: similarity {row.similarity:.2f} (×{row.lift:.1f}) — {row.driver_1}")


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


@app.command("survival")
def survival(
    file: Annotated[Path | None, typer.Argument(help="One row per customer with a duration and an event.")] = None,
    duration: Annotated[str | None, typer.Option("--duration", help="Time as a customer (e.g. tenure).")] = None,
    event: Annotated[str | None, typer.Option("--event", help="Churned yet? (Yes/No, 1/0).")] = None,
    segment: Annotated[str | None, typer.Option("--segment", help="Column to split the curves by.")] = None,
    covariates: Annotated[
        str | None, typer.Option("--covariates", help="Comma-separated columns for Cox hazard ratios.")
    ] = None,
    db: DbOption = None,
    inactive_days: Annotated[int, typer.Option("--inactive-days", help="Retail (--db): churned after this gap.")] = 90,
    json_out: JsonOption = False,
) -> None:
    """Kaplan–Meier survival by segment and Cox hazard ratios; from a file, or retail orders in the store."""
    from heedful.retain.survival import cox_hazard_ratios, kaplan_meier_by_segment, retail_durations

    if file is not None:
        if not duration or not event:
            raise InputError("With a file, pass --duration COL and --event COL.")
        frame = read_table(file)
    else:
        store = open_store(db)
        with store:
            frame = retail_durations(load_orders(store), inactive_days=inactive_days)
            segments = store.query("SELECT customer_id, segment FROM customer_value")
        frame = frame.join(segments.set_index("customer_id")["segment"]).reset_index()
        duration, event = "duration_days", "churned"
        segment = segment or ("segment" if frame["segment"].notna().any() else None)
    assert duration is not None and event is not None
    km = kaplan_meier_by_segment(frame, duration, event, segment)
    doc: dict[str, Any] = {"medians": km["medians"], "logrank_p": km["logrank_p"]}
    if covariates:
        doc["hazard_ratios"] = cox_hazard_ratios(frame, duration, event, [c.strip() for c in covariates.split(",")])
    doc["curves"] = _thin_curves(km["curves"])
    if json_out:
        emit_json(doc)
        return
    for row in km["medians"].itertuples(index=False):
        console.print(f"{row.segment}: n={row.n}, churned={row.events}, median time {row.median_time}")
    if km["logrank_p"] is not None:
        console.print(f"Log-rank test across segments: p = {km['logrank_p']:.3g}")
    if covariates:
        for row in doc["hazard_ratios"].itertuples(index=False):
            console.print(
                f"{row.covariate}: HR {row.hazard_ratio:.3g} ({row.lower:.3g}–{row.upper:.3g}), p={row.p:.3g}"
            )


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
    figures["value_at_risk"] = round(float(ev["total_value_at_risk"]), 2)
    figures["top_action"] = str(result.customers["action"].head(50).mode().iat[0]) if len(result.customers) else None
    offers_table = run_offers(store, top=5)
    figures["offers"] = len(offers_table)
    return figures
