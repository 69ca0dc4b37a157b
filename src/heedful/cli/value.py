"""`heedful value …`: fit BTYD / spend models, CLV, RFM segments and cohorts from a file or the store."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import typer
from rich.table import Table

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.cli.spark import EngineOption, engine_tables, spark_url_of
from heedful.errors import InputError
from heedful.store import Store
from heedful.value import (
    MODELS,
    BetaGeo,
    Columns,
    GammaGamma,
    clv_table,
    cohorts,
    evaluate_holdout,
    fit_clv_models,
    repeat_transactions_by_day,
    rfm,
    rfm_from_summary,
    tracking_curve,
)
from heedful.value.btyd import TransactionModel
from heedful.value.summary import EPOCH, summarise, unit_days

app = typer.Typer(
    help="Customer value: BTYD models (BG/NBD, MBG/NBD, Pareto/NBD), Gamma-Gamma spend, CLV, RFM, cohorts."
)

FileArg = Annotated[
    Path | None,
    typer.Argument(
        help="CSV (or .csv.gz) of transactions, or the CDNOW whitespace file; omit to read the store's orders.",
        show_default=False,
    ),
]
CustomerCol = Annotated[str | None, typer.Option("--customer-col", help="Column with the customer id.")]
DateCol = Annotated[str | None, typer.Option("--date-col", help="Column with the order date/time.")]
AmountCol = Annotated[str | None, typer.Option("--amount-col", help="Column with the order value.")]
DateFormat = Annotated[
    str | None, typer.Option("--date-format", help="strptime format of the date column, e.g. %Y%m%d.")
]
TimeUnit = Annotated[str, typer.Option("--time-unit", help="Time unit of the model: D, W or M.")]
CalibrationEnd = Annotated[
    str | None, typer.Option("--calibration-end", help="Last day of the calibration period (YYYY-MM-DD).")
]
ObservationEnd = Annotated[
    str | None, typer.Option("--observation-end", help="Last day of data used (YYYY-MM-DD); default: last order.")
]


# ---------------------------------------------------------------------- input
def _read_file(path: Path) -> tuple[pd.DataFrame, Columns]:
    """Transactions from a file, with the columns it uses (CDNOW and Online Retail layouts are recognised)."""
    existing_file(path)
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    fields = first.split()
    if len(fields) in (4, 5) and all(f.replace(".", "").isdigit() for f in fields):
        # CDNOW (Fader & Hardie): [master id] customer id, YYYYMMDD, number of CDs, dollar value; no header
        names = ["customer_id", "date", "cds", "amount"]
        if len(fields) == 5:
            names = ["master_id", *names]
        frame = pd.read_csv(path, sep=r"\s+", header=None, names=names, dtype={"customer_id": str, "date": str})
        return frame, Columns("customer_id", "date", "amount", None, "%Y%m%d")
    if first.lower().startswith("customer_id") and "date" in first and "dollar_value" in first:
        frame = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
        return frame, Columns("customer_id", "date", "dollar_value", None, "%Y%m%d")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"Cannot read {path} as CSV: {exc}") from exc
    if {"InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate"} <= set(frame.columns):
        # UCI Online Retail: line value = quantity × price, invoices starting with C are cancellations
        frame["amount"] = pd.to_numeric(frame["Quantity"]) * pd.to_numeric(frame["UnitPrice"])
        frame["is_return"] = frame["InvoiceNo"].str.startswith("C")
        return frame, Columns("CustomerID", "InvoiceDate", "amount", "is_return")
    return frame, Columns()


def load_orders(
    file: Path | None,
    db: str | None,
    customer_col: str | None,
    date_col: str | None,
    amount_col: str | None,
    date_format: str | None,
) -> tuple[ir.Table, Columns, Store | None]:
    """The orders as an Ibis table (file -> in-memory DuckDB; otherwise the store's `orders`)."""
    if file is not None:
        frame, cols = _read_file(file)
        table: ir.Table = ibis.memtable(frame)
        store = None
    else:
        store = open_store(db)
        table, cols = store.table("orders"), Columns()
    cols = Columns(
        customer_col or cols.customer,
        date_col or cols.date,
        amount_col or cols.amount,
        cols.is_return,
        date_format or cols.date_format,
    )
    if file is not None and cols.amount and cols.amount in table.columns and table[cols.amount].type().is_string():
        table = table.mutate(**{cols.amount: table[cols.amount].cast("float64")})
    return table, cols, store


@contextmanager
def orders_on(
    engine: str,
    file: Path | None,
    db: str | None,
    customer_col: str | None,
    date_col: str | None,
    amount_col: str | None,
    date_format: str | None,
) -> Iterator[tuple[ir.Table, Columns, Store | None]]:
    """`load_orders`, with the orders on the engine `--engine` names (see `engine_tables`); closes the store."""
    spark_url_of(engine)  # an unknown engine is refused before anything is read
    table, cols, store = load_orders(file, db, customer_col, date_col, amount_col, date_format)
    try:
        with engine_tables(engine, store, {"orders": table}) as tables:
            yield tables["orders"], cols, store
    finally:
        if store is not None:
            store.close()


def _summary(
    table: ir.Table,
    cols: Columns,
    time_unit: str,
    calibration_end: str | None,
    observation_end: str | None,
    *,
    net_spend: bool = False,
) -> pd.DataFrame:
    summary = summarise(
        table,
        cols,
        time_unit=time_unit,
        calibration_end=calibration_end,
        observation_end=observation_end,
        net_spend=net_spend,
    )
    if summary.empty:
        raise InputError("No customers with purchases in the calibration period.")
    return summary


def _model(name: str) -> type:
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"Unknown model {name!r}; use one of {', '.join(MODELS)}.") from None


# ---------------------------------------------------------------------- fit
def fit_report(
    table: ir.Table,
    cols: Columns,
    model_name: str,
    time_unit: str = "W",
    calibration_end: str | None = None,
    observation_end: str | None = None,
) -> dict[str, Any]:
    """Fit one model and, with a calibration end, evaluate it on the holdout period."""
    summary = _summary(table, cols, time_unit, calibration_end, observation_end)
    model = _model(model_name)().fit(summary)
    fitted = model.to_dict()
    holdout: dict[str, Any] = {}
    if calibration_end is not None:
        tracking = None
        if isinstance(model, TransactionModel):
            repeats, births = repeat_transactions_by_day(table, cols=cols, observation_end=observation_end)
            births = births[births["day"].isin(summary["first_purchase"].map(lambda d: (d.date() - EPOCH).days))]
            tracking = tracking_curve(
                model,
                repeats,
                births,
                time_unit_days=unit_days(time_unit),
                calibration_end_day=(pd.Timestamp(calibration_end).date() - EPOCH).days,
                end_day=_obs_day(summary, calibration_end, time_unit),
            )
        holdout = evaluate_holdout(model, summary, tracking)
        holdout["calibration_end"] = calibration_end
    return {
        "model": model_name,
        "n_customers": fitted["n_customers"],
        "params": fitted["params"],
        "stderr": fitted["stderr"],
        "ci95": fitted["ci95"],
        "log_likelihood": fitted["log_likelihood"],
        "converged": fitted["converged"],
        "convergence_reason": fitted["convergence_reason"],
        "holdout": holdout,
    }


def _obs_day(summary: pd.DataFrame, calibration_end: str, time_unit: str) -> int:
    cal = (pd.Timestamp(calibration_end).date() - EPOCH).days
    return round(cal + float(summary["duration_holdout"].iloc[0]) * unit_days(time_unit))


@app.command("fit")
def fit_command(
    file: FileArg = None,
    db: DbOption = None,
    model: Annotated[str, typer.Option("--model", help="bgnbd | mbgnbd | pareto-nbd | gamma-gamma")] = "bgnbd",
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    date_format: DateFormat = None,
    time_unit: TimeUnit = "W",
    calibration_end: CalibrationEnd = None,
    observation_end: ObservationEnd = None,
    engine: EngineOption = "store",
    json_out: JsonOption = False,
) -> None:
    """Fit a BTYD or spend model; with --calibration-end also compare predictions with the holdout period."""
    with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, _):
        report = fit_report(table, cols, model, time_unit, calibration_end, observation_end)
    if json_out:
        emit_json(report)
        return
    out = Table(title=f"{model}: {report['n_customers']} customers, log-likelihood {report['log_likelihood']:.2f}")
    for col in ("parameter", "estimate", "std. error", "95% interval"):
        out.add_column(col)
    for name, value in report["params"].items():
        lo, hi = report["ci95"][name]
        out.add_row(name, f"{value:.4g}", f"{report['stderr'][name]:.3g}", f"[{lo:.4g}, {hi:.4g}]")
    console.print(out)
    status = "converged" if report["converged"] else f"NOT converged: {report['convergence_reason']}"
    console.print(status)
    h = report["holdout"]
    if h.get("actual_total") is not None:
        console.print(
            f"holdout: actual {h['actual_total']:.0f}, predicted {h['predicted_total']:.1f} repeat purchases; "
            f"MAE per customer {h['mae']:.3f}"
        )


# ---------------------------------------------------------------------- clv
def clv_report(
    table: ir.Table,
    cols: Columns,
    model_name: str = "bgnbd",
    horizon: int = 12,
    time_unit: str = "W",
    discount_rate: float = 0.01,
    observation_end: str | None = None,
    summary: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """CLV per customer from a transaction model + Gamma-Gamma spend (own mean spend if that fails).

    `summary`: the transaction summary of `table` in `time_unit`, where the caller already has it.
    """
    if model_name == "gamma-gamma":
        raise InputError("CLV needs a transaction model: --model bgnbd, mbgnbd or pareto-nbd.")
    if summary is None:
        summary = _summary(table, cols, time_unit, None, observation_end)
    wants_spend = (summary["frequency"] > 0).sum() >= 10
    transactions, spend = fit_clv_models(summary, _model(model_name)(), GammaGamma() if wants_spend else None)
    notes: list[str] = []
    if not transactions.converged_:
        notes.append(f"{model_name} did not converge: {transactions.convergence_reason_}")
    if spend is not None and (not spend.converged_ or spend.params_["q"] <= 1):
        notes.append(f"gamma-gamma not used: {spend.convergence_reason_ if not spend.converged_ else 'q <= 1'}")
        spend = None
    values = clv_table(
        transactions, spend, summary, horizon_months=horizon, discount_rate=discount_rate, time_unit=time_unit
    )
    report = {
        "model": model_name,
        "spend_model": "gamma-gamma" if spend is not None else "mean repeat spend",
        "params": transactions.to_dict()["params"],
        "spend_params": spend.to_dict()["params"] if spend is not None else None,
        "converged": bool(transactions.converged_),
        "notes": notes,
        "horizon_months": horizon,
        "time_unit": time_unit,
        "discount_rate": discount_rate,
        "n_customers": len(values),
        "total_clv": float(values["clv"].sum()),
        "total_expected_purchases": float(values["expected_purchases"].sum()),
    }
    return report, values


def store_clv(store: Store, values: pd.DataFrame, model_name: str) -> int:
    rows = values.reset_index()[
        [
            "customer_id",
            "frequency",
            "recency",
            "T",
            "monetary_value",
            "p_alive",
            "expected_purchases",
            "expected_spend",
            "clv",
        ]
    ].copy()
    rows["model"] = model_name
    rows["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return store.upsert("customer_value", rows)


@app.command("clv")
def clv_command(
    file: FileArg = None,
    db: DbOption = None,
    model: Annotated[str, typer.Option("--model", help="bgnbd | mbgnbd | pareto-nbd")] = "bgnbd",
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    date_format: DateFormat = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Months ahead.")] = 12,
    time_unit: TimeUnit = "W",
    discount_rate: Annotated[float, typer.Option("--discount-rate", help="Monthly discount rate.")] = 0.01,
    observation_end: ObservationEnd = None,
    top: Annotated[int, typer.Option("--top", help="Customers listed (highest CLV first).")] = 50,
    engine: EngineOption = "store",
    json_out: JsonOption = False,
) -> None:
    """Expected purchases, P(alive), expected spend and discounted CLV per customer; --db stores them."""
    with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, store):
        report, values = clv_report(table, cols, model, horizon, time_unit, discount_rate, observation_end)
        if store is not None:
            report["stored"] = store_clv(store, values, model)
    report["customers"] = values.head(top).reset_index()
    if json_out:
        emit_json(report)
        return
    out = Table(
        title=f"CLV over {horizon} months ({model} + {report['spend_model']}), total {report['total_clv']:,.0f}"
    )
    for col in ("customer", "P(alive)", "exp. purchases", "exp. spend", "CLV"):
        out.add_column(col)
    for row in values.head(top).itertuples():
        out.add_row(
            str(row.Index),
            f"{row.p_alive:.2f}",
            f"{row.expected_purchases:.2f}",
            f"{row.expected_spend:.2f}",
            f"{row.clv:,.2f}",
        )
    console.print(out)
    for note in report["notes"]:
        console.print(f"[yellow]{note}[/]")


# ---------------------------------------------------------------------- rfm
def store_rfm(store: Store, customers: pd.DataFrame) -> int:
    """Write scores and segments; rows without model results get model 'rfm' (CLV columns are kept)."""
    rows = customers.reset_index()[["customer_id", "rfm_score", "segment"]].copy()
    known = store.query("SELECT customer_id, model FROM customer_value")
    rows = rows.merge(known, on="customer_id", how="left")
    rows["model"] = rows["model"].fillna("rfm")
    rows["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return store.upsert("customer_value", rows)


@app.command("rfm")
def rfm_command(
    file: FileArg = None,
    db: DbOption = None,
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    date_format: DateFormat = None,
    bins: Annotated[int, typer.Option("--bins", help="Score levels (5 = quintiles).")] = 5,
    period: Annotated[str, typer.Option("--period", help="Unit of the recency shown: D, W or M.")] = "D",
    observation_end: ObservationEnd = None,
    top: Annotated[int, typer.Option("--top", help="Customers listed (highest spend first).")] = 50,
    engine: EngineOption = "store",
    json_out: JsonOption = False,
) -> None:
    """RFM scores and named segments (champions, loyal, at risk, can't lose, hibernating, …) with sizes and value."""
    with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, store):
        result = rfm(table, bins=bins, cols=cols, observation_end=observation_end)
        customers = result.customers.copy()
        customers["recency"] = customers["recency_days"] / unit_days(period)
        stored = store_rfm(store, result.customers) if store is not None else None
    if json_out:
        emit_json(
            {
                "n_customers": len(customers),
                "bins": bins,
                "period": period,
                "segments": result.segments,
                "customers": customers.sort_values("monetary", ascending=False).head(top).reset_index(),
                "stored": stored,
            }
        )
        return
    out = Table(title=f"RFM segments of {len(customers)} customers")
    for col in ("segment", "customers", "share", "revenue", "revenue share"):
        out.add_column(col)
    for row in result.segments.itertuples():
        out.add_row(
            row.segment, str(row.customers), f"{row.share:.1%}", f"{row.revenue:,.0f}", f"{row.revenue_share:.1%}"
        )
    console.print(out)


# ---------------------------------------------------------------------- cohorts
@app.command("cohorts")
def cohorts_command(
    file: FileArg = None,
    db: DbOption = None,
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    date_format: DateFormat = None,
    period: Annotated[str, typer.Option("--period", help="Cohort period: D, W, M or Q.")] = "M",
    engine: EngineOption = "store",
    json_out: JsonOption = False,
) -> None:
    """Retention and revenue by acquisition cohort and periods since acquisition."""
    with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, _):
        result = cohorts(table, period=period, cols=cols)
    if json_out:
        emit_json(result.to_dict())
        return
    shown = result.retention.iloc[:, :13]
    out = Table(title=f"Retention by {period} cohort")
    out.add_column("cohort")
    out.add_column("customers")
    for c in shown.columns:
        out.add_column(str(c))
    for cohort, row in shown.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.0%}" for v in row]
        out.add_row(str(cohort), str(int(result.sizes[cohort])), *cells)
    console.print(out)


# ---------------------------------------------------------------------- demo
def demo_step(store: Store) -> dict[str, object]:
    """Value analyses on the orders in the store: BG/NBD + Gamma-Gamma CLV and RFM, written to customer_value."""
    if "orders" not in store.list_tables() or store.count("orders") == 0:
        return {"skipped": "no orders in the store"}
    table, cols = store.table("orders"), Columns()
    summary = _summary(table, cols, "W", None, None, net_spend=True)  # one pass serves CLV and RFM
    report, values = clv_report(table, cols, "bgnbd", horizon=12, time_unit="W", discount_rate=0.01, summary=summary)
    store_clv(store, values, "bgnbd")
    segments = rfm_from_summary(summary, time_unit="W")
    store_rfm(store, segments.customers)
    sizes = segments.segments.set_index("segment")["customers"]
    return {
        "customers_valued": report["n_customers"],
        "bgnbd_converged": report["converged"],
        "notes": report["notes"],
        "total_clv_12m": round(report["total_clv"], 2),
        "champions": int(sizes.get("champions", 0)),
        "at_risk": int(sizes.get("at risk", 0)),
        "cant_lose": int(sizes.get("can't lose", 0)),
    }


__all__ = ["BetaGeo", "app", "clv_report", "demo_step", "fit_report"]
