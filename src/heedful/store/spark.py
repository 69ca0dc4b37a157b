"""Spark engine for analytics over data that outgrows one machine (PySpark through Ibis).

The analyses are the same Ibis expressions that run on DuckDB and PostgreSQL
(`heedful.value.transaction_summary`, `rfm`, `cohorts`, and the theme / scorecard queries below):
`SparkEngine.table(name)` gives an Ibis table backed by a Spark DataFrame, and they run unchanged as
Spark jobs. Feedback classification is distributed with `mapInPandas`, each Python worker running the
same `heedful.listen` classifier. Model fitting (BG/NBD, Gamma-Gamma…) then runs on the per-customer
summaries, collected to pandas: one row per customer, small even for billions of orders.

URLs: `spark://local[2]` (local mode with 2 cores, the default), `spark://local[*]`,
`spark://HOST:7077` (a standalone cluster master), `sc://HOST:15002` (Spark Connect).
Data comes from Parquet files (`load_parquet`) or from a heedful store (`load_store`), whose tables
are written to Parquet first (in one snapshot) so Spark reads them in parallel.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from heedful.errors import ConfigError
from heedful.store.backend import Store

DEFAULT_MASTER = "local[2]"
_SESSION: Any = None


def master_of(url: str) -> tuple[str, bool]:
    """(master, is_spark_connect) for a `spark://…` / `sc://…` URL or a bare master string."""
    if url.startswith("sc://"):
        return url, True
    if url.startswith("spark://"):
        rest = url[len("spark://") :]
        if rest.startswith("local"):
            return rest, False
        return url, False  # spark://host:7077: a standalone master
    if url.startswith(("local", "yarn", "k8s://", "mesos://")):
        return url, False
    raise ConfigError(f"Unsupported Spark URL {url!r}; use spark://local[2], spark://HOST:7077 or sc://HOST:15002.")


def spark_session(
    url: str = f"spark://{DEFAULT_MASTER}",
    *,
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    conf: dict[str, str] | None = None,
) -> Any:
    """A SparkSession (created once per process; later calls return the same one)."""
    global _SESSION
    if _SESSION is not None:
        return _SESSION
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ConfigError("The Spark engine needs PySpark: pip install 'heedful[spark]' (and Java 17+).") from exc
    master, connect = master_of(url)
    if connect:
        builder = SparkSession.builder.remote(master)
    else:
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise ConfigError("Spark needs a Java runtime (17 or newer): install e.g. default-jre-headless.")
        # Python workers run this interpreter (the one with heedful, pandas and pyarrow installed).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        builder = SparkSession.builder.master(master)
        builder = builder.config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
        if driver_memory:
            builder = builder.config("spark.driver.memory", driver_memory)
    builder = builder.appName("heedful").config("spark.sql.session.timeZone", "UTC")
    builder = builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
    if shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(shuffle_partitions))
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if not connect:
        session.sparkContext.setLogLevel("ERROR")
    _SESSION = session
    return session


class SparkEngine:
    """Ibis over a SparkSession: register Parquet files or store tables, get Ibis tables back."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.ibis: Any = ibis.pyspark.connect(session)
        self._tmp: list[str] = []

    @classmethod
    def connect(cls, url: str = f"spark://{DEFAULT_MASTER}", **options: Any) -> SparkEngine:
        return cls(spark_session(url, **options))

    def load_parquet(self, name: str, path: str | Path) -> ir.Table:
        """Register Parquet file(s) (a file, a folder or a glob) as table `name`."""
        frame = self.session.read.parquet(str(path))
        frame.createOrReplaceTempView(name)
        return self.table(name)

    def load_pandas(self, name: str, frame: pd.DataFrame) -> ir.Table:
        """Register a (small) pandas DataFrame as table `name`: for tests and look-up tables."""
        self.session.createDataFrame(frame).createOrReplaceTempView(name)
        return self.table(name)

    def load_store(self, store: Store, tables: Sequence[str] = ("orders",)) -> dict[str, ir.Table]:
        """Copy store tables to Parquet (one consistent snapshot) and register them in Spark."""
        import pyarrow.parquet as pq

        from heedful.store.backup import _arrow_schema, _batches, _begin_snapshot, _columns, _end_snapshot

        folder = tempfile.mkdtemp(prefix="heedful-spark-")
        self._tmp.append(folder)
        with store._lock:
            _begin_snapshot(store)
            try:
                for table in tables:
                    schema = _arrow_schema(_columns(store, table))
                    with pq.ParquetWriter(Path(folder) / f"{table}.parquet", schema) as writer:
                        for batch in _batches(store, table, schema):
                            writer.write_batch(batch)
            finally:
                _end_snapshot(store)
        return {t: self.load_parquet(t, Path(folder) / f"{t}.parquet") for t in tables}

    def table(self, name: str) -> ir.Table:
        return self.ibis.table(name)

    def classify_feedback(
        self, feedback: str | Any, *, backend: str = "static", id_col: str = "feedback_id", text_col: str = "text"
    ) -> Any:
        """A Spark DataFrame of (feedback_id + the classifier's OUTPUT_COLUMNS), computed by `mapInPandas`.

        `feedback` is a Spark DataFrame or the name of a registered table. Each Python worker builds
        the `heedful.listen` classifier once and classifies its partitions.
        """
        frame = self.session.table(feedback) if isinstance(feedback, str) else feedback
        frame = frame.select(id_col, text_col)
        schema = (
            f"{id_col} string, sentiment string, sentiment_score double, themes string, "
            "theme_sentiments string, department string, journey_stage string"
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

    def close(self) -> None:
        for folder in self._tmp:
            shutil.rmtree(folder, ignore_errors=True)
        self._tmp.clear()


# ---------------------------------------------------------------- portable queries (any Ibis backend)
def theme_counts(enriched: ir.Table) -> pd.DataFrame:
    """Mentions of each theme in feedback_enriched, with how many came from negative feedback."""
    themed = enriched.filter(enriched.themes.notnull() & (enriched.themes != ""))
    exploded = themed.select(
        theme=themed.themes.split(";").unnest(), negative=ibis.ifelse(themed.sentiment == "negative", 1, 0)
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

    from heedful.journey.metrics import wilson_interval

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
