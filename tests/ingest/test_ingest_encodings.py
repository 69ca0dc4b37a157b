"""A UTF-8 file with a corrupt line: that record is quarantined, nothing else is lost or mangled (issue 19).

Before, a file that was not entirely valid UTF-8 was read as Windows-1252, so one bad byte sequence turned
every é, € and emoji of the file into mojibake ("Ã©"); past the reader's sample it stopped the import with
a traceback.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.ingest import import_file
from heedful.store import Store

CORRUPT = b"\xff\xfe\xfa"
PEOPLE = {
    "c1": ("Zoë Müller", "Zürich", "“VIP” — paid €120"),
    "c2": ("José Ñúñez", "São Paulo", "likes 😀"),
    "c4": ("Åsa Øberg", "Tromsø", "naïve façade"),
}


def _customers_csv(path: Path) -> tuple[Path, int]:
    """c1, c2, a corrupt c3 on line 4, c4; returns the path and the offset of the corrupt bytes."""
    head = "customer_id,name,city,note\n"
    rows = [f"{cid},{name},{city},{note}\n" for cid, (name, city, note) in PEOPLE.items()]
    data = (head + rows[0] + rows[1]).encode() + b"c3,Bad " + CORRUPT + b" Name,Lyon,x\n" + rows[2].encode()
    path.write_bytes(data)
    return path, data.index(CORRUPT)


def test_a_utf8_file_with_one_corrupt_line_quarantines_that_line_and_keeps_every_accent(
    store: Store, tmp_path: Path
) -> None:
    path, offset = _customers_csv(tmp_path / "customers.csv")
    result = import_file(store, path, "customers")
    assert (result.accepted, result.rejected) == (3, 1)
    assert result.quarantine == [
        {"line": 4, "error": f"not valid UTF-8 at byte {offset} (ff fe fa)", "file": str(path)}
    ]
    stored = store.fetchall("SELECT customer_id, name, city, attributes FROM customers ORDER BY customer_id")
    assert [(c, n, t) for c, n, t, _ in stored] == [(c, n, t) for c, (n, t, _) in PEOPLE.items()]
    assert [json.loads(a)["note"] for *_, a in stored] == [note for _, _, note in PEOPLE.values()]
    line, error, raw, file = store.fetchall("SELECT line, error, raw, source_file FROM quarantine")[0]
    assert (line, file) == (4, str(path)) and error.startswith("not valid UTF-8 at byte")
    assert json.loads(raw) == {"customer_id": "c3", "name": "Bad \ufffd\ufffd\ufffd Name", "city": "Lyon", "note": "x"}


def test_the_record_holding_bad_bytes_is_set_aside_whole_and_later_records_keep_their_numbers(
    duck_store: Store, tmp_path: Path
) -> None:
    """A quoted record over three physical lines holds the bad bytes: it goes as one, numbered like every record
    (the header line 1, one number per record); the reason names the physical line of the bytes."""
    data = (
        "external_id,customer_id,created_at,text\n"
        "f1,c1,2024-01-01,Très bon café\n"
        'f2,c1,2024-01-02,"first line\nsecond '.encode()
        + CORRUPT
        + b' line\nthird"\n'
        + 'f3,c2,2024-01-03,"deux\nlignes, “citées”"\nf4,c3,2024-01-04,Zoë 😀\n'.encode()
    )
    path = tmp_path / "feedback.csv"
    path.write_bytes(data)
    result = import_file(duck_store, path, "feedback")
    assert (result.accepted, result.rejected) == (3, 1)
    assert result.quarantine[0]["line"] == 3
    assert result.quarantine[0]["error"] == f"not valid UTF-8 at byte {data.index(CORRUPT)}, physical line 4 (ff fe fa)"
    rows = duck_store.fetchall("SELECT external_id, text, source_line FROM feedback ORDER BY external_id")
    assert rows == [("f1", "Très bon café", 2), ("f3", "deux\nlignes, “citées”", 4), ("f4", "Zoë 😀", 5)]


def test_a_corrupt_line_past_the_readers_sample_is_quarantined_not_a_traceback(
    duck_store: Store, tmp_path: Path
) -> None:
    """DuckDB met it while streaming (line 30,002): the import stopped with an OSError traceback."""
    rows = [f"c{i},Zoë {i},Zürich" for i in range(40_000)]
    data = ("customer_id,name,city\n" + "\n".join(rows[:30_000]) + "\n").encode()
    data += b"bad,\xc3(," + CORRUPT + b"\n" + ("\n".join(rows[30_000:]) + "\n").encode()
    path = tmp_path / "many.csv.gz"
    path.write_bytes(gzip.compress(data))
    result = import_file(duck_store, path, "customers")
    assert (result.accepted, result.rejected) == (40_000, 1)
    offset = data.index(b"\xc3(")
    assert result.quarantine[0] == {
        "line": 30_002,
        "error": f"not valid UTF-8 at byte {offset} (c3) and 1 more place in this record",
        "file": str(path),
    }
    names = dict(duck_store.fetchall("SELECT customer_id, name FROM customers WHERE customer_id IN ('c0', 'c39999')"))
    assert names == {"c0": "Zoë 0", "c39999": "Zoë 39999"}


def test_a_json_lines_file_with_a_corrupt_line_quarantines_that_line(duck_store: Store, tmp_path: Path) -> None:
    good = [
        {"id": "r1", "text": "Très bien 😀", "date": "2024-01-01"},
        {"id": "r2", "text": "Zoë", "date": "2024-01-02"},
    ]
    lines = [json.dumps(good[0], ensure_ascii=False).encode(), b'{"id": "r3", "text": "' + CORRUPT + b'"}']
    data = b"\n".join([*lines, json.dumps(good[1], ensure_ascii=False).encode()]) + b"\n"
    path = tmp_path / "reviews.jsonl"
    path.write_bytes(data)
    result = import_file(duck_store, path, "feedback")
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.quarantine[0]["line"] == 2
    assert result.quarantine[0]["error"] == f"not valid UTF-8 at byte {data.index(CORRUPT)} (ff fe fa)"
    assert duck_store.fetchall("SELECT text FROM feedback ORDER BY external_id") == [("Très bien 😀",), ("Zoë",)]


@pytest.mark.parametrize(
    "text",
    [
        "customer_id,name\nc1,Café “Bistro” €\nc2,Zoë\nc3,«CAFÉ» crème\n",  # É» happens to be valid UTF-8 (ɻ)
        "customer_id,name\nc1,Café “Bistro” €\nc2,Zoë\n" + "".join(f"c{i},plain\n" for i in range(3, 500)),
    ],
)
def test_a_windows_1252_file_is_still_read_as_windows_1252(duck_store: Store, tmp_path: Path, text: str) -> None:
    """Invalid UTF-8 all over and no (or less) valid multi-byte text: the evidence says Windows-1252."""
    path = tmp_path / "export.csv"
    path.write_bytes(text.encode("cp1252"))
    result = import_file(duck_store, path, "customers")
    assert result.rejected == 0
    names = dict(duck_store.fetchall("SELECT customer_id, name FROM customers WHERE customer_id IN ('c1','c2','c3')"))
    expected = {"c1": "Café “Bistro” €", "c2": "Zoë", "c3": "«CAFÉ» crème" if "CAFÉ" in text else "plain"}
    assert names == expected


def test_the_import_command_reports_the_corrupt_line(tmp_path: Path, duckdb_url: str) -> None:
    data = "external_id,customer_id,created_at,text\nf1,c1,2024-01-01,Très bon café\n".encode()
    data += b"f2,c2,2024-01-02,bad " + CORRUPT + b"\n" + "f3,c3,2024-01-03,Zoë 😀\n".encode()
    path = tmp_path / "feedback.csv"
    path.write_bytes(data)
    shown = CliRunner().invoke(app, ["import", "feedback", str(path), "--db", duckdb_url])
    assert shown.exit_code == 0, shown.output
    assert f"{path}:3: not valid UTF-8 at byte {data.index(CORRUPT)} (ff fe fa)" in shown.stdout
    assert "2 accepted" in shown.stdout and "1 rejected" in shown.stdout
    again = CliRunner().invoke(app, ["import", "feedback", str(path), "--db", duckdb_url, "--json"])
    doc = json.loads(again.stdout)
    assert (doc["accepted"], doc["duplicates"], doc["rejected"]) == (0, 2, 1)
    assert doc["quarantine"][0]["line"] == 3 and doc["quarantine"][0]["error"].startswith("not valid UTF-8")
