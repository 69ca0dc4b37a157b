"""Customer value use cases: orders in, BTYD / spend fits, CLV, RFM segments and cohorts out (and into the store)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from heedful.errors import InputError
from heedful.ingest.sources import WHITESPACE, existing_file, read_frame, read_table
from heedful.services.value_file import ONLINE_RETAIL, cdnow_layout, columns_to_read, first_line, whitespace_layout
from heedful.value import (
    DEFAULT_HORIZON_MONTHS,
    DEFAULT_MODEL,
    MODELS,
    GammaGamma,
    clv_table,
    evaluate_holdout,
    fit_clv_models,
    tracking_curve,
)
from heedful.value.btyd import TransactionModel, fit_identified
from heedful.value.columns import EPOCH, Columns, unit_days

if TYPE_CHECKING:  # Ibis loads where a query is built: `value clv FILE` fits a DuckDB SQL summary without it
    import ibis.expr.types as ir

    from heedful.store import Store
    from heedful.value import CohortResult

CLV_COLUMNS = [
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


# ---------------------------------------------------------------------- input
def read_orders_table(path: Path, cols: Columns | None = None) -> tuple[ir.Table, Columns]:
    """Transactions from a file as an Ibis table, with the columns it uses.

    A plain file (CSV of any delimiter and encoding, .gz, Parquet, JSON Lines, Excel) is read by the
    importer's reader straight into an in-memory DuckDB table, where the summary then runs: the same text
    values as `read_orders_file`, without a DataFrame of Python strings in between (1M customers, 10M
    lines: seconds instead of a minute). The CDNOW and Online Retail layouts go through `read_orders_file`.
    `cols` (default `Columns()`): its date and amount columns are cast while reading, as the summary would
    (`order_lines`), once instead of in each of its queries; a date with its own format stays text. Only the
    columns `cols` names are read (all of them where one is missing, so the error lists the file's columns).
    """
    import ibis

    existing_file(path)
    if not whitespace_layout(first_line(path)):
        use = cols or Columns()
        types = {use.date: "TIMESTAMP"} if use.date and not use.date_format else {}
        if use.amount:
            types[use.amount] = "DOUBLE"
        con = ibis.duckdb.connect()
        if read_table(con.con, path, "orders", choose=lambda columns: _columns_to_read(columns, use), types=types):
            return con.table("orders"), use
        con.disconnect()
    frame, cols = read_orders_file(path)
    return ibis.memtable(frame), cols


def _columns_to_read(columns: list[str], use: Columns) -> list[str] | None:
    """The file's columns the analyses use (`value_file.columns_to_read`)."""
    return columns_to_read(columns, use.customer, use.date, use.amount, use.is_return)


def read_orders_file(path: Path) -> tuple[pd.DataFrame, Columns]:
    """Transactions from a file, with the columns it uses (CDNOW and Online Retail layouts are recognised)."""
    existing_file(path)
    first = first_line(path)
    layout = cdnow_layout(first)
    # The CDNOW files (Fader & Hardie) separate columns by runs of spaces and indent the first one.
    if layout == "plain":
        # [master id] customer id, YYYYMMDD, number of CDs, dollar value; no header
        names = ["customer_id", "date", "cds", "amount"]
        if len(first.split()) == 5:
            names = ["master_id", *names]
        frame = read_frame(path, delimiter=WHITESPACE, names=names)
        frame[["cds", "amount"]] = frame[["cds", "amount"]].astype(float)
        return frame, Columns("customer_id", "date", "amount", None, "%Y%m%d")
    if layout == "header":
        frame = read_frame(path, delimiter=WHITESPACE)
        frame["dollar_value"] = frame["dollar_value"].astype(float)
        return frame, Columns("customer_id", "date", "dollar_value", None, "%Y%m%d")
    frame = read_frame(path)
    if set(frame.columns) >= ONLINE_RETAIL:
        # UCI Online Retail: line value = quantity × price, invoices starting with C are cancellations
        frame["amount"] = pd.to_numeric(frame["Quantity"]) * pd.to_numeric(frame["UnitPrice"])
        frame["is_return"] = frame["InvoiceNo"].astype(str).str.startswith("C")
        return frame, Columns("CustomerID", "InvoiceDate", "amount", "is_return")
    return frame, Columns()


def load_orders(
    store: Store | None,
    file: Path | None = None,
    customer_col: str | None = None,
    date_col: str | None = None,
    amount_col: str | None = None,
    date_format: str | None = None,
) -> tuple[ir.Table, Columns]:
    """The orders as an Ibis table with the columns to use: `file` (in-memory DuckDB), else the store's `orders`."""
    if file is not None:
        wanted = Columns(customer_col or "customer_id", date_col or "ordered_at", amount_col or "amount")
        table, cols = read_orders_table(file, replace(wanted, date_format=date_format))
    elif store is not None:
        table, cols = store.table("orders"), Columns()
    else:
        raise InputError("No orders: give a file or a store.")
    cols = Columns(
        customer_col or cols.customer,
        date_col or cols.date,
        amount_col or cols.amount,
        cols.is_return,
        date_format or cols.date_format,
    )
    if file is not None and cols.amount and cols.amount in table.columns and table[cols.amount].type().is_string():
        table = table.mutate(**{cols.amount: table[cols.amount].cast("float64")})
    return table, cols


def summary_of(
    table: ir.Table,
    cols: Columns,
    time_unit: str = "W",
    calibration_end: str | None = None,
    observation_end: str | None = None,
    *,
    net_spend: bool = False,
) -> pd.DataFrame:
    """The per-customer transaction summary the models fit; InputError when no customer bought anything."""
    from heedful.value.summary import summarise

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


def model_class(name: str) -> type:
    """The model class called `name` (bgnbd, mbgnbd, pareto-nbd, gamma-gamma)."""
    try:
        return MODELS[name]
    except KeyError:
        raise InputError(f"Unknown model {name!r}; use one of {', '.join(MODELS)}.") from None


# ---------------------------------------------------------------------- fit


@dataclass
class TransactionFit:
    """The transaction model whose predictions heedful shows, and why that one.

    `mle` is the maximum-likelihood fit. When it is not identified (a parameter at the edge of the
    space, a flat likelihood, an interval spanning orders of magnitude), its P(alive) is the optimizer's
    artefact — typically 100% for everyone — so the model is refitted by MAP with weakly informative
    priors on the drop-out parameters (`value.btyd.fit_identified`), and that fit's predictions are used.
    """

    mle: TransactionModel
    used: TransactionModel
    p_alive_method: str  # "maximum likelihood" | "MAP with weakly informative priors" | "none"

    @property
    def identified(self) -> bool:
        return bool(self.mle.identified_)

    def info(self) -> dict[str, Any]:
        """The JSON fields every value command reports about identification."""
        out: dict[str, Any] = {
            "identified": self.identified,
            "identification": self.mle.identification_,
            "p_alive_method": self.p_alive_method,
        }
        if not self.identified:
            # plain words first (who reads this runs a shop), the statistician's reason after
            out["p_alive_note"] = (
                "The data alone do not pin down when customers stop buying, "
                + (
                    "so P(alive) and CLV come from the same model estimated with weakly informative priors on drop-out"
                    if self.p_alive_method != "none"
                    else "and with weakly informative priors the model did not settle either, so no P(alive) is given"
                )
                + f" (in detail: {self.mle.identification_})."
            )
        return out


MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "pareto-nbd": "Pareto/NBD", "gamma-gamma": "Gamma-Gamma"}


def stored_model_name(model_name: str, fit: TransactionFit) -> str:
    """The `customer_value.model` of CLV rows: the model, with "-map" where its priors had to step in."""
    return model_name if fit.p_alive_method == "maximum likelihood" else f"{model_name}-map"


def describe_model(stored: str) -> str:
    """A stored model name (`customer_value.model`) in words, for pages and reports."""
    base = stored.removesuffix("-map")
    if base == "rfm":
        return "RFM scores only (no CLV model)"
    words = f"{MODEL_NAMES.get(base, base)} repeat-buying model"
    if stored.endswith("-map"):
        words += ", estimated with weakly informative priors: the data alone do not pin down when customers leave"
    return words


def fit_transactions(model_name: str, summary: pd.DataFrame) -> TransactionFit:
    """Fit `model_name` by maximum likelihood; where that is not identified, by MAP (see `TransactionFit`)."""
    cls = model_class(model_name)
    if not issubclass(cls, TransactionModel):
        raise InputError(f"{model_name} is not a transaction model: use bgnbd, mbgnbd or pareto-nbd.")
    mle, regularised = fit_identified(cls, summary)
    if regularised is mle:
        return TransactionFit(mle, mle, "maximum likelihood")
    if regularised.converged_:
        return TransactionFit(mle, regularised, "MAP with weakly informative priors")
    return TransactionFit(mle, regularised, "none")


def fit_report(
    table: ir.Table,
    cols: Columns,
    model_name: str,
    time_unit: str = "W",
    calibration_end: str | None = None,
    observation_end: str | None = None,
) -> dict[str, Any]:
    """Fit one model and, with a calibration end, evaluate it on the holdout period."""
    summary = summary_of(table, cols, time_unit, calibration_end, observation_end)
    identification: dict[str, Any] = {}
    if issubclass(model_class(model_name), TransactionModel):
        fit = fit_transactions(model_name, summary)
        model: Any = fit.mle
        identification = fit.info()
        if fit.used is not fit.mle:
            identification["fallback"] = {
                k: v for k, v in fit.used.to_dict().items() if k in ("params", "stderr", "ci95", "estimation")
            }
        predictor: Any = fit.used  # the holdout judges the predictions heedful shows
    else:
        model = predictor = model_class(model_name)().fit(summary)
        identification = {"identified": bool(model.identified_), "identification": model.identification_}
    fitted = model.to_dict()
    holdout: dict[str, Any] = {}
    if calibration_end is not None:
        tracking = None
        if isinstance(model, TransactionModel):
            from heedful.value import repeat_transactions_by_day

            repeats, births = repeat_transactions_by_day(table, cols=cols, observation_end=observation_end)
            births = births[births["day"].isin(summary["first_purchase"].map(lambda d: (d.date() - EPOCH).days))]
            tracking = tracking_curve(
                predictor,
                repeats,
                births,
                time_unit_days=unit_days(time_unit),
                calibration_end_day=(pd.Timestamp(calibration_end).date() - EPOCH).days,
                end_day=_obs_day(summary, calibration_end, time_unit),
            )
        holdout = evaluate_holdout(predictor, summary, tracking)
        holdout["calibration_end"] = calibration_end
        holdout["predictions_from"] = getattr(predictor, "estimation_", "maximum likelihood")
    return {
        "model": model_name,
        "n_customers": fitted["n_customers"],
        "params": fitted["params"],
        "stderr": fitted["stderr"],
        "ci95": fitted["ci95"],
        "log_likelihood": fitted["log_likelihood"],
        "converged": fitted["converged"],
        "convergence_reason": fitted["convergence_reason"],
        **identification,
        "holdout": holdout,
    }


def _obs_day(summary: pd.DataFrame, calibration_end: str, time_unit: str) -> int:
    cal = (pd.Timestamp(calibration_end).date() - EPOCH).days
    return round(cal + float(summary["duration_holdout"].iloc[0]) * unit_days(time_unit))


def default_calibration_end(store: Store) -> str:
    """Three quarters of the way through the stored order history (the last quarter is the holdout); "" if none."""
    low, high = store.fetchall("SELECT MIN(ordered_at), MAX(ordered_at) FROM orders")[0]
    if low is None:
        return ""
    start, end = pd.Timestamp(low), pd.Timestamp(high)
    return str((start + (end - start) * 0.75).date())


# ---------------------------------------------------------------------- clv
def clv_report(
    table: ir.Table | None,
    cols: Columns,
    model_name: str = DEFAULT_MODEL,
    horizon: int = 12,
    time_unit: str = "W",
    discount_rate: float = 0.01,
    observation_end: str | None = None,
    summary: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """CLV per customer from a transaction model + Gamma-Gamma spend (own mean spend if that fails).

    `summary`: the transaction summary of `table` in `time_unit`, where the caller already has it (then
    `table` may be None).
    """
    if model_name == "gamma-gamma":
        raise InputError("CLV needs a transaction model: --model bgnbd, mbgnbd or pareto-nbd.")
    if summary is None:
        if table is None:
            raise InputError("No orders: give a table or its summary.")
        summary = summary_of(table, cols, time_unit, None, observation_end)
    wants_spend = (summary["frequency"] > 0).sum() >= 10
    fit, spend = fit_clv_models(
        summary, lambda s: fit_transactions(model_name, s), GammaGamma() if wants_spend else None
    )
    transactions = fit.used
    notes: list[str] = []
    if not fit.identified:
        notes.append(fit.info()["p_alive_note"])
    if spend is not None and (not spend.converged_ or spend.params_["q"] <= 1):
        notes.append(f"gamma-gamma not used: {spend.convergence_reason_ if not spend.converged_ else 'q <= 1'}")
        spend = None
    values = clv_table(
        transactions, spend, summary, horizon_months=horizon, discount_rate=discount_rate, time_unit=time_unit
    )
    if fit.p_alive_method == "none":
        values["p_alive"] = float("nan")
    report = {
        "model": model_name,
        "stored_model": stored_model_name(model_name, fit),
        **fit.info(),
        "spend_model": "gamma-gamma" if spend is not None else "mean repeat spend",
        "params": transactions.to_dict()["params"],
        "spend_params": spend.to_dict()["params"] if spend is not None else None,
        "converged": bool(fit.mle.converged_),
        "notes": notes,
        "horizon_months": horizon,
        "time_unit": time_unit,
        "discount_rate": discount_rate,
        "n_customers": len(values),
        "total_clv": float(values["clv"].sum()),
        "total_expected_purchases": float(values["expected_purchases"].sum()),
    }
    return report, values


def store_clv(store: Store, values: pd.DataFrame, model_name: str, horizon_months: int = DEFAULT_HORIZON_MONTHS) -> int:
    """Upsert the CLV figures of `clv_report` (over `horizon_months`) into customer_value; returns the rows written."""
    rows = values.reset_index()[CLV_COLUMNS].copy()
    rows["model"] = model_name
    rows["horizon_months"] = int(horizon_months)
    rows["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return store.upsert("customer_value", rows)


# ---------------------------------------------------------------------- rfm
@dataclass
class RfmReport:
    """RFM segments (sizes, value) and customers with scores; `recency` in the requested period."""

    segments: pd.DataFrame
    customers: pd.DataFrame
    stored: int | None


def store_rfm(store: Store, customers: pd.DataFrame) -> int:
    """Write scores and segments; rows without model results get model 'rfm' (CLV columns are kept)."""
    rows = customers.reset_index()[["customer_id", "rfm_score", "segment"]].copy()
    known = store.query("SELECT customer_id, model FROM customer_value")
    rows = rows.merge(known, on="customer_id", how="left")
    rows["model"] = rows["model"].fillna("rfm")
    rows["computed_at"] = datetime.now(UTC).replace(tzinfo=None)
    return store.upsert("customer_value", rows)


def rfm_report(
    table: ir.Table,
    cols: Columns,
    *,
    bins: int = 5,
    period: str = "D",
    observation_end: str | None = None,
    store: Store | None = None,
) -> RfmReport:
    """RFM scores and named segments; with `store`, also written to customer_value."""
    from heedful.value import rfm

    result = rfm(table, bins=bins, cols=cols, observation_end=observation_end)
    customers = result.customers.copy()
    customers["recency"] = customers["recency_days"] / unit_days(period)
    stored = store_rfm(store, result.customers) if store is not None else None
    return RfmReport(result.segments, customers, stored)


# ---------------------------------------------------------------------- cohorts
def cohort_report(table: ir.Table, cols: Columns, period: str = "M") -> CohortResult:
    """Retention and revenue by acquisition cohort and periods since acquisition."""
    from heedful.value import cohorts

    return cohorts(table, period=period, cols=cols)


def cohort_retention(store: Store, last: int = 24) -> pd.DataFrame:
    """Share of each monthly first-order cohort buying k months later (the last `last` cohorts), cohort × months."""
    from heedful.value import cohorts

    if store.count("orders") == 0:
        return pd.DataFrame()
    try:
        retention: pd.DataFrame = cohorts(store.table("orders"), period="M").retention
    except InputError:  # no purchases (only returns)
        return pd.DataFrame()
    return retention.tail(last)


# ---------------------------------------------------------------------- everything, on the stored orders
def compute_customer_value(store: Store) -> dict[str, object]:
    """Value analyses on the orders in the store: CLV (`DEFAULT_MODEL` + Gamma-Gamma spend) and RFM, written
    to customer_value."""
    from heedful.services.customers import business_currency
    from heedful.value import rfm_from_summary

    if "orders" not in store.list_tables() or store.count("orders") == 0:
        return {"skipped": "no orders in the store"}
    table, cols = store.table("orders"), Columns()
    summary = summary_of(table, cols, "W", None, None, net_spend=True)  # one pass serves CLV and RFM
    report, values = clv_report(
        table, cols, DEFAULT_MODEL, horizon=DEFAULT_HORIZON_MONTHS, time_unit="W", discount_rate=0.01, summary=summary
    )
    store_clv(store, values, str(report["stored_model"]), DEFAULT_HORIZON_MONTHS)
    segments = rfm_from_summary(summary, time_unit="W")
    store_rfm(store, segments.customers)
    sizes = segments.segments.set_index("segment")["customers"]
    return {
        "customers_valued": report["n_customers"],
        "model": DEFAULT_MODEL,
        "model_converged": report["converged"],
        "model_identified": report["identified"],
        "p_alive_method": report["p_alive_method"],
        "notes": report["notes"],
        "total_clv_12m": round(report["total_clv"], 2),
        "currency": business_currency(store),
        "champions": int(sizes.get("champions", 0)),
        "at_risk": int(sizes.get("at risk", 0)),
        "cant_lose": int(sizes.get("can't lose", 0)),
    }


demo_step = compute_customer_value  # this area's step of `heedful demo`
