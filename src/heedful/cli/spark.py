"""`heedful spark …`: the value and listening analytics as Spark jobs (local mode or a cluster)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from heedful.cli.common import JsonOption, console, emit_json, open_store
from heedful.cli.ingest import user_errors
from heedful.errors import InputError

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from heedful.store import Store

app = typer.Typer(
    help="Run analyses on Spark (PySpark through Ibis): --db spark://local[2], spark://HOST:7077 or sc://HOST:15002.",
    no_args_is_help=True,
)

SparkUrl = Annotated[
    str,
    typer.Option(
        "--db", "--engine-url", help="Spark URL: spark://local[2] (default), spark://HOST:7077, sc://HOST:15002."
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="heedful store to read the tables from (default: HEEDFUL_DB / heedful.toml)."),
]
ParquetOpt = Annotated[
    Path | None,
    typer.Option("--parquet", help="Read the table from Parquet (file, folder or glob) instead of the store."),
]


def _table(engine: Any, name: str, store_url: str | None, parquet: Path | None) -> Any:
    if parquet is not None:
        return engine.load_parquet(name, parquet)
    store = open_store(store_url)
    try:
        return engine.load_store(store, [name])[name]
    finally:
        store.close()


def _engine(url: str) -> Any:
    from heedful.store.spark import SparkEngine

    return SparkEngine.connect(url)


@contextmanager
def _on_spark(url: str, name: str, store_url: str | None, parquet: Path | None) -> Iterator[tuple[Any, Any]]:
    """(engine, table): the Spark engine at `url` with table `name` loaded from Parquet or the store;
    the engine is closed on exit, errors included."""
    engine = _engine(url)
    try:
        yield engine, _table(engine, name, store_url, parquet)
    finally:
        engine.close()


# ---------------------------------------------------------------- --engine for the other commands
EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="Where the queries run: 'store' (the store's database, or DuckDB for a file) or 'spark' "
        "(Spark local mode, spark://local[2], reading the same tables); a Spark URL also works: "
        "spark://HOST:7077, sc://HOST:15002.",
    ),
]


def spark_url_of(engine: str) -> str | None:
    """The Spark URL an `--engine` value asks for, or None for the store's own engine."""
    if engine in ("", "store"):
        return None
    if engine == "spark":
        return "spark://local[2]"
    if engine.startswith(("spark://", "sc://")):
        return engine
    raise InputError(f"Unknown engine {engine!r}: use 'store' (the default), 'spark' or a spark:// URL.")


@contextmanager
def engine_tables(engine: str, store: Store | None, tables: Mapping[str, ir.Table]) -> Iterator[dict[str, ir.Table]]:
    """`tables` to run an analysis on, on the engine `--engine` names.

    With the store's engine they are returned as they are. With Spark, store tables are copied to
    Parquet in one snapshot and registered in the Spark session (`SparkEngine.load_store`); tables
    that are not the store's (a file read into memory) are registered from their rows. The same Ibis
    analyses then run as Spark jobs; the Spark engine is closed (its copies removed) on exit.
    """
    url = spark_url_of(engine)
    if url is None:
        yield dict(tables)
        return
    spark = _engine(url)
    try:
        if store is not None:
            yield spark.load_store(store, list(tables))
        else:
            yield {name: spark.load_pandas(name, table.to_pandas()) for name, table in tables.items()}
    finally:
        spark.close()


@app.command("summary")
def summary_cmd(
    db: SparkUrl = "spark://local[2]",
    store: StoreOpt = None,
    parquet: ParquetOpt = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="D, W or M.")] = "W",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the per-customer summary to this Parquet file.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Per-customer transaction summary (frequency, recency, T, monetary value) computed by Spark."""
    from heedful.value import transaction_summary

    with user_errors(), _on_spark(db, "orders", store, parquet) as (_, orders):
        frame = transaction_summary(orders, time_unit=time_unit)
    if out is not None:
        frame.reset_index().to_parquet(out, index=False)
    doc = {
        "engine": db,
        "customers": len(frame),
        **{f"mean_{c}": float(frame[c].mean()) for c in ("frequency", "recency", "T", "monetary_value")},
    }
    emit_json(doc) if json_out else console.print(doc)


@app.command("rfm")
def rfm_cmd(
    db: SparkUrl = "spark://local[2]",
    store: StoreOpt = None,
    parquet: ParquetOpt = None,
    json_out: JsonOption = False,
) -> None:
    """RFM scores and segments computed by Spark (per-customer scoring on the collected summary)."""
    from heedful.value import rfm

    with user_errors(), _on_spark(db, "orders", store, parquet) as (_, orders):
        result = rfm(orders)
    if json_out:
        emit_json({"engine": db, "segments": result.segments})
    else:
        console.print(result.segments.to_string(index=False))


@app.command("cohorts")
def cohorts_cmd(
    db: SparkUrl = "spark://local[2]",
    store: StoreOpt = None,
    parquet: ParquetOpt = None,
    period: Annotated[str, typer.Option("--period", help="D, W, M or Q.")] = "M",
    json_out: JsonOption = False,
) -> None:
    """Cohort retention and revenue tables computed by Spark."""
    from heedful.value import cohorts

    with user_errors(), _on_spark(db, "orders", store, parquet) as (_, orders):
        result = cohorts(orders, period=period)
    if json_out:
        emit_json({"engine": db, **result.to_dict()})
    else:
        console.print(result.retention.round(3).to_string())


@app.command("themes")
def themes_cmd(
    db: SparkUrl = "spark://local[2]",
    store: StoreOpt = None,
    parquet: ParquetOpt = None,
    json_out: JsonOption = False,
) -> None:
    """Theme mentions (and negative mentions) over feedback_enriched, counted by Spark."""
    from heedful.store.spark import theme_counts

    with user_errors(), _on_spark(db, "feedback_enriched", store, parquet) as (_, enriched):
        frame = theme_counts(enriched)
    if json_out:
        emit_json({"engine": db, "themes": frame})
    else:
        console.print(frame.to_string(index=False))


@app.command("classify")
def classify_cmd(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the classified feedback to (Parquet).")],
    db: SparkUrl = "spark://local[2]",
    store: StoreOpt = None,
    parquet: ParquetOpt = None,
    backend: Annotated[str, typer.Option("--backend", help="transformer | static")] = "transformer",
    json_out: JsonOption = False,
) -> None:
    """Classify feedback (sentiment, themes, owners) on the Spark workers with mapInPandas."""
    with user_errors(), _on_spark(db, "feedback", store, parquet) as (engine, _):
        result = engine.classify_feedback("feedback", backend=backend)
        result.write.mode("overwrite").parquet(str(out))
        n = engine.session.read.parquet(str(out)).count()
    doc = {"engine": db, "classified": n, "out": str(out)}
    emit_json(doc) if json_out else console.print(doc)
