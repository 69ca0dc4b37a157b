"""`heedful retain …`: churn risk with reasons, value at risk, next-best offers, look-alikes, survival."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.errors import InputError
from heedful.exports import frame_to_csv

app = typer.Typer(
    help="Keep and grow customers: churn risk with reasons, value at risk, next-best offers, look-alikes.",
    no_args_is_help=True,
)


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
    from heedful.services import retain as service

    if leakage not in ("refuse", "drop", "flag"):
        raise InputError("--leakage must be refuse, drop or flag.")
    if calibration not in ("isotonic", "platt", "none"):
        raise InputError("--calibration must be isotonic, platt or none.")
    report = service.train_churn(
        file,
        target,
        id_col,
        time_col=time_col,
        positive=positive,
        drop=drop,
        folds=folds,
        leakage=leakage,
        calibration=calibration,
        rounds=rounds,
        bootstrap=bootstrap,
        model_out=model_out,
    )
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
    from heedful.services import retain as service

    scores = service.score_churn(model_path, file, id_col, reasons=reasons, reasons_for=reasons_for)
    if out is not None:
        frame_to_csv(scores, out)
    if db is not None:
        with open_store(db) as store:
            service.save_churn_scores(store, scores, model_version=f"churn:{model_path.name}", horizon_days=None)
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
    from heedful.services import retain as service

    store = open_store(db)
    with store:
        result = service.run_at_risk(store, horizon)
        figure = service.value_at_risk(store)  # the one value at risk the page, API and report show
    listed = service.at_risk_listing(result.customers, top)
    if out is not None:
        frame_to_csv(listed, out)
    if json_out:
        emit_json(
            {**result.evaluation, "total_value_at_risk": figure["total"], "value_at_risk": figure, "customers": listed}
        )
        return
    ev = result.evaluation
    money = f"{figure['total']:,.2f} {figure['currency'] or ''}".strip()
    console.print(
        f"Churn model (trained at {ev['trained_cutoff']}, {ev['horizon_days']}-day horizon): "
        f"CV AUC {ev['cv_auc']:.3f}. Value at risk {money} (CLV over {figure['horizon_months']} months × churn risk)."
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
    from heedful.services import retain as service

    store = open_store(db)
    with store:
        table = service.run_offers(store, top, method, customer)
    if out is not None:
        frame_to_csv(table, out)
    if json_out:
        emit_json({"method": method, "n_customers": int(table["customer_id"].nunique()), "offers": table.head(500)})
        return
    console.print(
        f"{len(table):,} offers for {table['customer_id'].nunique():,} customers, "
        f"chosen from {service.offer_method_in_words(method)}."
    )
    for row in table.head(15).itertuples(index=False):
        console.print(f"{row.customer_id} #{row.rank}: {row.product_name} — {row.explanation}")


@app.command("evaluate-offers")
def evaluate_offers_cmd(
    file: Annotated[Path, typer.Argument(help="Order lines (canonical or Online Retail columns).")],
    holdout_start: Annotated[str, typer.Option("--holdout-start", help="First day of the holdout, YYYY-MM-DD.")],
    holdout_end: Annotated[str | None, typer.Option("--holdout-end", help="Day after the holdout.")] = None,
    k: Annotated[list[int] | None, typer.Option("--k", help="Cut-offs (repeatable; default 5 and 10).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Hit-rate@k and recall@k of each recommender and the popularity baseline on a time split."""
    from heedful.services import retain as service

    try:
        start = pd.Timestamp(holdout_start)
    except ValueError as exc:
        raise InputError(f"--holdout-start {holdout_start!r} is not a date (YYYY-MM-DD).") from exc
    result = service.evaluate_offers(file, start, ks=tuple(k or (5, 10)), holdout_end=holdout_end)
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
    from heedful.services import retain as service

    existing_file(prospects_file)  # before the store is opened (and perhaps created)
    with open_store(db) as store:
        result = service.lookalikes(store, prospects_file, id_col, best_quantile=best_quantile, segments=segment)
    scores = result.scores
    if out is not None:
        frame_to_csv(scores, out)
    doc = {
        "n_prospects": len(scores),
        "n_customers": result.n_customers,
        "n_best": result.n_best,
        "traits": result.traits,
        "trait_importance": result.trait_importance.head(15),
        "prospects": scores.head(100),
    }
    if json_out:
        emit_json(doc)
        return
    console.print(
        f"Best customers: {doc['n_best']} of {doc['n_customers']}; traits compared: {', '.join(result.traits)}"
    )
    for row in scores.head(15).itertuples(index=False):
        console.print(f"{row.prospect_id}: similarity {row.similarity:.2f} (×{row.lift:.1f}) — {row.driver_1}")


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
    from heedful.services import retain as service

    columns = [c.strip() for c in covariates.split(",")] if covariates else None
    if file is not None:
        doc = service.survival(path=file, duration=duration, event=event, segment=segment, covariates=columns)
    else:
        with open_store(db) as store:
            doc = service.survival(store=store, segment=segment, covariates=columns, inactive_days=inactive_days)
    if json_out:
        emit_json(doc)
        return
    for row in doc["medians"].itertuples(index=False):
        console.print(f"{row.segment}: n={row.n}, churned={row.events}, median time {row.median_time}")
    if doc["logrank_p"] is not None:
        console.print(f"Log-rank test across segments: p = {doc['logrank_p']:.3g}")
    if covariates:
        for row in doc["hazard_ratios"].itertuples(index=False):
            console.print(
                f"{row.covariate}: HR {row.hazard_ratio:.3g} ({row.lower:.3g}–{row.upper:.3g}), p={row.p:.3g}"
            )
