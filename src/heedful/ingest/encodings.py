"""A UTF-8 file with a few undecodable lines: read as UTF-8 with those records quarantined.

DuckDB reads UTF-8 strictly, and the fast path stays that: a valid file is never decoded twice. Only when
that read stops at an invalid byte does the importer call `salvage_utf8`, which decodes the file once in
Python (invalid bytes kept as lone surrogates) and weighs the evidence:

- the text has more valid multi-byte UTF-8 characters than invalid byte runs, and the lines holding invalid
  bytes are few (at most MAX_INVALID_LINES, or 1% of the lines when that is more): it is a UTF-8 file with
  some corrupt records. A temporary UTF-8 copy is written in which each invalid run is replaced by a
  numbered mark; the file is read from that copy as usual, and `set_aside_invalid` quarantines each record
  holding a mark (DuckDB numbers the records, so a quoted multi-line record is one record, numbered like
  every other), with the byte offset and the bytes that were invalid.
- otherwise (invalid bytes everywhere, no valid multi-byte text): it is a Windows-1252 file, read as before.

A mark is two Unicode noncharacters around the run's number; they never occur in text (a file that holds
one is left to the Windows-1252 reading).
"""

from __future__ import annotations

import codecs
import gzip
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from heedful.errors import InputError

if TYPE_CHECKING:
    import duckdb

    from heedful.ingest.sources import Source

MAX_INVALID_LINES = 100  # lines with invalid bytes a UTF-8 file may have (or 1% of its lines, when more)
MARK_OPEN, MARK_CLOSE = "\U0010fffe", "\U0010ffff"
_MARK = re.compile(MARK_OPEN + r"(\d+)" + MARK_CLOSE)
_INVALID = re.compile("[\udc80-\udcff]+")  # what surrogateescape makes of invalid bytes
_CHUNK = 1 << 22


def byte_order_mark(path: Path) -> str | None:
    """The encoding a byte-order mark at the start of the file names (UTF-8 or UTF-16), else None."""
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4)
    except (OSError, EOFError):
        return None
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def native_encoding(path: Path, encoding: str | None) -> tuple[str, list[Path]]:
    """DuckDB reads UTF-8 and UTF-16; other encodings are transcoded to a temp UTF-8 file.

    Without an encoding, a byte-order mark decides (UTF-8 or UTF-16), else UTF-8 (when the file is not valid
    UTF-8 the importer asks `salvage_utf8`, and failing that reads Windows-1252, the usual encoding of
    spreadsheet exports). Windows-1252 bytes it leaves undefined make the file read as Latin-1, which decodes
    every byte.
    """
    if encoding is None:
        return byte_order_mark(path) or "utf-8", []
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputError(f"Unknown encoding {encoding!r}.") from exc
    aliases = {"utf-8": "utf-8", "utf-16": "utf-16"}
    if name in aliases:
        return aliases[name], []
    try:
        return "utf-8", [transcoded(path, name)]
    except UnicodeDecodeError as exc:
        if name == "cp1252":  # five bytes Windows-1252 leaves undefined: Latin-1 reads them
            return "utf-8", [transcoded(path, "latin-1")]
        raise InputError(f"{path} is not valid {encoding}: {exc}") from exc


def transcoded(path: Path, name: str) -> Path:
    """A temporary UTF-8 copy of `path` read as `name` (UnicodeDecodeError when it is not)."""
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="heedful-transcode-")
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as src, os.fdopen(fd, "wb") as dst:
        decoder = codecs.getincrementaldecoder(name)(errors="strict")
        try:
            while chunk := src.read(1 << 22):
                dst.write(decoder.decode(chunk).encode("utf-8"))
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeDecodeError:
            Path(tmp).unlink(missing_ok=True)
            raise
    return Path(tmp)


@dataclass
class Salvaged:
    """A UTF-8 file's temporary copy with its invalid byte runs marked."""

    copy: Path
    # by mark number: (byte offset in the file, the invalid bytes, physical line counted from 1)
    runs: list[tuple[int, bytes, int]] = field(default_factory=list)
    lines: int = 0
    invalid_lines: int = 0
    multibyte: int = 0  # bytes of valid multi-byte characters beyond their first


def salvage_utf8(path: Path, *, header: bool, expected_lines: int | None = None) -> Salvaged | None:
    """The file read as UTF-8 with its invalid runs marked, or None when the evidence says it is not UTF-8.

    `header`: invalid bytes on the first line (the CSV header) become U+FFFD rather than marks, so the
    column names never carry a mark. `expected_lines` (an estimate) lets a file with invalid bytes
    everywhere be given up early.
    """
    fd, tmp = tempfile.mkstemp(suffix=".csv", prefix="heedful-utf8-")
    found = Salvaged(Path(tmp))
    give_up = max(MAX_INVALID_LINES, (expected_lines or 0) // 50)  # generous: the estimate is rough
    opener: Any = gzip.open if path.name.lower().endswith(".gz") else open
    offset, last_invalid_line, kept, ends_line = 0, -1, False, True
    try:
        with opener(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            decoder = codecs.getincrementaldecoder("utf-8")(errors="surrogateescape")
            final = False
            while not final:
                chunk = src.read(_CHUNK)
                final = not chunk
                text = decoder.decode(chunk, final=final)
                if MARK_OPEN in text:
                    return None
                pieces: list[bytes] = []
                last = 0
                for match in _INVALID.finditer(text):
                    segment = text[last : match.start()]
                    data = segment.encode()
                    pieces.append(data)
                    found.multibyte += len(data) - len(segment)
                    found.lines += segment.count("\n")
                    offset += len(data)
                    invalid = match.group().encode("utf-8", "surrogateescape")
                    if header and found.lines == 0:
                        pieces.append("\ufffd".encode() * len(invalid))
                    else:
                        if found.lines != last_invalid_line:
                            found.invalid_lines += 1
                            last_invalid_line = found.lines
                            if found.invalid_lines > give_up:
                                return None
                        pieces.append(f"{MARK_OPEN}{len(found.runs)}{MARK_CLOSE}".encode())
                        found.runs.append((offset, invalid, found.lines + 1))
                    offset += len(invalid)
                    last = match.end()
                rest = text[last:] if last else text
                data = rest.encode()
                pieces.append(data)
                found.multibyte += len(data) - len(rest)
                found.lines += rest.count("\n")
                offset += len(data)
                if text:
                    ends_line = text.endswith("\n")
                dst.write(b"".join(pieces))
        found.lines += 0 if ends_line else 1  # a last line without its line break
        if found.multibyte <= len(found.runs):
            return None  # no more valid multi-byte text than invalid runs: not UTF-8
        if found.invalid_lines > max(MAX_INVALID_LINES, found.lines // 100):
            return None
        kept = True
        return found
    finally:
        if not kept:
            Path(tmp).unlink(missing_ok=True)


def set_aside_invalid(engine: duckdb.DuckDBPyConnection, source: Source, salvaged: Salvaged) -> None:
    """Quarantine every record of `source` that holds a mark, and leave it out of the relation.

    Each goes to `source.rejects` (line, raw record with U+FFFD for each invalid byte, reason naming the
    byte offset of its first invalid run in the file and those bytes).
    """
    from heedful.ingest.sources import quote_ident

    if source.format == "jsonl":
        holds_mark = f"contains(_raw, {_sql_text(MARK_OPEN)})"
    elif source.columns:
        holds_mark = " OR ".join(f"contains({quote_ident(c)}, {_sql_text(MARK_OPEN)})" for c in source.columns)
    else:
        return
    rows = engine.execute(
        f"SELECT _line, {source.raw_sql()} FROM ({source.relation}) WHERE {holds_mark} ORDER BY _line"
    ).fetchall()
    invalid: list[tuple[int, str, str]] = []
    for line, raw in rows:
        marks = [int(k) for k in _MARK.findall(str(raw))]
        if not marks:
            continue
        start, data, physical = salvaged.runs[marks[0]]
        where = f", physical line {physical}" if physical != line else ""  # a record with quoted line breaks
        reason = f"not valid UTF-8 at byte {start}{where} ({data.hex(' ')})"
        if len(marks) > 1:
            reason += f" and {len(marks) - 1} more place{'s' if len(marks) > 2 else ''} in this record"
        invalid.append((int(line), unmark(str(raw), salvaged), reason))
    source.rejects = sorted([(ln, unmark(r, salvaged), why) for ln, r, why in source.rejects] + invalid)
    if invalid:
        engine.execute("CREATE OR REPLACE TEMP TABLE _hf_invalid_utf8 (line BIGINT)")
        engine.executemany("INSERT INTO _hf_invalid_utf8 VALUES (?)", [[ln] for ln, _, _ in invalid])
        source.relation = f"SELECT * FROM ({source.relation}) WHERE _line NOT IN (SELECT line FROM _hf_invalid_utf8)"


def unmark(text: str, salvaged: Salvaged) -> str:
    """`text` with each mark replaced by one U+FFFD per invalid byte it stood for."""
    if MARK_OPEN not in text:
        return text
    return _MARK.sub(lambda m: "\ufffd" * len(salvaged.runs[int(m.group(1))][1]), text)


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
