"""Analyses on Spark (`heedful spark …`, `--engine spark`): tables from a store or Parquet registered in a
Spark session (`heedful.store.spark.SparkEngine`), the same Ibis analyses run as Spark jobs, and feedback
classification distributed over the Python workers. `theme_counts` and `monthly_repeat_rate` run on any
Ibis backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from heedful.errors import InputError
from heedful.store import Store, connect
from heedful.themes import SEPARATOR

if TYPE_CHECKING:
    from heedful.store.spark import SparkEngine
    from heedful.value.cohorts import CohortResult
    from heedful.value.rfm import RFMResult

DEFAULT_URL = "spark://local[2]"


# ---------------------------------------------------------------- engines and tables
def _engine(url: str) -> SparkEngine:
    from heedful.store.spark import SparkEngine

    return SparkEngine.connect(url)


def spark_url_of(engine: str) -> str | None:
    """The Spark URL an `--engine` value asks for, or None for the store's own engine."""
    if engine in ("", "store"):
        return None
    if engine == "spark":
        return DEFAULT_URL
    if engine.startswith(("spark://", "sc://")):
        return engine
    raise InputError(f"Unknown engine {engine!r}: use 'store' (the default), 'spark' or a spark:// URL.")


@contextmanager
def engine_tables(engine: str, store: Store | None, tables: Mapping[str, ir.Table]) -> Iterator[dict[str, ir.Table]]:
    """`tables` to run an analysis on, on the engine `engine` (an `--engine` value) names.

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


@contextmanager
def on_spark(
    url: str, name: str, store_url: str | None = None, parquet: Path | None = None
) -> Iterator[tuple[SparkEngine, ir.Table]]:
    """(engine, table): the Spark engine at `url` with table `name` loaded from Parquet (a file, folder or
    glob) or else from the store at `store_url` (default: the configured one); closed on exit."""
    engine = _engine(url)
    try:
        if parquet is not None:
            yield engine, engine.load_parquet(name, parquet)
        else:
            with connect(store_url) as store:
                table = engine.load_store(store, [name])[name]
            yield engine, table
    finally:
        engine.close()


# ---------------------------------------------------------------- the `heedful spark` analyses
def summary(
    url: str = DEFAULT_URL, store_url: str | None = None, parquet: Path | None = None, time_unit: str = "W"
) -> pd.DataFrame:
    """Per-customer transaction summary (frequency, recency, T, monetary value) of the orders, by Spark."""
    from heedful.value import transaction_summary

    with on_spark(url, "orders", store_url, parquet) as (_, orders):
        return transaction_summary(orders, time_unit=time_unit)


def rfm(url: str = DEFAULT_URL, store_url: str | None = None, parquet: Path | None = None) -> RFMResult:
    """RFM scores and segments of the orders, by Spark."""
    from heedful.value import rfm as rfm_of

    with on_spark(url, "orders", store_url, parquet) as (_, orders):
        return rfm_of(orders)


def cohorts(
    url: str = DEFAULT_URL, store_url: str | None = None, parquet: Path | None = None, period: str = "M"
) -> CohortResult:
    """Cohort retention and revenue tables of the orders, by Spark."""
    from heedful.value import cohorts as cohorts_of

    with on_spark(url, "orders", store_url, parquet) as (_, orders):
        return cohorts_of(orders, period=period)


def themes(url: str = DEFAULT_URL, store_url: str | None = None, parquet: Path | None = None) -> pd.DataFrame:
    """Theme mentions (and negative mentions) over feedback_enriched, by Spark (`theme_counts`)."""
    with on_spark(url, "feedback_enriched", store_url, parquet) as (_, enriched):
        return theme_counts(enriched)


def classify(
    out: Path,
    url: str = DEFAULT_URL,
    store_url: str | None = None,
    parquet: Path | None = None,
    backend: str = "transformer",
) -> int:
    """Classify the feedback on the Spark workers and write the results to Parquet under `out`; returns
    how many items were written."""
    with on_spark(url, "feedback", store_url, parquet) as (engine, _):
        result = classify_feedback(engine, "feedback", backend=backend)
        result.write.mode("overwrite").parquet(str(out))
        return int(engine.session.read.parquet(str(out)).count())


def classify_feedback(
    engine: SparkEngine,
    feedback: str | Any,
    *,
    backend: str = "static",
    id_col: str = "feedback_id",
    text_col: str = "text",
) -> Any:
    """A Spark DataFrame of (feedback_id + the classifier's OUTPUT_COLUMNS), computed by `mapInPandas`.

    `feedback` is a Spark DataFrame or the name of a table registered in `engine`. Each Python worker
    builds the `heedful.listen` classifier once and classifies its partitions.
    """
    frame = engine.session.table(feedback) if isinstance(feedback, str) else feedback
    frame = frame.select(id_col, text_col)
    schema = (
        f"{id_col} string, sentiment string, sentiment_score double, themes string, "
        "theme_sentiments string, department string, journey_stage string, language string"
    )

    def classify_partitions(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from heedful.listen.classify import Classifier

        clf = Classifier.build(backend=backend)  # type: ignore[arg-type]
        for batch in batches:
            out = clf.classify(batch[text_col].fillna("").tolist())
            out.insert(0, id_col, batch[id_col].astype(str).to_numpy())
            yield out

    return frame.mapInPandas(classify_partitions, schema=schema)


# ---------------------------------------------------------------- portable queries (any Ibis backend)
def theme_counts(enriched: ir.Table) -> pd.DataFrame:
    """Mentions of each theme in feedback_enriched, with how many came from negative feedback."""
    themed = enriched.filter(enriched.themes.notnull() & (enriched.themes != ""))
    exploded = themed.select(
        theme=themed.themes.split(SEPARATOR).unnest(), negative=ibis.ifelse(themed.sentiment == "negative", 1, 0)
    )
    exploded = exploded.filter(exploded.theme != "")
    counts = exploded.group_by("theme").aggregate(mentions=exploded.count(), negative=exploded.negative.sum())
    frame = counts.to_pandas()
    frame["mentions"] = frame["mentions"].astype("int64")
    frame["negative"] = frame["negative"].astype("int64")
    return frame.sort_values(["mentions", "theme"], ascending=[False, True]).reset_index(drop=True)


def monthly_repeat_rate(orders: ir.Table) -> pd.DataFrame:
    """Scorecard metric `repeat_rate` (journey): per month, buyers and the share who had bought in an
    earlier month, with its Wilson 95% interval. The counting runs on the backend; the interval on
    the per-month counts."""
    import numpy as np

    from heedful.stats import wilson_interval

    o = orders.filter(orders.customer_id.notnull() & ~orders.is_return.fill_null(False))
    o = o.mutate(month=o.ordered_at.year() * 12 + o.ordered_at.month())
    first = o.group_by("customer_id").aggregate(first_month=o.month.min())
    buyers = o.group_by(["customer_id", "month"]).aggregate(n=o.count())
    joined = buyers.join(first, "customer_id")
    per_month = joined.group_by("month").aggregate(
        n=joined.count(), returning=ibis.ifelse(joined.first_month < joined.month, 1, 0).sum()
    )
    frame = per_month.to_pandas().sort_values("month").reset_index(drop=True)
    k = frame["returning"].to_numpy(dtype=float)
    n = frame["n"].to_numpy(dtype=float)
    low, high = wilson_interval(k, n)
    months = frame["month"].astype(int)
    return pd.DataFrame(
        {
            "period": [f"{(m - 1) // 12:04d}-{(m - 1) % 12 + 1:02d}" for m in months],
            "n": n.astype(int),
            "value": np.divide(k, n),
            "low": low,
            "high": high,
        }
    )
