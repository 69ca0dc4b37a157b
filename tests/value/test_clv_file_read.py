"""`heedful value clv FILE` reads a plain file straight into DuckDB (`services.value.read_orders_table`):
the same customers, P(alive) and CLV as the DataFrame route it replaced (`read_orders_file`), to within the
optimiser's tolerance; the CDNOW and Online Retail layouts keep their own readers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest
from tests.value.conftest import read_cdnow_sample
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.services import value as service
from heedful.value import Columns
from heedful.value.simulate import simulate_transactions


def _old_route(path: Path) -> tuple[dict[str, object], pd.DataFrame]:
    """What `value clv FILE` computed before: the file as a DataFrame of text, then an Ibis memtable."""
    frame, cols = service.read_orders_file(path)
    table = ibis.memtable(frame)
    if cols.amount and table[cols.amount].type().is_string():
        table = table.mutate(**{cols.amount: table[cols.amount].cast("float64")})
    return service.clv_report(table, cols)


def _new_route(path: Path) -> tuple[dict[str, object], pd.DataFrame]:
    table, cols = service.load_orders(None, path)
    return service.clv_report(table, cols)


def _assert_same(path: Path) -> None:
    old_report, old = _old_route(path)
    new_report, new = _new_route(path)
    assert new.index.tolist() == old.index.tolist()  # same customers, same order (highest CLV first)
    for name, value in old_report["params"].items():  # type: ignore[attr-defined]
        assert new_report["params"][name] == pytest.approx(value, rel=1e-6)  # type: ignore[index]
    for column in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(new[column], old[column], rtol=1e-12)
    for column in ("p_alive", "expected_purchases", "clv"):
        np.testing.assert_allclose(new[column], old[column], rtol=1e-6)
    assert new_report["total_clv"] == pytest.approx(old_report["total_clv"], rel=1e-6)


def test_the_cdnow_sample_as_a_csv_gives_the_same_clv(tmp_path: Path) -> None:
    tx = read_cdnow_sample()
    path = tmp_path / "cdnow.csv"
    tx.assign(ordered_at=tx["ordered_at"].dt.strftime("%Y-%m-%d"))[["customer_id", "ordered_at", "amount"]].to_csv(
        path, index=False
    )
    table, cols = service.read_orders_table(path)
    assert cols == Columns() and table.count().to_pyarrow().as_py() == len(tx)
    _assert_same(path)


def test_a_messy_gzipped_semicolon_file_gives_the_same_clv(tmp_path: Path) -> None:
    tx = simulate_transactions(3000, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=7)
    text = pd.DataFrame(
        {
            "customer_id": " c" + tx["customer_id"].astype(str).str.zfill(5) + " ",  # padded text ids stay text
            "ordered_at": tx["ordered_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": tx["amount"].round(2).astype(str),
        }
    )
    text.loc[::97, "amount"] = ""  # an empty value is a missing one on both routes
    text.loc[5, "amount"] = "-12.5"  # a refund
    path = tmp_path / "orders.csv.gz"
    text.to_csv(path, index=False, sep=";", compression="gzip")
    _assert_same(path)


def test_the_command_prints_the_same_report_as_before(tmp_path: Path) -> None:
    tx = simulate_transactions(1500, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=3)
    path = tmp_path / "tx.csv"
    tx.assign(ordered_at=tx["ordered_at"].dt.strftime("%Y-%m-%d"))[["customer_id", "ordered_at", "amount"]].to_csv(
        path, index=False
    )
    result = CliRunner().invoke(app, ["value", "clv", str(path), "--json", "--top", "5"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    old_report, old = _old_route(path)
    assert [c["customer_id"] for c in shown["customers"]] == old.index[:5].tolist()
    assert shown["n_customers"] == old_report["n_customers"] == 1500
    assert shown["total_clv"] == pytest.approx(old_report["total_clv"], rel=1e-6)
    assert set(shown) == set(old_report) | {"customers", "currency"}  # the JSON keys are a contract


def test_whitespace_and_online_retail_layouts_keep_their_readers(tmp_path: Path) -> None:
    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text("00001 1 19970101 1 29.33\n00001 1 19970118 1 29.73\n00002 2 19970112 1 11.77\n")
    table, cols = service.read_orders_table(cdnow)
    assert cols.date_format == "%Y%m%d" and table.count().to_pyarrow().as_py() == 3
    retail = tmp_path / "retail.csv"
    retail.write_text(
        "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n"
        "536365,A,6,2010-12-01 08:26:00,2.55,17850\nC536379,A,-1,2010-12-01 09:41:00,2.55,17850\n"
    )
    table, cols = service.read_orders_table(retail)
    assert cols.customer == "CustomerID" and cols.is_return == "is_return"
    frame = table.to_pandas()
    assert frame["amount"].tolist() == pytest.approx([15.3, -2.55]) and frame["is_return"].tolist() == [False, True]


def test_padded_empty_and_extra_values_read_as_the_importer_reads_them(tmp_path: Path) -> None:
    """The fast single pass casts values as they stand; where blanks around a date, a blank-only amount or a
    quoted empty value stop it, the trimmed reading decides: either way the figures are the old route's."""
    tx = simulate_transactions(800, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=11)
    text = pd.DataFrame(
        {
            "note": "x",  # a column no analysis uses is not read
            "customer_id": "  " + tx["customer_id"].astype(str) + " ",
            "ordered_at": tx["ordered_at"].dt.strftime("%Y-%m-%d"),
            "amount": tx["amount"].round(2).astype(str),
            "is_return": "false",
        }
    )
    plain = tmp_path / "plain.csv"
    text.to_csv(plain, index=False)
    table, _ = service.read_orders_table(plain)
    assert set(table.columns) == {"customer_id", "ordered_at", "amount", "is_return"}
    _assert_same(plain)
    text.loc[3, "ordered_at"] = " " + text.loc[3, "ordered_at"] + " "  # the cast refuses it untrimmed
    text.loc[7, "amount"] = "   "  # blanks only: a missing amount
    text.loc[9, "is_return"] = "true"
    padded = tmp_path / "padded.csv"
    text.to_csv(padded, index=False)
    with padded.open("a") as fh:
        fh.write('"x","c1","2024-03-01","",""\n')  # quoted empty values: missing
    _assert_same(padded)
    frame = service.read_orders_table(padded)[0].to_pandas()
    assert frame["amount"].isna().sum() == 2 and frame["customer_id"].str.strip().eq(frame["customer_id"]).all()


def test_a_missing_column_is_named_with_every_column_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,ordered_at,total\n1,2024-01-01,5\n")
    with pytest.raises(InputError, match=r"\['amount'\] not found.*'total'"):
        _new_route(path)


def test_value_clv_loads_neither_scikit_learn_nor_the_other_areas(tmp_path: Path) -> None:
    """What `heedful value clv FILE` imports is what it uses: no web app, plotting, boosting or torch, and
    neither scikit-learn (the models follow its contract without importing it) nor Ibis (the file is
    summarised in DuckDB SQL): together 1.6 s of a small file's 3-4 s run."""
    tx = simulate_transactions(300, r=0.9, alpha=2.5, a=0.7, b=8.0, seed=5)
    path = tmp_path / "tx.csv"
    tx.assign(ordered_at=tx["ordered_at"].dt.strftime("%Y-%m-%d"))[["customer_id", "ordered_at", "amount"]].to_csv(
        path, index=False
    )
    script = (
        "import sys, contextlib, io\n"
        "from heedful.cli.main import app\n"  # not main(): it ends the process at once (cli.common.leave_quickly)
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    app(['value', 'clv', sys.argv[1], '--json'], standalone_mode=False)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'lightgbm', 'plotly', 'fastapi', 'torch', 'sklearn', 'ibis'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
