"""heedful.services.value: orders from files and the store, CLV and RFM saved, cohorts, the fit's holdout."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.services import value
from heedful.store import Store
from heedful.value.simulate import simulate_transactions


def _orders(n: int, seed: int) -> pd.DataFrame:
    tx = simulate_transactions(n, seed=seed)
    return tx.assign(
        order_line_id=[str(i) for i in range(len(tx))],
        order_id=[f"o{i}" for i in range(len(tx))],
        customer_id=tx["customer_id"].astype(str),
        quantity=1.0,
        unit_price=tx["amount"],
        is_return=False,
    )


def test_clv_and_rfm_of_the_stored_orders_are_saved_together(duck_store: Store) -> None:
    duck_store.insert_new("orders", _orders(150, seed=3))
    table, cols = value.load_orders(duck_store)
    report, values = value.clv_report(table, cols, "bgnbd", horizon=6, time_unit="W")
    assert report["n_customers"] == len(values) == 150
    assert report["total_clv"] == pytest.approx(values["clv"].sum())
    assert value.store_clv(duck_store, values, "bgnbd") == 150
    rfm = value.rfm_report(table, cols, bins=4, period="W", store=duck_store)
    assert rfm.stored == 150 and rfm.segments["customers"].sum() == 150
    assert (rfm.customers["recency"] * 7).round(6).equals(rfm.customers["recency_days"].round(6))
    stored = duck_store.query("SELECT model, clv, segment FROM customer_value")
    assert (stored["model"] == "bgnbd").all() and stored["clv"].notna().all() and stored["segment"].notna().all()


def test_fit_report_checks_the_model_on_the_holdout(duck_store: Store) -> None:
    duck_store.insert_new("orders", _orders(200, seed=11))
    end = value.default_calibration_end(duck_store)
    low, high = duck_store.fetchall("SELECT MIN(ordered_at), MAX(ordered_at) FROM orders")[0]
    assert pd.Timestamp(low) < pd.Timestamp(end) < pd.Timestamp(high)
    report = value.fit_report(*value.load_orders(duck_store), "bgnbd", "W", calibration_end=end)
    assert report["holdout"]["calibration_end"] == end
    assert report["holdout"]["actual_total"] >= 0 and report["holdout"]["tracking"]
    with pytest.raises(InputError, match="Unknown model"):
        value.fit_report(*value.load_orders(duck_store), "nope")


def test_cohort_retention_of_an_empty_store_is_empty(duck_store: Store) -> None:
    assert value.cohort_retention(duck_store).empty
    assert value.default_calibration_end(duck_store) == ""
    assert value.compute_customer_value(duck_store) == {"skipped": "no orders in the store"}


def test_cdnow_whitespace_files_and_delimited_files_are_both_read(tmp_path: Path) -> None:
    cdnow = tmp_path / "cdnow.txt"
    cdnow.write_text(" 00001 19970101  1   11.77\r\n 00001 19970112  2   20.50\r\n 00002 19970102  1    9.99\r\n")
    frame, cols = value.read_orders_file(cdnow)
    assert (cols.customer, cols.date, cols.amount, cols.date_format) == ("customer_id", "date", "amount", "%Y%m%d")
    assert frame["customer_id"].tolist() == ["00001", "00001", "00002"]
    assert frame["amount"].tolist() == pytest.approx([11.77, 20.5, 9.99])
    semicolons = tmp_path / "orders.csv"
    semicolons.write_text("client;when;total\nA;2024-01-02;10.5\nB;2024-01-03;4\n")
    table, cols = value.load_orders(None, semicolons, "client", "when", "total")
    assert (cols.customer, cols.date, cols.amount) == ("client", "when", "total")
    assert table.execute()["total"].tolist() == [10.5, 4.0]
    with pytest.raises(InputError, match="File not found"):
        value.read_orders_file(tmp_path / "missing.csv")
