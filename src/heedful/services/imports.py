"""Import use cases: a file or an uploaded file into the store, the record of past imports, quarantined rows
and importing them again once fixed. The reading, validation and storing is `heedful.ingest.import_file`."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from heedful.errors import HeedfulError, InputError, NotFoundError
from heedful.exports import safe_cell
from heedful.ingest.importer import ImportResult, Progress
from heedful.ingest.importer import import_file as ingest_file
from heedful.ingest.presets import ENTITIES, PRESETS, get_preset
from heedful.store import Store

DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024


def import_file(
    store: Store,
    path: Path,
    entity: str,
    preset: str = "generic",
    mapping: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    **options: Any,
) -> ImportResult:
    """Import `path` as `entity` with an export preset and column mapping (see `heedful.ingest.import_file`).

    The preset is checked before anything is read; `options` are import_file's keyword options
    (delimiter, encoding, sheet, date_format, kind, source_name, commit_every).
    """
    get_preset(entity, preset)
    return ingest_file(store, path, entity, preset=preset, mapping=mapping, progress=progress, **options)


def presets_for(entity: str) -> list[tuple[str, str]]:
    """(name, description) of the ingest presets for an entity, by name."""
    return sorted((name, preset.description) for name, preset in PRESETS.get(entity, {}).items())


# --------------------------------------------------------------------------- uploads
def safe_file_name(name: str | None) -> str:
    """A file name that is safe to create: the base name, other characters as _, at most 120 long."""
    base = Path(name or "upload.csv").name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "upload.csv"
    return cleaned[:120]


class _Bounded:
    """A file-like view that stops after `limit` bytes, so an oversized upload is never copied whole."""

    def __init__(self, raw: Any, limit: int) -> None:
        self.raw, self.left = raw, limit

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data: bytes = self.raw.read(self.left if size < 0 else min(size, self.left))
        self.left -= len(data)
        return data


def import_upload(
    store: Store,
    filename: str,
    content: bytes | Any,
    entity: str,
    preset: str = "generic",
    *,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
) -> dict[str, Any]:
    """Import uploaded `content` (bytes or a binary file object) named `filename`; the import's summary.

    The content is written to a private temporary folder (removed afterwards) and read from there;
    more than `max_bytes` is refused without being copied whole.
    """
    if entity not in ENTITIES:
        raise InputError(f"Entity must be one of {', '.join(ENTITIES)}.")
    with tempfile.TemporaryDirectory(prefix="heedful-upload-") as folder:
        path = Path(folder) / safe_file_name(filename)
        with path.open("wb") as out:
            if isinstance(content, bytes):
                out.write(content[: max_bytes + 1])
            else:
                shutil.copyfileobj(_Bounded(content, max_bytes + 1), out, length=1 << 20)
        if path.stat().st_size > max_bytes:
            raise InputError(f"The file is larger than {max_bytes // 2**20} MiB; import it with `heedful import`.")
        if path.stat().st_size == 0:
            raise InputError("The file is empty.")
        try:
            result = ingest_file(store, path, entity, preset=preset, file_label=path.name)
        except HeedfulError as exc:  # a reader's message names the file by its path: name it as the user did
            raise type(exc)(str(exc).replace(str(path), path.name).replace(folder, "")) from None
    return result.to_dict()


# --------------------------------------------------------------------------- past imports and quarantine
def recent_imports(store: Store, limit: int = 50) -> pd.DataFrame:
    """The latest imports, newest first: id, entity, preset, file, start, accepted/rejected/duplicates, status."""
    return store.query(
        "SELECT import_id, entity, preset, source_file, started_at, accepted, rejected, duplicates, status "
        "FROM imports ORDER BY started_at DESC LIMIT ?",
        [int(limit)],
    )


def import_record(store: Store, import_id: str) -> dict[str, Any]:
    """The `imports` row of one import; NotFoundError if there is none."""
    frame = store.query("SELECT * FROM imports WHERE import_id = ?", [import_id])
    if frame.empty:
        raise NotFoundError(f"No import {import_id}.")
    row: dict[str, Any] = frame.iloc[0].to_dict()
    return row


def quarantine_rows(store: Store, import_id: str, limit: int | None = None) -> list[dict[str, Any]]:
    """An import's rejected rows in line order: line, error and the raw row (a dict of its original columns)."""
    sql = "SELECT line, error, raw FROM quarantine WHERE import_id = ? ORDER BY line"
    params: list[Any] = [import_id]
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = []
    for line, error, raw in store.fetchall(sql, params):
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw}
        rows.append({"line": line, "error": error, "raw": parsed if isinstance(parsed, dict) else {"raw": parsed}})
    return rows


def quarantine_csv(rows: list[dict[str, Any]]) -> str:
    """The rejected rows as CSV with their original columns: the text to fix and import again."""
    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row["raw"] if c not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writerow({c: safe_cell(c) for c in columns})
    for row in rows:
        writer.writerow({k: "" if v is None else safe_cell(v) for k, v in row["raw"].items()})
    return buf.getvalue()


def reimport_fixed(
    store: Store, import_id: str, fixed_csv: str, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
) -> dict[str, Any]:
    """Import corrected quarantined rows (CSV text) with the entity and preset of import `import_id`."""
    record = import_record(store, import_id)
    return import_upload(
        store,
        fixed_file_name(record),
        fixed_csv.encode("utf-8"),
        str(record["entity"]),
        str(record["preset"]),
        max_bytes=max_bytes,
    )


def fixed_file_name(record: Mapping[str, Any]) -> str:
    """The name a fixed re-import of an import's quarantined rows is recorded under: <file>-fixed.csv."""
    return Path(str(record["source_file"])).stem + "-fixed.csv"
