"""`heedful value …` end to end: JSON contract, file and store input, results written to customer_value."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from tests.conftest import require_shared_data
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.services.value import demo_step
from heedful.store import connect
from heedful.value import rfm
from heedful.value.simulate import simulate_transactions

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_fit_prints_the_contract_keys_and_published_estimates() -> None:
    path = require_shared_data("cdnow", "CDNOW_sample.txt")
    doc = _json(
        [
            "value",
            "fit",
            str(path),
            "--model",
            "bgnbd",
            "--calibration-end",
            "1997-09-30",
            "--observation-end",
            "1998-06-30",
            "--json",
        ]
    )
    assert {"model", "n_customers", "params", "stderr", "ci95", "log_likelihood", "converged", "holdout"} <= set(doc)
    assert doc["model"] == "bgnbd" and doc["n_customers"] == 2357 and doc["converged"] is True
    assert round(doc["params"]["r"], 3) == 0.243 and round(doc["params"]["b"], 3) == 2.426
    assert doc["log_likelihood"] == np.float64(doc["log_likelihood"]) and round(doc["log_likelihood"], 1) == -9582.4
    lo, hi = doc["ci95"]["alpha"]
    assert lo < doc["params"]["alpha"] < hi
    holdout = doc["holdout"]
    assert {"actual_total", "predicted_total", "mae", "tracking"} <= set(holdout)
    assert len(holdout["tracking"]) == 78  # weeks 1997-01-01 .. 1998-06-30


def test_fit_reads_a_csv_with_named_columns(tmp_path: Path) -> None:
    tx = simulate_transactions(400, seed=2)
    tx = tx.rename(columns={"customer_id": "client", "ordered_at": "when", "amount": "total"})
    tx["when"] = tx["when"].dt.strftime("%d/%m/%Y")
    path = tmp_path / "tx.csv"
    tx.to_csv(path, index=False)
    doc = _json(
        [
            "value",
            "fit",
            str(path),
            "--model",
            "gamma-gamma",
            "--customer-col",
            "client",
            "--date-col",
            "when",
            "--amount-col",
            "total",
            "--date-format",
            "%d/%m/%Y",
            "--json",
        ]
    )
    assert doc["model"] == "gamma-gamma" and set(doc["params"]) == {"p", "q", "v"}


def test_clv_and_rfm_write_customer_value_in_the_store(db_url: str) -> None:
    tx = simulate_transactions(300, seed=5)
    rows = tx.assign(
        order_line_id=[str(i) for i in range(len(tx))],
        order_id=[f"o{i}" for i in range(len(tx))],
        customer_id=tx["customer_id"].astype(str),
        quantity=1.0,
        unit_price=tx["amount"],
        is_return=False,
        currency="EUR",
    )
    with connect(db_url) as store:
        store.insert_new("orders", rows)
    clv = _json(
        [
            "value",
            "clv",
            "--db",
            db_url,
            "--horizon",
            "12",
            "--time-unit",
            "M",
            "--discount-rate",
            "0.01",
            "--top",
            "5",
            "--json",
        ]
    )
    assert clv["model"] == "mbgnbd" and len(clv["customers"]) == 5  # the default model
    first = clv["customers"][0]
    assert {"customer_id", "p_alive", "expected_purchases", "expected_spend", "clv"} <= set(first)
    assert clv["customers"][0]["clv"] >= clv["customers"][-1]["clv"]
    rfm = _json(["value", "rfm", "--db", db_url, "--period", "M", "--json"])
    assert sum(s["customers"] for s in rfm["segments"]) == rfm["n_customers"] == 300
    # money has its currency, in the JSON and in the tables (the orders' own)
    assert clv["currency"] == rfm["currency"] == "EUR"
    table = runner.invoke(app, ["value", "clv", "--db", db_url, "--top", "3"]).output
    assert "(MBG/NBD + Gamma-Gamma spend), total" in table and "EUR" in table and "mbgnbd" not in table
    assert "revenue (EUR)" in runner.invoke(app, ["value", "rfm", "--db", db_url]).output
    with connect(db_url) as store:
        stored = store.query("SELECT customer_id, model, clv, segment, horizon_months FROM customer_value")
    assert len(stored) == 300
    assert (stored["horizon_months"] == 12).all()  # the --horizon the CLV covers, for the pages to name
    assert stored["model"].str.startswith("mbgnbd").all()  # rfm kept the CLV model and values
    assert stored["clv"].notna().all() and stored["segment"].notna().all()
    # re-running is an upsert, not a duplicate
    _json(["value", "clv", "--db", db_url, "--json"])
    with connect(db_url) as store:
        assert store.count("customer_value") == 300


def test_cohorts_command_and_bad_model_message() -> None:
    path = require_shared_data("cdnow", "CDNOW_sample.txt")
    doc = _json(["value", "cohorts", str(path), "--period", "M", "--json"])
    assert doc["period"] == "M" and sum(doc["sizes"].values()) == 2357
    result = runner.invoke(app, ["value", "fit", str(path), "--model", "nope"])
    assert result.exit_code != 0


def test_demo_step_returns_headline_figures(duckdb_url: str) -> None:
    tx = simulate_transactions(200, seed=9)
    rows = tx.assign(
        order_line_id=[str(i) for i in range(len(tx))],
        order_id=[f"o{i}" for i in range(len(tx))],
        customer_id=tx["customer_id"].astype(str),
        quantity=1.0,
        unit_price=tx["amount"],
        is_return=False,
    )
    with connect(duckdb_url) as store:
        store.insert_new("orders", rows)
        figures = demo_step(store)
        assert figures["customers_valued"] == 200
        assert store.count("customer_value") == 200
        # the demo scores RFM from the CLV summary (one pass): the segments of a separate RFM run
        stored = store.query("SELECT customer_id, segment FROM customer_value").set_index("customer_id")["segment"]
        expected = rfm(store.table("orders")).customers["segment"]
        assert stored.sort_index().equals(expected.sort_index().rename("segment"))
    assert isinstance(figures["total_clv_12m"], float)


def test_online_retail_export_is_recognised_and_cancellations_are_not_purchases(tmp_path: Path) -> None:
    import gzip

    source = require_shared_data("uci_online_retail", "online_retail.csv.gz")
    with gzip.open(source, "rt") as fh:
        head = [next(fh) for _ in range(30_001)]
    path = tmp_path / "online_retail.csv"
    path.write_text("".join(head))
    frame = pd.read_csv(path, dtype={"InvoiceNo": str, "CustomerID": "Int64"})
    buyers = frame[~frame["InvoiceNo"].str.startswith("C") & (frame["Quantity"] * frame["UnitPrice"] >= 0)]
    doc = _json(["value", "rfm", str(path), "--json", "--top", "3"])
    assert doc["n_customers"] == buyers["CustomerID"].dropna().nunique()
    net = (frame["Quantity"] * frame["UnitPrice"]).groupby(frame["CustomerID"]).sum()
    top = doc["customers"][0]
    assert abs(top["monetary"] - net.loc[int(top["customer_id"])]) < 1e-6  # net of the cancellations


def test_cohorts_table_shows_whole_labels_and_percentages_at_80_columns(tmp_path: Path) -> None:
    # a squeezed table once cut every cohort to "2…" and every 100% to "1…"
    tx = simulate_transactions(300, seed=4)
    path = tmp_path / "orders.csv"
    tx.assign(customer_id=tx["customer_id"].astype(str)).to_csv(path, index=False)
    from heedful.cli.common import console

    width = console.width
    console.width = 80
    try:
        result = runner.invoke(app, ["value", "cohorts", str(path), "--period", "M"])
    finally:
        console.width = width
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "…" not in result.output and max(len(line) for line in lines) <= 80
    rows = [line.split() for line in lines if line.strip()[:2] == "20" and "%" in line]
    assert rows and all(len(row[0]) == 7 and row[2] == "100%" for row in rows)  # "2024-03  <size>  100%  …"
    assert "later period(s) not shown" in result.output


def test_money_from_a_file_has_the_currency_given_or_says_it_was_not(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HEEDFUL_CURRENCY", raising=False)
    monkeypatch.chdir(tmp_path)  # no heedful.toml here
    path = tmp_path / "tx.csv"
    simulate_transactions(120, seed=5).to_csv(path, index=False)
    plain = runner.invoke(app, ["value", "clv", str(path), "--top", "2"])
    assert plain.exit_code == 0 and "(currency not given; pass --currency)" in " ".join(plain.output.split())
    assert _json(["value", "clv", str(path), "--top", "2", "--json"])["currency"] is None
    assert _json(["value", "clv", str(path), "--top", "2", "--currency", "usd", "--json"])["currency"] == "USD"
    assert _json(["value", "rfm", str(path), "--currency", "USD", "--json"])["currency"] == "USD"
    assert "revenue (USD)" in runner.invoke(app, ["value", "rfm", str(path), "--currency", "USD"]).output
    assert "Revenue: currency not given" in runner.invoke(app, ["value", "rfm", str(path)]).output
    wrong = runner.invoke(app, ["value", "clv", str(path), "--currency", "dollars"])
    assert wrong.exit_code == 2 and "three letters" in wrong.output
