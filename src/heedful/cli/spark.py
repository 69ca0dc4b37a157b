"""`heedful spark …`: the value and listening analytics as Spark jobs (local mode or a cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from heedful.cli.common import JsonOption, console, emit_json
from heedful.cli.ingest import user_errors
from heedful.services import spark as service
from heedful.services.spark import engine_tables, spark_url_of

__all__ = ["app", "engine_tables", "spark_url_of"]

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
    with user_errors():
        frame = service.summary(db, store, parquet, time_unit)
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
    with user_errors():
        result = service.rfm(db, store, parquet)
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
    with user_errors():
        result = service.cohorts(db, store, parquet, period)
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
    with user_errors():
        frame = service.themes(db, store, parquet)
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
    with user_errors():
        n = service.classify(out, db, store, parquet, backend)
    doc = {"engine": db, "classified": n, "out": str(out)}
    emit_json(doc) if json_out else console.print(doc)
