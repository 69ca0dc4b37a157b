"""Bad input: importers fuzzed with Hypothesis (CSV, Excel, JSON Lines), decompression bombs and
oversized uploads refused with a clear error."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heedful.errors import InputError
from heedful.ingest import decompression, import_file
from heedful.services.accounts import Role
from heedful.store import Store, connect
from heedful.web import imports as web_imports
from heedful.web.app import create_app

from .conftest import World

COLUMNS = ["order_id", "customer_id", "ordered_at", "product_id", "quantity", "unit_price"]
FUZZ = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Text that spreadsheet writers accept (no control characters, no lone surrogates).
printable = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30)
anything = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)


def field_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, str]]:
    """One order line: each field either plausible or junk, so rows are good, bad and duplicated."""
    ids = st.sampled_from(["O1", "O2", "O3", "O-ünï", "  O4 "]) | text.filter(lambda s: s.strip() != "")
    dates = st.sampled_from(["2024-01-05", "2024-13-45", "5/1/2024", "yesterday", "", "2024-02-29T10:00:00"]) | text
    numbers = st.sampled_from(["1", "2.5", "-3", "1e309", "NaN", "", "1,5", "0x10", "∞"]) | text
    return st.fixed_dictionaries(
        {
            "order_id": ids,
            "customer_id": st.sampled_from(["C1", "C2", ""]) | text,
            "ordered_at": dates,
            "product_id": st.sampled_from(["P1", "P2"]) | text,
            "quantity": numbers,
            "unit_price": numbers,
        }
    )


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.duckdb'}")
    yield store
    store.close()


def check_accounting(store: Store, path: Path, rows: int) -> None:
    """No crash; every row is accepted, rejected (quarantined with a reason) or a duplicate."""
    try:
        result = import_file(store, path, "orders")
    except InputError as exc:  # a file that cannot be read at all is refused with a message
        assert str(exc).strip()
        return
    assert result.accepted + result.rejected + result.duplicates == rows, result.to_dict()
    reasons = store.fetchall("SELECT line, error FROM quarantine WHERE import_id = ?", [result.import_id])
    assert len(reasons) == result.rejected
    assert all(error and str(error).strip() for _, error in reasons)


@FUZZ
@given(rows=st.lists(field_values(anything), min_size=1, max_size=25))
def test_fuzzed_csv_rows_are_each_accounted_for(fuzz_store: Store, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    check_accounting(fuzz_store, path, len(rows))


@FUZZ
@given(rows=st.lists(field_values(printable), min_size=1, max_size=25))
def test_fuzzed_excel_rows_are_each_accounted_for(
    fuzz_store: Store, tmp_path: Path, rows: list[dict[str, str]]
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row[c] for c in COLUMNS])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    check_accounting(fuzz_store, path, len(rows))


json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | anything,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
garbage_line = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\n\r"), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")


@FUZZ
@given(
    lines=st.lists(
        field_values(anything).map(json.dumps)
        | st.dictionaries(st.sampled_from([*COLUMNS, "extra"]), json_values, max_size=6).map(json.dumps)
        | garbage_line
        | st.just("[1, 2, 3]")
        | st.just('{"order_id": "O9", "broken": '),
        min_size=1,
        max_size=25,
    )
)
def test_fuzzed_json_lines_are_each_accounted_for(fuzz_store: Store, tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    check_accounting(fuzz_store, path, len(lines))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    blob=st.binary(max_size=400), name=st.sampled_from(["orders.csv", "orders.jsonl", "orders.xlsx", "orders.csv.gz"])
)
def test_random_bytes_never_crash_an_importer(fuzz_store: Store, tmp_path: Path, blob: bytes, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(blob)
    try:
        result = import_file(fuzz_store, path, "orders")
    except InputError as exc:  # unreadable: refused with a message, nothing stored
        assert str(exc).strip()
        return
    reasons = fuzz_store.fetchall("SELECT error FROM quarantine WHERE import_id = ?", [result.import_id])
    assert len(reasons) == result.rejected and all(str(e).strip() for (e,) in reasons)


# ------------------------------------------------------------------ decompression bombs
@pytest.fixture
def small_bomb_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Bombs are judged past 64 MiB in production; 1 MiB here keeps the test fast."""
    monkeypatch.setattr(decompression, "BOMB_MIN_BYTES", 2**20)


def test_gzip_bomb_is_refused_before_it_is_read(tmp_path: Path, small_bomb_threshold: None) -> None:
    path = tmp_path / "orders.csv.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b"order_id,customer_id,ordered_at,quantity,unit_price\n")
        for _ in range(16):
            fh.write(b"\0" * 2**20)
    assert path.stat().st_size < 100_000
    store = connect("duckdb://")
    with pytest.raises(InputError, match="decompression bomb"):
        import_file(store, path, "orders")
    assert store.count("orders") == 0


def test_gzip_over_the_size_limit_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decompression, "MAX_DECOMPRESSED_BYTES", 10_000)
    path = tmp_path / "orders.csv.gz"
    lines = "".join(f"O{i},C{i % 7},2024-01-0{1 + i % 9},1,{i}.5\n" for i in range(2000))
    path.write_bytes(gzip.compress(("order_id,customer_id,ordered_at,quantity,unit_price\n" + lines).encode()))
    with pytest.raises(InputError, match="HEEDFUL_MAX_DECOMPRESSED_BYTES"):
        import_file(connect("duckdb://"), path, "orders")


def test_an_honest_gzip_file_still_imports(tmp_path: Path, small_bomb_threshold: None) -> None:
    path = tmp_path / "orders.csv.gz"
    lines = "".join(f"O{i},C{i % 7},2024-01-0{1 + i % 9},1,{i}.5\n" for i in range(500))
    path.write_bytes(gzip.compress(("order_id,customer_id,ordered_at,quantity,unit_price\n" + lines).encode()))
    result = import_file(connect("duckdb://"), path, "orders")
    assert result.accepted == 500


def test_excel_zip_bomb_is_refused(tmp_path: Path, small_bomb_threshold: None) -> None:
    from openpyxl import Workbook

    honest = tmp_path / "honest.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["order_id", "customer_id", "ordered_at", "quantity", "unit_price"])
    book.save(honest)
    bomb = tmp_path / "orders.xlsx"
    with zipfile.ZipFile(honest) as src, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        with dst.open("xl/media/padding.bin", "w") as pad:
            for _ in range(16):
                pad.write(b"\0" * 2**20)
    assert bomb.stat().st_size < 100_000
    with pytest.raises(InputError, match="decompression bomb"):
        import_file(connect("duckdb://"), bomb, "orders")


# ------------------------------------------------------------------ oversized uploads
@pytest.fixture
def tiny_upload_app(world: World, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setattr(web_imports, "MAX_UPLOAD_BYTES", 4096)
    return TestClient(create_app(store=world.store, secret_key="uploads", warm_cache=False))


def test_huge_upload_is_refused_before_it_is_read(world: World, tiny_upload_app: TestClient) -> None:
    before = world.store.count("imports")
    huge = io.BytesIO(b"order_id,customer_id\n" + b"O1,C1\n" * 400_000)  # 2.4 MB against 1 MiB + 4 KiB
    response = tiny_upload_app.post(
        "/api/v1/imports",
        headers={"Authorization": f"Bearer {world.tokens[Role.analyst]}"},
        data={"entity": "orders"},
        files={"file": ("orders.csv", huge, "text/csv")},
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "larger than" in response.json()["detail"]
    assert world.store.count("imports") == before


def test_upload_over_the_limit_is_refused_with_a_message(world: World, tiny_upload_app: TestClient) -> None:
    before = world.store.count("imports")
    body = b"order_id,customer_id,ordered_at,quantity,unit_price\n" + b"O1,C1,2024-01-01,1,1\n" * 400
    response = tiny_upload_app.post(
        "/api/v1/imports",
        headers={"Authorization": f"Bearer {world.tokens[Role.analyst]}"},
        data={"entity": "orders"},
        files={"file": ("orders.csv", body, "text/csv")},
    )
    assert response.status_code == 400
    assert "larger than" in response.json()["detail"] and "heedful import" in response.json()["detail"]
    assert world.store.count("imports") == before
