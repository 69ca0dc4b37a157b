"""`heedful value fit|clv|rfm|cohorts --engine spark` give the same results as the store's own engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.store.test_spark import _orders, _require_spark
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.cli.spark import spark_url_of
from heedful.errors import InputError
from heedful.store import Store

runner = CliRunner()


@pytest.fixture(scope="module")
def spark_session() -> Iterator[None]:
    """The process's Spark session, made small for small data (later engines reuse it)."""
    _require_spark()
    from heedful.store.spark import SparkEngine

    engine = SparkEngine.connect("spark://local[2]", shuffle_partitions=2, driver_memory="1g")
    yield
    engine.close()


@pytest.fixture
def orders_store(spark_session: None, duck_store: Store) -> Store:
    duck_store.insert_new("orders", _orders())
    return duck_store


def _run(*args: str) -> dict[str, Any]:
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


@pytest.mark.parametrize(
    "command",
    [
        ["value", "rfm"],
        ["value", "cohorts"],
        ["value", "cohorts", "--period", "W"],
        ["value", "fit", "--calibration-end", "2024-08-01", "--observation-end", "2024-12-31"],
        ["value", "clv", "--model", "bgnbd"],
    ],
    ids=["rfm", "cohorts-M", "cohorts-W", "fit-holdout", "clv"],
)
def test_engine_spark_equals_the_store_engine(
    orders_store: Store, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import heedful.services.spark as spark_service

    used: list[Any] = []
    make = spark_service._engine

    def spy(url: str) -> Any:
        used.append(make(url))
        return used[-1]

    monkeypatch.setattr(spark_service, "_engine", spy)
    on_store = _run(*command, "--db", orders_store.url)
    assert used == []
    on_spark = _run(*command, "--db", orders_store.url, "--engine", "spark")
    assert len(used) == 1 and used[0].ibis.name == "pyspark"  # the queries went to Spark
    _assert_same(on_spark, on_store)
    assert len(_flatten(on_store)) > 10  # a real result was compared, not two empty ones


def test_engine_spark_on_a_file(spark_session: None, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    frame = _orders()
    frame["ordered_at"] = frame["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    frame.to_csv(path, index=False)
    on_duckdb = _run("value", "rfm", str(path))
    on_spark = _run("value", "rfm", str(path), "--engine", "spark")
    _assert_same(on_spark, on_duckdb)


def test_unknown_engine_is_refused(duck_store: Store) -> None:
    res = runner.invoke(app, ["value", "rfm", "--db", duck_store.url, "--engine", "hadoop"])
    assert res.exit_code != 0
    assert isinstance(res.exception, InputError)
    assert "Unknown engine 'hadoop'" in str(res.exception)


def test_engine_values() -> None:
    assert spark_url_of("store") is None
    assert spark_url_of("spark") == "spark://local[2]"
    assert spark_url_of("spark://master:7077") == "spark://master:7077"
    assert spark_url_of("sc://connect:15002") == "sc://connect:15002"


def _assert_same(got: dict[str, Any], expected: dict[str, Any]) -> None:
    flat_got, flat_expected = _flatten(got), _flatten(expected)
    assert flat_got.keys() == flat_expected.keys()
    numbers = {k for k, v in flat_expected.items() if isinstance(v, float)}
    assert {k: flat_got[k] for k in numbers} == pytest.approx(
        {k: flat_expected[k] for k in numbers}, rel=1e-9, abs=1e-9
    )
    assert {k: v for k, v in flat_got.items() if k not in numbers} == {
        k: v for k, v in flat_expected.items() if k not in numbers
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Leaf values by path, numbers as floats (so 3 and 3.0 compare equal), lists by position."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flatten(item, f"{prefix}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _flatten(item, f"{prefix}[{i}]").items()}
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return {prefix: value}
    return {prefix: float(value)}
