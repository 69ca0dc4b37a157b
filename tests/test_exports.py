"""Every CSV export neutralises cells a spreadsheet would run as formulas (CSV injection)."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from heedful.exports import frame_to_csv, safe_cell
from heedful.services.imports import quarantine_csv


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+SUM(A1)", "-2+3", "@SUM(1)", "\tx", "\rx", "=1"])
def test_formula_cells_get_a_leading_apostrophe(cell: str) -> None:
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-5", "+44", "-1.5e3", "plain text", "", "a=b", 42, None])
def test_numbers_and_ordinary_text_are_unchanged(cell: object) -> None:
    assert safe_cell(cell) == cell


def test_frame_exports_and_the_quarantine_download_are_safe() -> None:
    buf = io.StringIO()
    frame_to_csv(pd.DataFrame({"name": ["=cmd|' /C calc'!A0"], "qty": [-5]}), buf)
    assert buf.getvalue().splitlines()[1] == "'=cmd|' /C calc'!A0,-5"
    text = quarantine_csv([{"raw": {"InvoiceNo": '=HYPERLINK("http://x")', "Quantity": "-3"}}])
    assert text.splitlines()[1] == '"\'=HYPERLINK(""http://x"")",-3'
