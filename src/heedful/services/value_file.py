"""`heedful value clv FILE` without waiting for its imports: the file's transaction summary starts in a
background thread (DuckDB releases the GIL) while the caller imports the models' libraries.

Only the standard library, DuckDB and the importer's reader load here. The summary is the one
`services.value.summary_of` gives for the same file (`value.summary_sql`); where this route does not
apply — the CDNOW or Online Retail layout, a return column, a date format, a column missing, an
observation end — `start_file_summary` says so at once (or its result is None) and the caller takes the
general route, which also reports the errors.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from heedful.ingest.sources import needs_trimming, read_table
from heedful.value import DEFAULT_MODEL
from heedful.value.summary_sql import UNIT_DAYS, summary_arrow

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: the UCI Online Retail layout (`services.value.read_orders_file` derives its amounts)
ONLINE_RETAIL = {"InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate"}


def first_line(path: Path) -> str:
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
        return str(fh.readline())


def cdnow_layout(first: str) -> str | None:
    """Which CDNOW file (Fader & Hardie: columns separated by runs of spaces) has this first line: "plain"
    (no header; [master id] customer id, YYYYMMDD, number of CDs, dollar value), "header" (a header naming
    customer_id, date and dollar_value), or None for another file."""
    fields = first.split()
    if len(fields) in (4, 5) and all(f.replace(".", "").isdigit() for f in fields):
        return "plain"
    if first.strip().lower().startswith("customer_id") and "date" in first and "dollar_value" in first:
        return "header"
    return None


def whitespace_layout(first: str) -> bool:
    """The CDNOW files (Fader & Hardie): columns separated by runs of spaces, with or without a header."""
    return cdnow_layout(first) is not None


def columns_to_read(
    columns: list[str], customer: str, date: str | None, amount: str | None, is_return: str | None
) -> list[str] | None:
    """The file's columns the analyses use; all where one is missing (the error then lists them); None for
    the Online Retail layout (`read_orders_file` derives its amounts)."""
    if set(columns) >= ONLINE_RETAIL:
        return None
    needed = {c for c in (customer, date, amount) if c}
    if not needed <= set(columns):
        return columns
    return [c for c in columns if c in needed or c == is_return]


class FileSummary:
    """The summary of a file being computed in a background thread; `result()` waits for it."""

    def __init__(self, path: Path, customer: str, date: str, amount: str, unit_days: float) -> None:
        self._args = (path, customer, date, amount, unit_days)
        self._result: pa.Table | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="heedful-file-summary", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._result = _summarise_file(*self._args)
        except BaseException as exc:  # handed to the caller's thread by result()
            self._error = exc

    def result(self) -> pa.Table | None:
        """The summary as Arrow (see `summary_sql.summary_arrow`); None: take the general route. Raises the
        reading's error (an `InputError` for a file the importer refuses)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result


def start_file_summary(
    path: Path,
    customer: str,
    date: str,
    amount: str,
    *,
    time_unit: str = "W",
    date_format: str | None = None,
    observation_end: str | None = None,
) -> FileSummary | None:
    """Start summarising the transactions in `path` (columns `customer`, `date`, `amount`) in a background
    thread; None where this route does not apply (see the module's docstring)."""
    unit = UNIT_DAYS.get(time_unit.upper())
    if unit is None or date_format or observation_end or len({customer, date, amount}) < 3 or not path.is_file():
        return None
    return FileSummary(path, customer, date, amount, unit)


def _summarise_file(path: Path, customer: str, date: str, amount: str, unit_days: float) -> pa.Table | None:
    if whitespace_layout(first_line(path)):
        return None
    usable = True

    def choose(columns: list[str]) -> list[str] | None:
        nonlocal usable
        chosen = columns_to_read(columns, customer, date, amount, "is_return")
        # a return column, the Online Retail layout or a missing column: the general route
        usable = chosen is not None and sorted(chosen) == sorted({customer, date, amount})
        return chosen if usable else None

    con = duckdb.connect()
    types = {date: "TIMESTAMP", amount: "DOUBLE"}
    try:
        con.execute("SET enable_progress_bar = false")
        # the customer ids as written (~0.12 s less for 10M lines); where a customer's id needs trimming
        # (blanks around it, or blank), read again with the ids trimmed, as the general route reads them
        if not read_table(con, path, "orders", choose=choose, types=types, as_written=[customer]) or not usable:
            return None
        summary = summary_arrow(con, "orders", customer, date, amount, unit_days)
        if summary is None or not needs_trimming(con, summary, "customer_id"):
            return summary
        con.execute("DROP TABLE orders")
        read_table(con, path, "orders", choose=choose, types=types)
        return summary_arrow(con, "orders", customer, date, amount, unit_days)
    finally:
        con.close()


def clv_file_report(
    path: Path,
    customer: str,
    date: str,
    amount: str,
    *,
    model_name: str = DEFAULT_MODEL,
    horizon: int = 12,
    time_unit: str = "W",
    discount_rate: float = 0.01,
    date_format: str | None = None,
    observation_end: str | None = None,
) -> tuple[dict[str, Any], pd.DataFrame] | None:
    """`services.value.clv_report` of the transactions in `path`, the file summarised in a background thread
    while the models' libraries load; None where this route does not apply (then nothing was reported and
    the general route, `services.value.load_orders` + `clv_report`, gives the answer or the error)."""
    pending = start_file_summary(
        path, customer, date, amount, time_unit=time_unit, date_format=date_format, observation_end=observation_end
    )
    if pending is None:
        return None
    from heedful.services import value as service  # pandas and SciPy: loaded while DuckDB reads
    from heedful.value.columns import Columns, summary_frame

    table = pending.result()
    if table is None:
        return None
    summary = summary_frame(table)
    cols = Columns(customer, date, amount)
    return service.clv_report(None, cols, model_name, horizon, time_unit, discount_rate, None, summary=summary)
