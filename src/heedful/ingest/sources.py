"""Readers: any input file becomes one DuckDB relation of text columns plus its line numbers.

Every format is read by DuckDB (vectorised, streaming) except Excel, which goes through pandas.
Columns stay text here; the importer parses and validates them in SQL, so a bad value in one row
never stops the others. Line numbers follow the file: for CSV the header is line 1 and the first
record line 2 (a record with line breaks inside quotes counts once); JSON Lines count physical
lines; Parquet and Excel count rows (Excel's header row is row 1).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from heedful.errors import InputError
from heedful.ingest.decompression import check_decompression
from heedful.ingest.encodings import byte_order_mark, native_encoding, salvage_utf8, set_aside_invalid

FORMATS = ("csv", "parquet", "excel", "jsonl")
# A "delimiter" no text line holds, so DuckDB's CSV reader returns each line whole (a one-byte \x01 split lines
# that contained it: the text after it was lost, and a line of only \x01 vanished without a trace).
WHOLE_LINE = "\x01\x02\x03\x04"
NATIVE_ENCODINGS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
}
NATIVE_ENCODINGS |= {"utf-16": "utf-16", "utf16": "utf-16"}


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Source:
    """An input file opened in the processing engine."""

    path: Path
    format: str
    columns: list[str]  # source column names, in file order
    relation: str  # SQL query yielding `_line` plus the columns (or `_json` for JSON Lines)
    column_sql: dict[str, str]  # column -> SQL expression (text) over the relation
    estimated_rows: int | None = None
    encoding: str = "utf-8"
    cleanup: list[Path] = field(default_factory=list)
    # malformed CSV records skipped by the reader: (line, raw text, reason); they go to the quarantine
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    # what messages and records call the file (an uploaded file's own name, not the server's temporary path)
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or str(self.path)

    def value_sql(self, column: str) -> str:
        """The column's value as trimmed text, NULL when empty."""
        return trimmed_sql(self.column_sql[column])

    def raw_sql(self) -> str:
        """The whole record as JSON text, for the quarantine."""
        if self.format == "jsonl":
            return "replace(_raw, chr(0), '\\u0000')"  # kept readable, and storable on PostgreSQL
        if not self.columns:
            return "'{}'"
        parts = ", ".join(f"{quote_literal(c)}, {self.column_sql[c]}" for c in self.columns)
        return f"CAST(json_object({parts}) AS VARCHAR)"

    def close(self) -> None:
        for path in self.cleanup:
            path.unlink(missing_ok=True)


def detect_format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return "excel"
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "csv"


def open_source(
    engine: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    tolerant: bool = False,
    salvage: bool = False,
) -> Source:
    """Open `path` in `engine`; raises InputError with a readable message when it cannot be read.

    `tolerant` (CSV only) skips malformed records (wrong number of fields, broken quotes) and lists
    them in `Source.rejects`, keeping every other record's line number right. `salvage` (for a file
    without an encoding named that turned out not to be valid UTF-8): a UTF-8 file with a few invalid
    lines is read as UTF-8 and the records holding them go to `Source.rejects`; any other such file is
    read as Windows-1252 (see `heedful.ingest.encodings`).
    """
    fmt = detect_format(path)
    check_decompression(path, fmt)
    if fmt == "parquet":
        return _open_parquet(engine, path)
    if fmt == "excel":
        return _open_excel(engine, path, sheet)
    salvaged = None
    if salvage and encoding is None:
        if byte_order_mark(path) != "utf-16":
            salvaged = salvage_utf8(path, header=fmt == "csv", expected_lines=estimate_rows(path))
        encoding = None if salvaged else "cp1252"
    enc, cleanup = ("utf-8", [salvaged.copy]) if salvaged else native_encoding(path, encoding)
    readable = cleanup[0] if cleanup else path
    try:
        if fmt == "jsonl":
            source = _open_jsonl(path, readable, enc, cleanup)
        else:
            source = _open_csv(engine, path, readable, enc, delimiter, cleanup, tolerant)
        if salvaged:
            set_aside_invalid(engine, source, salvaged)
        return source
    except BaseException:
        for p in cleanup:
            p.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------ CSV
# A record (a line, or a quoted multi-line record) may hold at most this many bytes. Longer is no customer
# record but a broken export: the reader stops at it at once (a 20 MB line took 12 s and printed the line).
MAX_RECORD_BYTES = int(os.environ.get("HEEDFUL_MAX_RECORD_BYTES", str(2**20)))
# What a message quotes of the reader's error at most: an error that quotes a 5 MB line is not read by anyone.
MAX_MESSAGE_CHARS = 300
# The reader's buffer: 32 MB (as measured for the import benchmark), at least twice the longest record.
READ_BUFFER_BYTES = max(32 * 2**20, 2 * MAX_RECORD_BYTES)


def csv_reader_sql(
    readable: Path, encoding: str, delimiter: str | None, extra: str = "", buffer: int = READ_BUFFER_BYTES
) -> str:
    """DuckDB's read_csv over the file: text columns, records of at most MAX_RECORD_BYTES, `buffer` bytes a read
    (DuckDB's default, 16 times the record limit, would hold 16 MB per reading thread). No comment character:
    DuckDB's sniffer otherwise guesses one, and a record starting with "#" (an order id, a hashtag) vanished
    without a word (found by the fuzzed import test)."""
    options = ["header=true", "all_varchar=true", "comment=''", f"encoding={quote_literal(encoding)}"]
    options += [f"max_line_size={MAX_RECORD_BYTES}", f"buffer_size={buffer}"]
    if delimiter:
        options.append(f"delim={quote_literal(_unescape_delimiter(delimiter))}")
    if extra:
        options.append(extra)
    return f"read_csv({quote_literal(str(readable))}, {', '.join(options)})"


def _unescape_delimiter(delimiter: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(delimiter, delimiter)


def _open_csv(
    engine: duckdb.DuckDBPyConnection,
    path: Path,
    readable: Path,
    encoding: str,
    delimiter: str | None,
    cleanup: list[Path],
    tolerant: bool = False,
) -> Source:
    reader = csv_reader_sql(readable, encoding, delimiter)
    # the sniffer reads a sample; a small buffer lets it stop at an over-long line at once (with 32 MB it
    # spent 4 s on a 20 MB line before saying so)
    sniff = csv_reader_sql(readable, encoding, delimiter, buffer=2 * MAX_RECORD_BYTES)
    try:
        columns = _describe(engine, sniff)
        if len(columns) == 1 and not tolerant:
            # a few malformed records can make the sniffer see one column; it sees through them when
            # told to set them aside
            sniffed = _describe(engine, csv_reader_sql(readable, encoding, delimiter, "store_rejects=true"))
            if len(sniffed) > 1:
                columns, tolerant = sniffed, True
        if not tolerant:
            relation = f"SELECT row_number() OVER () + 1 AS _line, * FROM {reader}"
            rejects: list[tuple[int, str, str]] = []
        else:
            relation, rejects = _tolerant_relation(engine, readable, encoding, delimiter)
    except duckdb.Error as exc:
        raise InputError(f"Cannot read {path} as CSV: {_first_line(exc)}") from exc
    _refuse_repeated_headers(engine, path, readable, encoding, delimiter, len(columns))
    source = Source(path, "csv", columns, relation, {c: quote_ident(c) for c in columns})
    source.estimated_rows = estimate_rows(readable)
    source.encoding = encoding
    source.cleanup = cleanup
    source.rejects = rejects
    return source


def _refuse_repeated_headers(
    engine: duckdb.DuckDBPyConnection, path: Path, readable: Path, encoding: str, delimiter: str | None, width: int
) -> None:
    """A header naming one column twice is refused, naming them: the reader would rename the second copy
    (email, Email_1) and the import would silently take the first."""
    reader = csv_reader_sql(readable, encoding, delimiter).replace("header=true", "header=false", 1)
    try:
        rows = engine.execute(f"SELECT * FROM {reader} LIMIT 1").fetchall()  # fetched whole: nothing left open
    except duckdb.Error:
        return  # the header is judged by the read that follows
    if not rows or len(rows[0]) != width:
        return
    first = rows[0]
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name in (str(v).strip() for v in first if v is not None):
        key = name.lower()
        if key in seen and seen[key] not in repeated:
            repeated.append(seen[key])
        seen.setdefault(key, name)
    if repeated:
        raise InputError(
            f"{path}: the header names {', '.join(repr(r) for r in repeated)} more than once "
            "(names are compared ignoring case); rename the columns so each name is unique, then import again."
        )


def _describe(engine: duckdb.DuckDBPyConnection, reader: str) -> list[str]:
    return [str(r[0]) for r in engine.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]


def _tolerant_relation(
    engine: duckdb.DuckDBPyConnection, readable: Path, encoding: str, delimiter: str | None
) -> tuple[str, list[tuple[int, str, str]]]:
    """Scan once to find malformed records, then read the rest with their true line numbers.

    The reader skips rejected records, so the k-th record it returns is not on line k + 1. With the
    rejected lines r_0 < r_1 < … and t_i = r_i - i, a record numbered `base` (= k + 1) is on line
    base + #{i : t_i <= base}.
    """
    scan = csv_reader_sql(
        readable, encoding, delimiter, "store_rejects=true, rejects_table='_hf_rejects', rejects_scan='_hf_scans'"
    )
    engine.execute(f"SELECT COUNT(*) FROM {scan}").fetchall()
    rows = engine.execute(
        "SELECT line, FIRST(csv_line), MIN(error_message) FROM _hf_rejects GROUP BY line ORDER BY line"
    ).fetchall()
    rejects = [(int(line), str(raw or ""), f"malformed CSV record: {reason}") for line, raw, reason in rows]
    engine.execute("CREATE OR REPLACE TEMP TABLE _hf_shift (t BIGINT)")
    if rejects:
        engine.executemany("INSERT INTO _hf_shift VALUES (?)", [[line - i] for i, (line, _, _) in enumerate(rejects)])
    reader = csv_reader_sql(readable, encoding, delimiter, "ignore_errors=true")
    relation = (
        "SELECT _base + (SELECT COUNT(*) FROM _hf_shift WHERE t <= _base) AS _line, * EXCLUDE (_base) "
        f"FROM (SELECT row_number() OVER () + 1 AS _base, * FROM {reader})"
    )
    return relation, rejects


def _first_line(exc: BaseException) -> str:
    """The reader's error in a few short words: its first lines, each cut at MAX_MESSAGE_CHARS."""
    text = str(exc).strip()
    if "Maximum line size" in text:
        size = re.search(r"Actual Size:\s*(\d+)", text)
        found = f" ({int(size.group(1)):,} bytes)" if size else ""
        return (
            f"a line is longer than {MAX_RECORD_BYTES:,} bytes{found}, which no customer record is; check the file "
            "is the export you meant (HEEDFUL_MAX_RECORD_BYTES raises the limit)"
        )
    lines = [_shorten(ln.strip()) for ln in text.splitlines() if ln.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else f"{text[:MAX_MESSAGE_CHARS]}… ({len(text):,} characters)"


def estimate_rows(path: Path) -> int | None:
    """Rough number of lines, from the file size and the first megabyte (for progress bars)."""
    try:
        size = path.stat().st_size
        if path.name.lower().endswith(".gz"):
            with path.open("rb") as fh:
                fh.seek(-4, os.SEEK_END)
                size = struct.unpack("<I", fh.read(4))[0]  # ISIZE: uncompressed size mod 2**32
            with gzip.open(path, "rb") as gz:
                head = gz.read(1 << 20)
        else:
            with path.open("rb") as fh:
                head = fh.read(1 << 20)
        lines = head.count(b"\n")
        if lines == 0:
            return 1
        return int(size / (len(head) / lines))
    except (OSError, struct.error, EOFError):
        return None


# ------------------------------------------------------------------------------------ JSON Lines
def lines_reader_sql(readable: Path, encoding: str, column: str) -> str:
    """DuckDB's reader giving each line of the file whole, as text column `column` (blank lines included)."""
    return (
        f"read_csv({quote_literal(str(readable))}, columns={{{quote_literal(column)}: 'VARCHAR'}}, "
        f"delim={quote_literal(WHOLE_LINE)}, quote='', escape='', header=false, auto_detect=false, "
        f"encoding={quote_literal(encoding)}, max_line_size={MAX_RECORD_BYTES}, buffer_size={READ_BUFFER_BYTES}, "
        "strict_mode=false)"
    )


def _open_jsonl(path: Path, readable: Path, encoding: str, cleanup: list[Path]) -> Source:
    columns = _sample_json_keys(readable, encoding)
    reader = lines_reader_sql(readable, encoding, "_raw")
    relation = (
        "SELECT _line, _raw, CASE WHEN json_valid(_raw) AND json_type(_raw) = 'OBJECT' THEN CAST(_raw AS JSON) END "
        f"AS _json FROM (SELECT row_number() OVER () AS _line, _raw FROM {reader}) WHERE TRIM(COALESCE(_raw, '')) <> ''"
    )
    column_sql = {c: f"json_extract_string(_json, {quote_literal(_json_path(c))})" for c in columns}
    return Source(path, "jsonl", columns, relation, column_sql, estimate_rows(readable), encoding, cleanup)


def _json_path(column: str) -> str:
    return "$." + ".".join('"' + part.replace('"', '\\"') + '"' for part in column.split("."))


def _sample_json_keys(path: Path, encoding: str, sample_lines: int = 2000) -> list[str]:
    """Keys of the first records (nested objects one level deep as 'a.b'), in order of appearance."""
    keys: dict[str, None] = {}
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    py_encoding = "utf-16" if encoding == "utf-16" else encoding
    try:
        with opener(path, "rt", encoding=py_encoding, errors="replace") as fh:
            for n, line in enumerate(fh):
                if n >= sample_lines:
                    break
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                for key, value in record.items():
                    keys[str(key)] = None
                    if isinstance(value, dict):
                        for sub in value:
                            keys[f"{key}.{sub}"] = None
    except OSError as exc:
        raise InputError(f"Cannot read {path}: {exc}") from exc
    return list(keys)


# --------------------------------------------------------------------------------------- Parquet
def _open_parquet(engine: duckdb.DuckDBPyConnection, path: Path) -> Source:
    reader = f"read_parquet({quote_literal(str(path))})"
    try:
        described = engine.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
        total = engine.execute(f"SELECT COUNT(*) FROM {reader}").fetchall()[0]
    except duckdb.Error as exc:
        raise InputError(f"Cannot read {path} as Parquet: {_first_line(exc)}") from exc
    columns = [str(r[0]) for r in described]
    relation = f"SELECT row_number() OVER () AS _line, * FROM {reader}"
    return Source(
        path,
        "parquet",
        columns,
        relation,
        {c: quote_ident(c) for c in columns},
        int(total[0]) if total else None,
    )


# ----------------------------------------------------------------------------------------- Excel
def _open_excel(engine: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> Source:
    import pandas as pd

    try:
        frame = pd.read_excel(path, sheet_name=sheet if sheet is not None else 0, dtype=str)
    except ImportError as exc:
        raise InputError(f"Cannot read {path}: {exc}. Save it as .xlsx or CSV.") from exc
    except (ValueError, OSError, KeyError) as exc:
        raise InputError(f"Cannot read {path} as Excel: {exc}") from exc
    frame.columns = [str(c) for c in frame.columns]
    frame = frame.astype(object).where(frame.notna(), None)
    view = f"_hf_excel_{uuid.uuid4().hex}"
    engine.register(view, frame)
    columns = list(frame.columns)
    relation = f"SELECT row_number() OVER () + 1 AS _line, * FROM {view}"
    return Source(path, "excel", columns, relation, {c: quote_ident(c) for c in columns}, len(frame))


# ------------------------------------------------------------------------------ whole files as frames
def existing_file(path: Path) -> Path:
    """A user-supplied input path, with a clear error when it is not a readable file."""
    if not path.exists():
        raise InputError(f"File not found: {path}")
    if not path.is_file():
        raise InputError(f"Not a file: {path}")
    return path


def read_frame(
    path: Path,
    *,
    delimiter: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    numbers: bool = False,
    names: list[str] | None = None,
) -> Any:
    """A whole input file as a pandas DataFrame, read by the importer's reader.

    The one reader every command that takes a file uses (CSV with any delimiter and encoding, .gz,
    Parquet, Excel, JSON Lines), so a file that imports also reads everywhere else, with the same
    errors. Values are trimmed text, None where empty; with `numbers`, each column whose every value
    parses as a number becomes float. `delimiter="whitespace"` reads columns separated by runs of
    spaces or tabs (the CDNOW layout); there `names` says the file has no header line and names the
    columns. Raises InputError for a missing or unreadable file.
    """
    import pandas as pd

    existing_file(path)
    if delimiter == WHITESPACE:
        frame = _whitespace_frame(path, encoding, names)
        return _numbers(frame) if numbers else frame
    engine = duckdb.connect()
    source = open_source(engine, path, delimiter=delimiter, encoding=encoding, sheet=sheet)
    try:
        if not source.columns:
            return pd.DataFrame()
        select = ", ".join(f"{source.value_sql(c)} AS {quote_ident(c)}" for c in source.columns)
        try:
            frame = engine.execute(f"SELECT {select} FROM ({source.relation}) ORDER BY _line").df()
        except duckdb.Error as exc:
            raise InputError(f"Cannot read {path}: {_first_line(exc)}") from exc
    finally:
        source.close()
        engine.close()
    frame.columns = list(source.columns)
    frame = frame.astype(object).where(frame.notna(), None)
    return _numbers(frame) if numbers else frame


def read_table(
    engine: duckdb.DuckDBPyConnection,
    path: Path,
    name: str,
    *,
    choose: Callable[[list[str]], list[str] | None] | None = None,
    types: dict[str, str] | None = None,
    as_written: Collection[str] = (),
) -> list[str] | None:
    """`read_frame` into table `name` of `engine` instead of a DataFrame; returns the columns read.

    The same reader, values (trimmed text, NULL where empty) and errors, in no particular row order, for
    analyses that run in DuckDB anyway (`heedful value clv FILE`): no row passes through Python. Not for
    the whitespace layout. `choose` gets the file's columns and names those to read (None: no table, nothing
    read); `types` casts named columns from that text while reading (`{"ordered_at": "TIMESTAMP"}`). A plain
    UTF-8 CSV is first read in one pass without line numbers, the cast columns parsed by DuckDB's typed CSV
    reader from the text as read: a blank around a value fails there, so where that pass succeeds its values
    are these; otherwise the text is trimmed and cast.

    `as_written`: columns (not cast) that first pass reads as they stand in the file, neither trimmed nor
    NULL where blank (an empty field is NULL either way). Trimming 10 million ids costs more than checking
    the million distinct ones after grouping: a caller that groups by such a column checks its keys with
    `needs_trimming` and reads again without `as_written` where one needs it.
    """
    existing_file(path)
    source = open_source(engine, path)
    try:
        columns = list(source.columns)
        chosen = [c for c in ((choose(columns) if choose else columns) or []) if c in columns]
        if not chosen:
            return None
        casts = {c: t for c, t in (types or {}).items() if c in chosen}
        reader = csv_reader_sql(path, "utf-8", None)
        plain = source.encoding == "utf-8" and not source.cleanup and source.relation.endswith(f"* FROM {reader}")
        # the first pass parses the cast columns while reading (DuckDB's typed CSV reader: ~10% faster than
        # casting the text), as strictly as a cast of the text as read: a blank around a value fails there
        typed = ", ".join(f"{quote_literal(c)}: {quote_literal(t)}" for c, t in casts.items())
        typed_reader = csv_reader_sql(path, "utf-8", None, extra=f"types={{{typed}}}") if typed else reader
        for untrimmed in (True, False) if plain else (False,):
            select = ", ".join(
                quote_ident(c)
                if untrimmed and (c in casts or c in as_written)
                else f"CAST({source.value_sql(c)} AS {casts[c]}) AS {quote_ident(c)}"
                if c in casts
                else f"{source.value_sql(c)} AS {quote_ident(c)}"
                for c in chosen
            )
            rows = typed_reader if untrimmed else f"({source.relation})"
            try:
                engine.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT {select} FROM {rows}")
                return chosen
            except duckdb.Error as exc:  # untrimmed: a value the casts refuse as it stands; trim and read again
                if not untrimmed:
                    raise InputError(f"Cannot read {path}: {_first_line(exc)}") from exc
    finally:
        source.close()
    return chosen


def trimmed_sql(expression: str) -> str:
    """A value as the reader gives it: trimmed text, NULL when empty."""
    return f"NULLIF(TRIM(CAST({expression} AS VARCHAR)), '')"


def needs_trimming(engine: duckdb.DuckDBPyConnection, table: Any, column: str) -> bool:
    """Whether a value of `column` in `table` (Arrow or pandas) differs from the value `read_table` gives it
    by default (trimmed, NULL where blank): for the keys of a column read `as_written`."""
    engine.register("_read_as_written", table)
    try:
        sql = f"SELECT count(*) FROM _read_as_written WHERE {trimmed_sql(quote_ident(column))} IS DISTINCT FROM {quote_ident(column)}"
        return bool(engine.execute(sql).fetchall()[0][0])
    finally:
        engine.unregister("_read_as_written")


WHITESPACE = "whitespace"


def _numbers(frame: Any) -> Any:
    """Each column whose every value parses as a number, as float."""
    import pandas as pd

    for column in frame.columns:
        parsed = pd.to_numeric(frame[column], errors="coerce")
        if parsed.notna().sum() == frame[column].notna().sum():
            frame[column] = parsed.astype(float)
    return frame


def _whitespace_frame(path: Path, encoding: str | None, names: list[str] | None) -> Any:
    """Columns separated by runs of blanks: each line read whole by DuckDB, split on the blanks in SQL."""
    import pandas as pd

    enc, cleanup = native_encoding(path, encoding)
    readable = cleanup[0] if cleanup else path
    lines = lines_reader_sql(readable, enc, "line")
    engine = duckdb.connect()
    try:
        rows = engine.execute(
            rf"SELECT n, regexp_split_to_array(t, '\s+') FROM (SELECT row_number() OVER () AS n, trim(line) AS t "
            f"FROM {lines}) WHERE t <> '' ORDER BY n"
        ).fetchall()
    except duckdb.Error as exc:
        raise InputError(f"Cannot read {path}: {_first_line(exc)}") from exc
    finally:
        engine.close()
        for p in cleanup:
            p.unlink(missing_ok=True)
    if names is None:
        header, body = (list(rows[0][1]), rows[1:]) if rows else ([], [])
    else:
        header, body = list(names), rows
    for number, row in body:
        if len(row) != len(header):
            raise InputError(f"{path}, line {number}: {len(row)} fields where {len(header)} were expected")
    return pd.DataFrame([row for _, row in body], columns=header, dtype=object)
