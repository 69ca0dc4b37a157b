"""Importing orders: validation and quarantine, idempotency, returns, customers, presets, one transaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ingest_data import BAD_RETAIL, GOOD_RETAIL_LINES, RETAIL_ROWS, write

from heedful.errors import ConfigError, InputError
from heedful.ingest import import_file
from heedful.ingest.sinks import OrdersSink
from heedful.store import Store


def test_bad_rows_are_quarantined_with_line_and_raw_content_while_good_rows_load(
    store: Store, retail_csv: Path
) -> None:
    result = import_file(store, retail_csv, "orders", preset="online-retail")
    assert result.accepted == GOOD_RETAIL_LINES - 1
    assert result.duplicates == 1
    assert result.rejected == len(BAD_RETAIL)
    reported = {q["line"]: q["error"] for q in result.to_dict()["quarantine"]}
    assert set(reported) == set(BAD_RETAIL)
    for line, reason in BAD_RETAIL.items():
        assert reason in reported[line]
    assert all(q["file"] == str(retail_csv) for q in result.quarantine)

    stored = store.query("SELECT line, error, raw, source_file FROM quarantine ORDER BY line")
    assert stored["line"].tolist() == sorted(BAD_RETAIL)
    raw = json.loads(stored["raw"].iloc[0])
    assert raw["InvoiceNo"] == "536370" and raw["InvoiceDate"] == "not a date"
    assert store.count("orders") == GOOD_RETAIL_LINES - 1


def test_reimporting_same_file_adds_nothing(store: Store, retail_csv: Path) -> None:
    first = import_file(store, retail_csv, "orders", preset="online-retail")
    second = import_file(store, retail_csv, "orders", preset="online-retail")
    assert second.accepted == 0
    assert second.duplicates == first.accepted + first.duplicates
    assert store.count("orders") == first.accepted
    assert store.count("customers") == 3  # 17850, 13047, 14527 (guest line has none)


def test_returns_are_kept_flagged_and_negative(store: Store, retail_csv: Path) -> None:
    import_file(store, retail_csv, "orders", preset="online-retail")
    ret = store.query("SELECT quantity, amount, is_return FROM orders WHERE order_id = 'C536379'")
    assert ret["is_return"].tolist() == [True]
    assert ret["quantity"].iloc[0] == -1 and ret["amount"].iloc[0] == pytest.approx(-27.5)
    revenue = store.query("SELECT SUM(amount) FROM orders WHERE NOT is_return").iloc[0, 0]
    expected = 6 * 2.55 + 6 * 3.39 + 6 * 1.85 + 32 * 1.69 + 6 * 4.25
    assert revenue == pytest.approx(expected)


def test_order_lines_carry_provenance_and_currency(store: Store, retail_csv: Path) -> None:
    result = import_file(store, retail_csv, "orders", preset="online-retail")
    row = store.query("SELECT * FROM orders WHERE product_id = '71053'").iloc[0]
    assert (row["source"], row["source_file"], int(row["source_line"])) == ("online-retail", "retail.csv", 3)
    assert row["import_id"] == result.import_id and row["currency"] == "GBP"
    assert row["customer_id"] == "17850"
    guest = store.query("SELECT customer_id FROM orders WHERE order_id = '536368'")
    assert guest["customer_id"].isna().all()


def test_customers_are_created_from_orders_with_first_purchase(store: Store, retail_csv: Path) -> None:
    import_file(store, retail_csv, "orders", preset="online-retail")
    customers = store.query("SELECT customer_id, kind, country, first_seen_at FROM customers ORDER BY customer_id")
    assert customers["customer_id"].tolist() == ["13047", "14527", "17850"]
    assert set(customers["kind"]) == {"customer"}
    first = customers.set_index("customer_id")["first_seen_at"]
    assert str(first["17850"]) == "2010-12-01 08:26:00"


def test_imports_table_records_each_run(store: Store, retail_csv: Path) -> None:
    result = import_file(store, retail_csv, "orders", preset="online-retail")
    row = store.query("SELECT * FROM imports WHERE import_id = ?", [result.import_id]).iloc[0]
    assert (row["entity"], row["preset"], row["status"]) == ("orders", "online-retail", "done")
    assert (int(row["accepted"]), int(row["rejected"]), int(row["duplicates"])) == (6, 4, 1)
    assert isinstance(row["file_hash"], str) and len(row["file_hash"]) == 64


def test_a_failing_import_leaves_no_rows_behind(
    store: Store, retail_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self: OrdersSink) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(OrdersSink, "finish", boom)
    with pytest.raises(RuntimeError):
        import_file(store, retail_csv, "orders", preset="online-retail")
    assert store.count("orders") == 0 and store.count("quarantine") == 0
    assert store.query("SELECT status FROM imports")["status"].tolist() == ["failed"]


def test_us_style_dates_of_the_original_workbook_export_parse(duck_store: Store, tmp_path: Path) -> None:
    text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    text += "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
    result = import_file(duck_store, write(tmp_path / "r.csv", text), "orders", preset="online-retail")
    assert result.accepted == 1
    row = duck_store.query("SELECT ordered_at, customer_id FROM orders").iloc[0]
    assert str(row["ordered_at"]) == "2010-12-01 08:26:00" and row["customer_id"] == "17850"


def test_line_ids_stay_the_same_across_versions(duck_store: Store, tmp_path: Path) -> None:
    """A store filled by an earlier version must see a re-import as duplicates: the id of a line is
    the URL-safe base64 of the first 96 bits of the MD5 of its source and content."""
    import base64
    import hashlib

    text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    text += "536365,85123A,HEART,6,12/1/2010 8:26,2.55,17850.0,United Kingdom\n"
    import_file(duck_store, write(tmp_path / "r.csv", text), "orders", preset="online-retail")
    content = "|".join(
        ["online-retail", "536365", "17850", "2010-12-01 08:26:00", "85123A", "HEART", "6.0", "2.55", "\0"]
    )
    expected = base64.urlsafe_b64encode(hashlib.md5(content.encode()).digest()[:12]).decode()
    assert duck_store.fetchall("SELECT order_line_id FROM orders")[0][0] == expected


def test_each_distinct_date_of_a_batch_parses_on_its_own(duck_store: Store, tmp_path: Path) -> None:
    # dates are parsed once per distinct value and joined back: repeated, mixed and bad values
    # must each land on their own lines
    text = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    dates = ["12/1/2010 8:26", "2011-03-04 10:00:00", "12/1/2010 8:26", "", "not a date", " 12/1/2010 8:26 "]
    text += "".join(f"{i},P{i},ITEM,1,{d},1.5,1,UK\n" for i, d in enumerate(dates))
    result = import_file(duck_store, write(tmp_path / "d.csv", text), "orders", preset="online-retail")
    assert {q["line"]: q["error"].split(" ")[0] for q in result.quarantine} == {5: "missing", 6: "unparseable"}
    stored = dict(duck_store.fetchall("SELECT order_id, CAST(ordered_at AS VARCHAR) FROM orders"))
    assert stored == {
        "0": "2010-12-01 08:26:00",
        "1": "2011-03-04 10:00:00",
        "2": "2010-12-01 08:26:00",
        "5": "2010-12-01 08:26:00",
    }


SHOPIFY = (
    "Name,Email,Financial Status,Paid at,Currency,Created at,Lineitem quantity,Lineitem name,Lineitem price,"
    "Lineitem sku,Billing Name,Billing Country,Cancelled at\n"
    "#1001,ann@example.com,paid,2024-03-01 10:00:00 +0100,EUR,2024-03-01 10:00:00 +0100,2,Mug,8.50,MUG-1,Ann Lee,DE,\n"
    "#1001,,,,,,1,Plate,12.00,PLATE-1,,,\n"
    "#1002,bob@example.com,refunded,2024-03-02 09:00:00 +0100,EUR,2024-03-02 09:00:00 +0100,1,Bowl,9.00,BOWL-1,Bob,FR,\n"
)


def test_shopify_fills_order_fields_down_and_flags_refunds(store: Store, tmp_path: Path) -> None:
    result = import_file(store, write(tmp_path / "orders_export.csv", SHOPIFY), "orders", preset="shopify")
    assert (result.accepted, result.rejected) == (3, 0)
    rows = store.query("SELECT * FROM orders ORDER BY source_line").set_index("product_id")
    assert rows.loc["PLATE-1", "customer_id"] == "ann@example.com"
    assert str(rows.loc["PLATE-1", "ordered_at"]) == "2024-03-01 09:00:00"  # UTC
    assert rows.loc["PLATE-1", "currency"] == "EUR"
    assert bool(rows.loc["BOWL-1", "is_return"]) and rows.loc["BOWL-1", "amount"] == pytest.approx(-9.0)
    assert not bool(rows.loc["MUG-1", "is_return"]) and rows.loc["MUG-1", "amount"] == pytest.approx(17.0)
    ann = store.query("SELECT name, email FROM customers WHERE customer_id = 'ann@example.com'").iloc[0]
    assert (ann["name"], ann["email"]) == ("Ann Lee", "ann@example.com")


GENERIC = (
    "Order Ref;Client;When;SKU;Qty;Price;Returned\n"
    "A1;c1;2024-01-05;S1;2;10,50;no\n"
    "A2;c2;05/01/2024;S2;-1;4,00;yes\n"
    "A3;c1;2024-01-07T08:00:00Z;S3;1;€3,20;\n"
)


def test_generic_preset_with_map_decimal_commas_and_returns(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "orders.csv", GENERIC)
    mapping = {"Order Ref": "order_id", "Client": "customer_id", "When": "ordered_at", "Returned": "is_return"}
    result = import_file(store, path, "orders", mapping=mapping)
    assert (result.accepted, result.rejected) == (3, 0), result.quarantine
    rows = store.query("SELECT order_id, quantity, unit_price, amount, is_return FROM orders ORDER BY order_id")
    assert rows["unit_price"].tolist() == pytest.approx([10.5, 4.0, 3.2])
    assert rows["is_return"].tolist() == [False, True, False]
    assert rows["amount"].tolist() == pytest.approx([21.0, -4.0, 3.2])


def test_map_with_unknown_column_or_field_is_a_clear_error(duck_store: Store, retail_csv: Path) -> None:
    with pytest.raises(InputError, match="column 'Nope' is not in"):
        import_file(duck_store, retail_csv, "orders", preset="online-retail", mapping={"Nope": "order_id"})
    with pytest.raises(InputError, match="not a field of orders"):
        import_file(duck_store, retail_csv, "orders", preset="online-retail", mapping={"Country": "planet"})


def test_missing_required_column_names_the_fix(duck_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "a,b\n1,2\n")
    with pytest.raises(InputError, match="--map COLUMN=order_id"):
        import_file(duck_store, path, "orders")


def test_unknown_preset_and_missing_file_are_clear_errors(duck_store: Store, retail_csv: Path) -> None:
    with pytest.raises(ConfigError, match="online-retail"):
        import_file(duck_store, retail_csv, "orders", preset="amazon")
    with pytest.raises(InputError, match="File not found"):
        import_file(duck_store, retail_csv.with_name("nope.csv"), "orders")


def test_progress_is_reported_per_batch(duck_store: Store, retail_csv: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    import_file(duck_store, retail_csv, "orders", preset="online-retail", progress=lambda n, t: seen.append((n, t)))
    assert seen and seen[-1][0] == len(RETAIL_ROWS)


def test_chunked_commits_are_undone_when_the_import_fails(
    store: Store, retail_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import heedful.ingest.importer as importer

    monkeypatch.setattr(importer, "BATCH_ROWS", 2)

    def boom(self: OrdersSink) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(OrdersSink, "finish", boom)
    with pytest.raises(RuntimeError):
        import_file(store, retail_csv, "orders", preset="online-retail", commit_every=2)
    assert store.count("orders") == 0 and store.count("quarantine") == 0


def test_chunked_commits_store_the_same_rows(store: Store, retail_csv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import heedful.ingest.importer as importer

    monkeypatch.setattr(importer, "BATCH_ROWS", 2)
    result = import_file(store, retail_csv, "orders", preset="online-retail", commit_every=2)
    assert (result.accepted, result.rejected, result.duplicates) == (6, 4, 1)
    assert store.count("customers") == 3


@pytest.mark.parametrize("batch_rows", [2, 1000])
def test_a_line_repeated_in_the_file_is_stored_once_from_its_first_occurrence(
    store: Store, retail_csv: Path, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    """Lines 5 and 8 are the same order line: in one batch or in two, line 5 is kept and line 8 is a duplicate."""
    import heedful.ingest.importer as importer

    monkeypatch.setattr(importer, "BATCH_ROWS", batch_rows)
    result = import_file(store, retail_csv, "orders", preset="online-retail")
    assert (result.accepted, result.duplicates) == (GOOD_RETAIL_LINES - 1, 1)
    lines = store.query("SELECT source_line FROM orders WHERE product_id = '84879'")["source_line"].tolist()
    assert lines == [5]
    again = import_file(store, retail_csv, "orders", preset="online-retail")
    assert (again.accepted, again.duplicates) == (0, GOOD_RETAIL_LINES)


def test_the_first_line_is_kept_whatever_order_the_validated_rows_come_back_in(
    store: Store, retail_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch is validated on both cores and its halves may come back either way round (on PostgreSQL
    line 8 was kept now and then): here every validated batch comes back in reverse line order."""
    import pyarrow as pa

    import heedful.ingest.importer as importer

    class Reversed(importer._Prefetch):
        def __init__(self, reader: pa.RecordBatchReader, validate: Any, depth: int = 2) -> None:
            super().__init__(reader, lambda batch: validate(batch).take(list(range(batch.num_rows - 1, -1, -1))), depth)

    monkeypatch.setattr(importer, "_Prefetch", Reversed)
    result = import_file(store, retail_csv, "orders", preset="online-retail")
    assert (result.accepted, result.duplicates) == (GOOD_RETAIL_LINES - 1, 1)
    assert store.query("SELECT source_line FROM orders WHERE product_id = '84879'")["source_line"].tolist() == [5]
