"""`heedful value clv FILE`'s fast route (`services.value_file`, `value.summary_sql`): the file summarised by
plain DuckDB SQL in a background thread gives the summary of the general route (`load_orders` +
`summary_of`, Ibis), to the last bit for counts; where it does not apply, it says so and the general route runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.services import value as service
from heedful.services import value_file
from heedful.value import summary_sql
from heedful.value.simulate import simulate_transactions
from heedful.value.summary import summary_frame

COLS = ("customer_id", "ordered_at", "amount")


def _fast(path: Path, time_unit: str = "W", cols: tuple[str, str, str] = COLS) -> pd.DataFrame | None:
    pending = value_file.start_file_summary(path, *cols, time_unit=time_unit)
    assert pending is not None
    table = pending.result()
    return None if table is None else summary_frame(table)


def _general(path: Path, time_unit: str = "W", cols: tuple[str, str, str] = COLS) -> pd.DataFrame:
    table, columns = service.load_orders(None, path, *cols)
    return service.summary_of(table, columns, time_unit)


def _assert_same(path: Path, time_unit: str = "W", cols: tuple[str, str, str] = COLS) -> pd.DataFrame:
    fast, general = _fast(path, time_unit, cols), _general(path, time_unit, cols)
    assert fast is not None
    assert fast.index.tolist() == general.index.tolist() and fast.index.name == "customer_id"
    assert list(fast.columns) == list(general.columns)
    np.testing.assert_array_equal(fast["frequency"], general["frequency"])
    np.testing.assert_array_equal(fast["first_purchase"], general["first_purchase"])
    for column in ("recency", "T", "monetary_value"):
        np.testing.assert_allclose(fast[column], general[column], rtol=1e-12, atol=1e-12)
    return fast


def _messy_orders(seed: int) -> pd.DataFrame:
    """Simulated orders as text, plus every case the summary treats specially."""
    tx = simulate_transactions(600, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=seed)
    text = pd.DataFrame(
        {
            "customer_id": tx["customer_id"].astype(str),
            "ordered_at": tx["ordered_at"].dt.strftime("%Y-%m-%d"),
            "amount": tx["amount"].round(2).astype(str),
        }
    )
    rng = np.random.default_rng(seed)
    extra = text.sample(200, random_state=seed).assign(amount=lambda f: (rng.random(len(f)) * 50).round(2).astype(str))
    rows = [
        ("single", "2024-02-01", "10"),  # one purchase: frequency 0, monetary 0
        ("firstday3", "2024-01-05", "1"),  # three lines on the first day, then two repeat days
        ("firstday3", "2024-01-05", "2"),
        ("firstday3", "2024-01-05", "4"),
        ("firstday3", "2024-03-01", "8"),
        ("firstday3", "2024-03-01", "16"),
        ("firstday3", "2024-04-01", "32"),
        ("refunder", "2024-01-10", "20"),
        ("refunder", "2024-02-10", "30"),
        ("refunder", "2024-02-11", "-15"),  # a return: no transaction, scales monetary value down
        ("returns-only", "2024-02-11", "-5"),  # never bought: not a customer of the summary
        ("blank-amount", "2024-01-20", ""),  # a line without an amount is no purchase
        ("blank-amount", "2024-03-20", "7"),
        ("", "2024-01-21", "3"),  # no customer: not read
        ("no-date", "", "3"),  # no date: not read
        (" padded ", "2024-01-22", "5"),  # ids are trimmed
        ("padded", "2024-02-22", "6"),
    ]
    return pd.concat([text, extra, pd.DataFrame(rows, columns=list(text.columns))], ignore_index=True)


@pytest.mark.parametrize("time_unit", ["D", "W", "M"])
def test_the_sql_summary_of_a_messy_file_is_the_general_routes(tmp_path: Path, time_unit: str) -> None:
    path = tmp_path / "orders.csv"
    _messy_orders(3).to_csv(path, index=False)
    with path.open("a") as fh:
        fh.write('"quoted","2024-01-02","12.5"\n"quoted","2024-01-09",""\n')  # quoted values, a quoted empty one
    fast = _assert_same(path, time_unit)
    assert "returns-only" not in fast.index and "no-date" not in fast.index and "" not in fast.index
    assert fast.loc["single", ["frequency", "monetary_value"]].tolist() == [0.0, 0.0]
    assert fast.loc["firstday3", "frequency"] == 2.0
    assert fast.loc["firstday3", "monetary_value"] == pytest.approx((24 + 32) / 2)  # the first day's 7 left out
    assert fast.loc["padded", "frequency"] == 1.0
    assert fast.loc["blank-amount", "frequency"] == 0.0  # its blank line bought nothing


def test_a_file_of_purchases_only_and_padded_dates_give_the_general_routes_summary(tmp_path: Path) -> None:
    """Without returns or blank amounts the aggregation drops its filters; a padded date makes the reader
    trim (its second reading): the same summary either way, also under other column names."""
    tx = simulate_transactions(2000, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=9)
    tx["ordered_at"] = tx["ordered_at"].dt.strftime("%Y-%m-%d")
    doubled = pd.concat([tx, tx.sample(500, random_state=1)])  # several lines on a day, first days included
    path = tmp_path / "plain.csv"
    doubled.to_csv(path, index=False, sep=";")
    _assert_same(path)
    renamed = doubled.rename(columns={"customer_id": "who", "ordered_at": "when", "amount": "paid"})
    renamed.iloc[4, 1] = " " + renamed.iloc[4, 1] + " "
    other = tmp_path / "renamed.csv"
    renamed.to_csv(other, index=False)
    _assert_same(other, cols=("who", "when", "paid"))


def test_where_the_fast_route_does_not_apply_it_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ordered_at,amount\n1,2024-01-01,5\n1,2024-01-08,6\n")
    assert value_file.start_file_summary(path, *COLS, date_format="%Y-%m-%d") is None
    assert value_file.start_file_summary(path, *COLS, observation_end="2024-01-05") is None
    assert value_file.start_file_summary(path, *COLS, time_unit="Y") is None
    assert value_file.start_file_summary(tmp_path / "missing.csv", *COLS) is None
    returns = tmp_path / "returns.csv"
    returns.write_text("customer_id,ordered_at,amount,is_return\n1,2024-01-01,5,false\n")
    missing = tmp_path / "missing_column.csv"
    missing.write_text("customer_id,ordered_at,total\n1,2024-01-01,5\n")
    retail = tmp_path / "retail.csv"
    retail.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n536365,A,6,2010-12-01 08:26:00,2.55,17850\n"
    )
    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text("00001 1 19970101 1 29.33\n00001 1 19970118 1 29.73\n")
    nothing_bought = tmp_path / "refunds.csv"
    nothing_bought.write_text("customer_id,ordered_at,amount\n1,2024-01-01,-5\n")
    for other in (returns, missing, retail, cdnow, nothing_bought):
        assert _fast(other) is None, other
    monkeypatch.setattr(summary_sql, "BITMAP_BUDGET_BYTES", 0)  # bitmaps over budget: the general route
    assert _fast(path) is None


def test_an_unreadable_value_raises_the_general_routes_error(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ordered_at,amount\n1,2024-01-01,5\n2,not a date,6\n")
    with pytest.raises(InputError) as general:
        _general(path)
    with pytest.raises(InputError) as fast:
        _fast(path)
    assert str(fast.value) == str(general.value)


def test_the_command_takes_the_fast_route_and_reports_as_the_general_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "orders.csv"
    _messy_orders(5).to_csv(path, index=False)
    general_report, general = service.clv_report(*service.load_orders(None, path))

    def no_general_route(*args: object, **kwargs: object) -> None:
        raise AssertionError("the general route ran")

    monkeypatch.setattr(service, "load_orders", no_general_route)
    result = CliRunner().invoke(app, ["value", "clv", str(path), "--json", "--top", "5"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [c["customer_id"] for c in shown["customers"]] == general.index[:5].tolist()
    assert shown["n_customers"] == general_report["n_customers"]
    assert shown["total_clv"] == pytest.approx(general_report["total_clv"], rel=1e-6)
    for name, value in general_report["params"].items():
        assert shown["params"][name] == pytest.approx(value, rel=1e-6)
    assert set(shown) == set(general_report) | {"customers", "currency"}


def test_the_command_as_a_process_prints_its_whole_answer_and_exits_0(tmp_path: Path) -> None:
    """The fast route ends the process without Python's teardown (`cli.common.leave_quickly`): what it
    printed into a pipe must all arrive, the JSON and the table alike."""
    import subprocess
    import sys

    path = tmp_path / "orders.csv"
    _messy_orders(7).to_csv(path, index=False)
    command = [sys.executable, "-m", "heedful.cli.main", "value", "clv", str(path)]
    done = subprocess.run([*command, "--json", "--top", "400"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert len(shown["customers"]) == 400 and shown["n_customers"] > 400
    table = subprocess.run([*command, "--top", "3"], capture_output=True, text=True, timeout=300)
    assert table.returncode == 0, table.stderr
    assert table.stdout.rstrip().endswith("┘") and "CLV over 12 months" in table.stdout
