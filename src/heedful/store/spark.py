"""Spark engine for analytics over data that outgrows one machine (PySpark through Ibis).

`SparkEngine.table(name)` gives an Ibis table backed by a Spark DataFrame, so the analyses — the same
Ibis expressions that run on DuckDB and PostgreSQL (`heedful.value.transaction_summary`, `rfm`,
`cohorts`, and the theme / scorecard queries and distributed classification in
`heedful.services.spark`) — run unchanged as Spark jobs. This module knows the engine only.

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
from collections.abc import Sequence
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

    def close(self) -> None:
        for folder in self._tmp:
            shutil.rmtree(folder, ignore_errors=True)
        self._tmp.clear()
