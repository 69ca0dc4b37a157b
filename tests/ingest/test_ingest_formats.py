"""Every input format reaches the same rows: CSV (any delimiter, Latin-1, gz), Parquet, Excel, JSON Lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from ingest_data import RETAIL_HEADER, RETAIL_ROWS, write

from heedful.ingest import import_file
from heedful.store import Store

GOOD = RETAIL_ROWS[:7]


def _frame() -> pd.DataFrame:
    rows = [r.split(",") for r in GOOD]
    return pd.DataFrame(rows, columns=RETAIL_HEADER.split(","))


def _stored(store: Store) -> list[tuple[str, str, float]]:
    frame = store.query("SELECT order_id, product_id, amount FROM orders ORDER BY order_id, product_id")
    return [(a, b, round(float(c), 2)) for a, b, c in frame.itertuples(index=False)]


@pytest.fixture
def expected(duck_store: Store, tmp_path: Path) -> list[tuple[str, str, float]]:
    reference = duck_store.__class__("duckdb://")
    import_file(
        reference, write(tmp_path / "ref.csv", "\n".join([RETAIL_HEADER, *GOOD]) + "\n"), "orders", "online-retail"
    )
    rows = _stored(reference)
    reference.close()
    assert len(rows) == 6
    return rows


def test_semicolon_latin1_csv_is_detected(duck_store: Store, tmp_path: Path, expected: list) -> None:
    lines = [RETAIL_HEADER.replace(",", ";")] + [r.replace(",", ";") for r in GOOD]
    lines[1] = lines[1].replace("WHITE HANGING HEART", "CAFÉ CRÈME HEART")
    path = write(tmp_path / "latin.csv", "\n".join(lines) + "\n", encoding="latin-1")
    result = import_file(duck_store, path, "orders", preset="online-retail")
    assert (result.accepted, result.rejected) == (6, 0)
    assert _stored(duck_store) == expected
    names = duck_store.query("SELECT product_name FROM orders WHERE product_id = '85123A'")["product_name"]
    assert names.iloc[0] == "CAFÉ CRÈME HEART T-LIGHT HOLDER"


def test_explicit_encoding_and_tab_delimiter(duck_store: Store, tmp_path: Path, expected: list) -> None:
    lines = [RETAIL_HEADER.replace(",", "\t")] + [r.replace(",", "\t") for r in GOOD]
    path = write(tmp_path / "cp.tsv", "\n".join(lines) + "\n", encoding="cp1252")
    result = import_file(duck_store, path, "orders", preset="online-retail", encoding="cp1252", delimiter="\\t")
    assert result.accepted == 6
    assert _stored(duck_store) == expected


def test_gzip_csv(store: Store, tmp_path: Path, expected: list) -> None:
    path = tmp_path / "retail.csv.gz"
    path.write_bytes(gzip.compress(("\n".join([RETAIL_HEADER, *GOOD]) + "\n").encode()))
    assert import_file(store, path, "orders", preset="online-retail").accepted == 6
    assert _stored(store) == expected


def test_parquet_with_typed_columns(store: Store, tmp_path: Path, expected: list) -> None:
    frame = _frame()
    frame["Quantity"] = frame["Quantity"].astype(int)
    frame["UnitPrice"] = frame["UnitPrice"].astype(float)
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    path = tmp_path / "retail.parquet"
    frame.to_parquet(path, index=False)
    assert import_file(store, path, "orders", preset="online-retail").accepted == 6
    assert _stored(store) == expected


def test_excel_rows_count_from_the_header_row(duck_store: Store, tmp_path: Path, expected: list) -> None:
    frame = _frame()
    frame["Quantity"] = frame["Quantity"].astype(int)
    frame.loc[2, "InvoiceDate"] = "garbage"
    path = tmp_path / "retail.xlsx"
    frame.to_excel(path, index=False)
    result = import_file(duck_store, path, "orders", preset="online-retail")
    assert result.rejected == 1 and result.quarantine[0]["line"] == 4  # header row 1, third record row 4
    assert result.accepted == 5


def test_json_lines_with_blank_and_broken_lines(store: Store, tmp_path: Path) -> None:
    records = [
        {
            "review_id": "r1",
            "user_id": "u1",
            "business_id": "b1",
            "stars": 5,
            "text": "Great",
            "date": "2020-01-01 10:00:00",
        },
        {
            "review_id": "r2",
            "user_id": "u2",
            "business_id": "b1",
            "stars": 2,
            "text": "Slow",
            "date": "2020-01-02 10:00:00",
        },
    ]
    lines = [json.dumps(records[0]), "", "{not json", json.dumps(records[1])]
    path = write(tmp_path / "review.jsonl", "\n".join(lines) + "\n")
    result = import_file(store, path, "feedback", preset="yelp")
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.quarantine[0]["line"] == 3 and "JSON" in result.quarantine[0]["error"]
    rows = store.query("SELECT feedback_id, rating, source_line FROM feedback ORDER BY feedback_id")
    assert rows["feedback_id"].tolist() == ["yelp:r1", "yelp:r2"]
    assert rows["source_line"].tolist() == [1, 4]
    raw = store.query("SELECT raw FROM quarantine")["raw"].iloc[0]
    assert raw == "{not json"


def test_malformed_csv_records_are_quarantined_and_later_lines_keep_their_numbers(store: Store, tmp_path: Path) -> None:
    text = (
        RETAIL_HEADER + "\n"
        "1,A,x,1,2011-01-01,2.0,1,UK\n"
        "2,B,y,1,2011-01-01,2.0,1,UK,extra\n"
        '3,C,"two\nlines",1,2011-01-01,2.0,1,UK\n'
        "4,D\n"
        "5,E,z,1,bad date,2.0,1,UK\n"
        "6,F,w,1,2011-01-01,2.0,1,UK\n"
    )
    result = import_file(store, write(tmp_path / "broken.csv", text), "orders", preset="online-retail")
    assert (result.accepted, result.rejected) == (3, 3)
    errors = {q["line"]: q["error"] for q in result.quarantine}
    assert set(errors) == {3, 5, 6}
    assert "malformed CSV record" in errors[3] and "malformed CSV record" in errors[5]
    assert "unparseable date" in errors[6]
    lines = store.query("SELECT order_id, source_line FROM orders ORDER BY order_id")
    assert lines["source_line"].tolist() == [2, 4, 7]
    raw = store.query("SELECT raw FROM quarantine WHERE line = 3").iloc[0, 0]
    assert raw == "2,B,y,1,2011-01-01,2.0,1,UK,extra"


def test_a_record_starting_with_a_hash_is_read_not_taken_for_a_comment(duck_store: Store, tmp_path: Path) -> None:
    # DuckDB's sniffer guessed "#" as a comment character and this order vanished without a word
    text = "order_id,customer_id,ordered_at,product_id,quantity,unit_price\n"
    text += "O1,C1,2024-01-05,P1,1,1\n#,C1,2024-01-05,P1,1,00\n"
    result = import_file(duck_store, write(tmp_path / "hash.csv", text), "orders")
    assert (result.accepted, result.rejected, result.duplicates) == (2, 0, 0)
    lines = duck_store.query("SELECT order_id, source_line FROM orders ORDER BY source_line")
    assert lines["order_id"].tolist() == ["O1", "#"] and lines["source_line"].tolist() == [2, 3]


@pytest.mark.parametrize("header", ["customer_id,email,Email", "customer_id;name;customer_id"])
def test_a_header_naming_a_column_twice_is_refused_by_name(duck_store: Store, tmp_path: Path, header: str) -> None:
    """The reader once renamed the copy (Email_1) and the import silently took the first."""
    from heedful.errors import InputError

    sep = ";" if ";" in header else ","
    path = tmp_path / "people.csv"
    path.write_text(header + "\n" + sep.join(["c1", "a@b.co", "x"]) + "\n")
    with pytest.raises(InputError, match="more than once") as refused:
        import_file(duck_store, path, "customers")
    repeated = "email" if "email" in header else "customer_id"
    assert f"'{repeated}'" in str(refused.value)
    assert duck_store.count("customers") == 0


def test_a_json_lines_record_with_a_control_character_is_quarantined_not_lost(
    duck_store: Store, tmp_path: Path
) -> None:
    """Found by the fuzz test: the line reader split on \\x01, so "\\x01" alone vanished and "ab\\x01cd" lost "cd"."""
    row = {"order_id": "O1", "customer_id": "c", "ordered_at": "2024-01-01", "product_id": "p", "quantity": "1"}
    lines = [json.dumps({**row, "unit_price": "2"}), "\x01", json.dumps({**row, "order_id": "O2", "unit_price": "2"})]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join([*lines, "ab\x01cd"]) + "\n", encoding="utf-8")
    result = import_file(duck_store, path, "orders")
    assert (result.accepted, result.rejected) == (2, 2)
    raws = dict(duck_store.fetchall("SELECT line, raw FROM quarantine ORDER BY line"))
    assert raws == {2: "\x01", 4: "ab\x01cd"}


def test_an_over_long_line_is_refused_with_a_short_message(duck_store: Store, tmp_path: Path) -> None:
    """A 2 MB line once made the import crawl and printed the whole line back."""
    from heedful.errors import InputError
    from heedful.ingest.sources import MAX_RECORD_BYTES

    path = tmp_path / "orders.csv"
    path.write_text("order_id,customer_id\n1,c1\n2," + "x" * (2 * MAX_RECORD_BYTES) + "\n")
    with pytest.raises(InputError, match="longer than") as refused:
        import_file(duck_store, path, "orders")
    assert len(str(refused.value)) < 400 and "xxxxxxxxxx" not in str(refused.value)
    assert duck_store.count("orders") == 0


def test_a_windows_1252_export_and_utf16_with_a_bom_are_read_without_being_told(
    duck_store: Store, tmp_path: Path
) -> None:
    """A cp1252 file with € and curly quotes was refused as "not latin-1"; UTF-16 needed --encoding."""
    cp1252 = tmp_path / "excel-export.csv"
    cp1252.write_bytes("customer_id,name\nc1,Café “Bistro” €\n".encode("cp1252"))
    utf16 = tmp_path / "utf16.csv"
    utf16.write_bytes("customer_id,name\nc2,Zoë\n".encode("utf-16"))  # with its byte-order mark
    for path in (cp1252, utf16):
        assert import_file(duck_store, path, "customers").accepted == 1
    names = dict(duck_store.fetchall("SELECT customer_id, name FROM customers"))
    assert names == {"c1": "Café “Bistro” €", "c2": "Zoë"}
