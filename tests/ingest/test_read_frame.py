"""`read_frame`: the importer's reader for every command that takes a file."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.ingest.sources import read_frame


def test_any_delimiter_and_gzip_read_as_trimmed_text(tmp_path: Path) -> None:
    path = tmp_path / "people.csv.gz"
    path.write_bytes(gzip.compress(b"id;name;score\n007; Ann ;3.5\n42;;\n"))
    frame = read_frame(path)
    assert list(frame.columns) == ["id", "name", "score"]
    assert frame.to_dict(orient="records") == [
        {"id": "007", "name": "Ann", "score": "3.5"},
        {"id": "42", "name": None, "score": None},
    ]


def test_numbers_become_floats_only_where_every_value_parses(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,x\n2.5,3\n")
    frame = read_frame(path, numbers=True)
    assert frame["a"].tolist() == [1.0, 2.5]
    assert frame["b"].tolist() == ["x", "3"]


def test_parquet_and_cp1252_text(tmp_path: Path) -> None:
    parquet = tmp_path / "t.parquet"
    pd.DataFrame({"id": ["1"], "v": [2]}).to_parquet(parquet)
    assert read_frame(parquet, numbers=True).to_dict(orient="records") == [{"id": 1.0, "v": 2.0}]
    latin = tmp_path / "l.csv"
    latin.write_bytes("name\nCafé\n".encode("latin-1"))
    assert read_frame(latin, encoding="latin-1")["name"].tolist() == ["Café"]


def test_a_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="File not found"):
        read_frame(tmp_path / "nope.csv")


def test_runs_of_blanks_with_and_without_a_header(tmp_path: Path) -> None:
    from heedful.ingest.sources import WHITESPACE

    with_header = tmp_path / "cdnow.txt"
    with_header.write_text(" customer_id  date number_of_cds  dollar_value\r\n 00001 19970101  1   11.77\r\n\r\n")
    frame = read_frame(with_header, delimiter=WHITESPACE, numbers=True)
    assert list(frame.columns) == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert frame["dollar_value"].tolist() == [11.77]
    bare = tmp_path / "sample.txt"
    bare.write_text("  0004 0001 19970101 2 29.33\n  0004 0001 19970118 2 29.73 extra\n")
    with pytest.raises(InputError, match=r"sample.txt, line 2: 6 fields where 5 were expected"):
        read_frame(bare, delimiter=WHITESPACE, names=["master", "customer", "date", "cds", "amount"])


def test_read_table_reads_a_column_as_written_only_when_asked_and_says_when_a_key_needs_trimming(
    tmp_path: Path,
) -> None:
    """`value clv FILE` groups by the customer ids as written and checks the distinct ids afterwards: the
    check must see every id the default reading would change (blanks around it, only blanks)."""
    import duckdb

    from heedful.ingest.sources import needs_trimming, read_table

    path = tmp_path / "orders.csv"
    path.write_text('id,amount\n" a ",1\nb,2\n"  ",3\n,4\n')
    con = duckdb.connect()
    read_table(con, path, "trimmed", types={"amount": "DOUBLE"})
    read_table(con, path, "written", types={"amount": "DOUBLE"}, as_written=["id"])
    trimmed = con.execute("SELECT id FROM trimmed ORDER BY amount").fetchall()
    written = con.execute("SELECT id FROM written ORDER BY amount").fetchall()
    assert [r[0] for r in trimmed] == ["a", "b", None, None]
    assert [r[0] for r in written] == [" a ", "b", "  ", None]
    keys = pd.DataFrame({"id": ["a", "b", None]})
    assert not needs_trimming(con, keys, "id")
    for odd in (" a", "b ", "  ", ""):
        assert needs_trimming(con, pd.DataFrame({"id": ["a", odd]}), "id"), repr(odd)
