"""Cells safe to open in a spreadsheet: the one guard every CSV/Excel export goes through.

A cell that starts with "=", "+", "-", "@", a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (CSV injection: `=cmd|' /C calc'!A0`). Such cells get a leading apostrophe,
which spreadsheets show as a text marker, as OWASP recommends. Plain numbers ("-5", "+44") are left as
they are: they are not formulas, and returns carry negative quantities. A leaf: imports only pandas.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """`value` with a leading apostrophe when a spreadsheet would run it as a formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(_TRIGGERS) and not _NUMBER.match(value.strip()):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells (and column names) are safe to open in a spreadsheet."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out


def frame_to_csv(frame: pd.DataFrame, path_or_buffer: Any) -> None:
    """Write `frame` as CSV (no index) with every cell made safe for spreadsheets."""
    safe_frame(frame).to_csv(path_or_buffer, index=False)
