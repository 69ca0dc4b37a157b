"""`heedful value …`: fit BTYD / spend models, CLV, RFM segments and cohorts from a file or the store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from heedful.cli.common import DbOption, EngineOption, JsonOption, emit_json, leave_quickly, open_store
from heedful.value import DEFAULT_MODEL  # a name only: the package loads its modules on first use

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from heedful.store import Store
    from heedful.value import Columns

# The value service loads pandas and SciPy (Ibis where a query is built): imported on first use, so that `value clv FILE`
# can start reading the file first (`services.value_file`) and load them while DuckDB reads.


def _service() -> ModuleType:
    from heedful.services import value

    return value


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
def load_orders(
    file: Path | None,
    db: str | None,
    customer_col: str | None,
    date_col: str | None,
    amount_col: str | None,
    date_format: str | None,
) -> tuple[ir.Table, Columns, Store | None]:
    """The orders as an Ibis table (file -> in-memory DuckDB; otherwise the store's `orders`), and the store."""
    store = open_store(db) if file is None else None
    try:
        table, cols = _service().load_orders(store, file, customer_col, date_col, amount_col, date_format)
    except BaseException:
        if store is not None:
            store.close()
        raise
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
    from heedful.cli.spark import engine_tables, spark_url_of

    spark_url_of(engine)  # an unknown engine is refused before anything is read
    table, cols, store = load_orders(file, db, customer_col, date_col, amount_col, date_format)
    try:
        with engine_tables(engine, store, {"orders": table}) as tables:
            yield tables["orders"], cols, store
    finally:
        if store is not None:
            store.close()


CurrencyOpt = Annotated[
    str | None,
    typer.Option(
        "--currency",
        help="ISO code of the amounts, e.g. USD (default: `currency` in heedful.toml or $HEEDFUL_CURRENCY, "
        "else the store's orders').",
    ),
]
#: said beside a money figure whose currency nobody gave
UNKNOWN_CURRENCY = "currency not given; pass --currency"


def _currency(store: Store | None, given: str | None = None) -> str | None:
    """The currency the money figures are in: `given` (--currency), else `services.customers.business_currency`
    (the settings', else the store's orders'); for a file, the settings' only (None where they name none)."""
    if given is not None:
        code = given.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise typer.BadParameter(f"{given!r} is not a currency code; give three letters such as USD or EUR.")
        return code
    if store is None:  # without the customers service: `value clv FILE` loads no Ibis
        from heedful.config import load_settings

        return load_settings().currency
    from heedful.services.customers import business_currency

    return business_currency(store)


@app.command("fit")
def fit_command(
    file: FileArg = None,
    db: DbOption = None,
    model: Annotated[str, typer.Option("--model", help="mbgnbd | bgnbd | pareto-nbd | gamma-gamma")] = DEFAULT_MODEL,
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
        report = _service().fit_report(table, cols, model, time_unit, calibration_end, observation_end)
    if json_out:
        emit_json(report)
        return
    from rich.table import Table

    from heedful.cli.common import console
    from heedful.services.value import MODEL_NAMES

    out = Table(
        title=f"{MODEL_NAMES.get(model, model)}: {report['n_customers']:,} customers, "
        f"log-likelihood {report['log_likelihood']:,.2f}"
    )
    for col in ("parameter", "estimate", "std. error", "95% interval"):
        out.add_column(col)
    for name, value in report["params"].items():
        lo, hi = report["ci95"][name]
        out.add_row(name, f"{value:.4g}", f"{report['stderr'][name]:.3g}", f"[{lo:.4g}, {hi:.4g}]")
    console.print(out)
    status = "converged" if report["converged"] else f"NOT converged: {report['convergence_reason']}"
    console.print(status)
    if not report.get("identified", True):
        console.print(f"[yellow]not identified: {report['identification']}[/]")
        if "fallback" in report:
            params = ", ".join(f"{k} = {v:.4g}" for k, v in report["fallback"]["params"].items())
            console.print(f"[yellow]predictions use {report['p_alive_method']}: {params}[/]")
    h = report["holdout"]
    if h.get("actual_total") is not None:
        console.print(
            f"holdout: actual {h['actual_total']:.0f}, predicted {h['predicted_total']:.1f} repeat purchases; "
            f"MAE per customer {h['mae']:.3f}"
        )
        cover = h.get("interval_coverage") or {}
        if cover.get("coverage") is not None:
            console.print(
                f"holdout: {cover['coverage']:.0%} of {cover['customers']:,} customers bought within their "
                f"{cover['level']:.0%} prediction interval ({cover['below']:.0%} fewer, {cover['above']:.0%} more)"
            )


# ---------------------------------------------------------------------- clv
@app.command("clv")
def clv_command(
    file: FileArg = None,
    db: DbOption = None,
    model: Annotated[str, typer.Option("--model", help="mbgnbd | bgnbd | pareto-nbd")] = DEFAULT_MODEL,
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
    currency: CurrencyOpt = None,
    json_out: JsonOption = False,
) -> None:
    """Expected purchases, P(alive), expected spend and discounted CLV per customer; --db stores them."""
    currency = _currency(None, currency) if currency is not None else None  # a wrong code fails before the work
    from heedful.services.value_file import clv_file_report

    done = None
    if file is not None and engine == "store":  # a file: summarised while the models load
        done = clv_file_report(
            file,
            customer_col or "customer_id",
            date_col or "ordered_at",
            amount_col or "amount",
            model_name=model,
            horizon=horizon,
            time_unit=time_unit,
            discount_rate=discount_rate,
            date_format=date_format,
            observation_end=observation_end,
        )
    if done is not None:
        report, values = done
        leave_quickly()  # nothing open: a million customers' objects need not be freed one by one at exit
    else:
        with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, store):
            service = _service()
            report, values = service.clv_report(table, cols, model, horizon, time_unit, discount_rate, observation_end)
            if store is not None:
                report["stored"] = service.store_clv(store, values, report["stored_model"], horizon)
            report["currency"] = _currency(store, currency)
    report.setdefault("currency", _currency(None, currency))
    report["customers"] = values.head(top).reset_index()
    if json_out:
        emit_json(report)
        return
    from heedful.services.value import MODEL_NAMES

    money = f" {report['currency']}" if report["currency"] else ""
    total = f"{report['total_clv']:,.0f}{money}" if money else f"{report['total_clv']:,.0f} ({UNKNOWN_CURRENCY})"
    spend = "Gamma-Gamma spend" if report["spend_model"] == "gamma-gamma" else report["spend_model"]
    from rich.table import Table

    from heedful.cli.common import console

    out = Table(title=f"CLV over {horizon} months ({MODEL_NAMES.get(model, model)} + {spend}), total {total}")
    for col in ("customer", "P(alive)", "exp. purchases", f"exp. spend{money}", f"CLV{money}"):
        out.add_column(col, justify="left" if col == "customer" else "right")
    import pandas as pd

    for row in values.head(top).itertuples():
        out.add_row(
            str(row.Index),
            "not identified" if pd.isna(row.p_alive) else f"{row.p_alive:.2f}",
            f"{row.expected_purchases:.2f}",
            f"{row.expected_spend:,.2f}",
            f"{row.clv:,.2f}",
        )
    console.print(out)
    for note in report["notes"]:
        console.print(f"[yellow]{note}[/]")


# ---------------------------------------------------------------------- rfm
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
    currency: CurrencyOpt = None,
    json_out: JsonOption = False,
) -> None:
    """RFM scores and named segments (champions, loyal, at risk, can't lose, hibernating, …) with sizes and value."""
    currency = _currency(None, currency) if currency is not None else None  # a wrong code fails before the work
    with orders_on(engine, file, db, customer_col, date_col, amount_col, date_format) as (table, cols, store):
        result = _service().rfm_report(
            table, cols, bins=bins, period=period, observation_end=observation_end, store=store
        )
        currency = _currency(store, currency)
    customers = result.customers
    if json_out:
        emit_json(
            {
                "n_customers": len(customers),
                "bins": bins,
                "period": period,
                "currency": currency,
                "segments": result.segments,
                "customers": customers.sort_values("monetary", ascending=False).head(top).reset_index(),
                "stored": result.stored,
            }
        )
        return
    from rich.table import Table

    from heedful.cli.common import console

    out = Table(title=f"RFM segments of {len(customers)} customers")
    for col in ("segment", "customers", "share", f"revenue ({currency})" if currency else "revenue", "revenue share"):
        out.add_column(col, justify="left" if col == "segment" else "right")
    for row in result.segments.itertuples():
        out.add_row(
            row.segment, str(row.customers), f"{row.share:.1%}", f"{row.revenue:,.0f}", f"{row.revenue_share:.1%}"
        )
    console.print(out)
    if not currency:
        console.print(f"Revenue: {UNKNOWN_CURRENCY}.")


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
        result = _service().cohort_report(table, cols, period)
    if json_out:
        emit_json(result.to_dict())
        return
    import pandas as pd
    from rich import box
    from rich.table import Table

    from heedful.cli.common import console

    # as many periods as the terminal shows whole (6 characters each), at most 13: a squeezed table cut
    # every cohort to "2…" and every 100% to "1…"
    fits = max(1, (console.width - 16) // 6)
    shown = result.retention.iloc[:, : min(13, fits)]
    unit = {"D": "days", "W": "weeks", "M": "months", "Q": "quarters"}.get(period.upper(), "periods")
    out = Table(
        title=f"Retention by {unit[:-1]} of first order",
        caption=f"share of each cohort ordering again, by {unit} since its first order",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        pad_edge=False,
    )
    out.add_column("cohort", no_wrap=True, min_width=8)
    out.add_column("size", justify="right", no_wrap=True, min_width=5)
    for c in shown.columns:
        out.add_column(str(c), justify="right", no_wrap=True, min_width=5)
    for cohort, row in shown.iterrows():
        cells = ["" if pd.isna(v) else f"{v:.0%}" for v in row]
        out.add_row(str(cohort), str(int(result.sizes[cohort])), *cells)
    console.print(out)
    hidden = result.retention.shape[1] - shown.shape[1]
    if hidden:
        console.print(f"{hidden} later period(s) not shown at this width: --json lists them all.")
