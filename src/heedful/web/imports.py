"""Imports: upload a file with a preset, see accepted and rejected rows, fix the quarantined rows and re-import."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from heedful.errors import InputError, NotFoundError
from heedful.services import accounts
from heedful.store import Store
from heedful.web.deps import AnalystUser, StoreDep, UserPublic, ViewerUser, client_ip
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

ENTITIES = ("orders", "customers", "feedback")
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
QUARANTINE_SHOWN = 500


def presets_for(entity: str) -> list[tuple[str, str]]:
    """(name, description) of the ingest presets for an entity."""
    try:
        from heedful.ingest.presets import PRESETS
    except ImportError:
        return [("generic", "Columns found by common names")]
    return sorted((name, preset.description) for name, preset in PRESETS.get(entity, {}).items())


def _safe_name(name: str | None) -> str:
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


def run_import(
    store: Store,
    user: UserPublic,
    ip: str,
    filename: str,
    content: Any,
    entity: str,
    preset: str,
    *,
    fixed_from: str | None = None,
) -> dict[str, Any]:
    """Write the upload to a private temp folder and hand it to heedful.ingest.import_file."""
    from heedful.ingest import import_file

    if entity not in ENTITIES:
        raise InputError(f"Entity must be one of {', '.join(ENTITIES)}.")
    with tempfile.TemporaryDirectory(prefix="heedful-upload-") as folder:
        path = Path(folder) / _safe_name(filename)
        with path.open("wb") as out:
            if isinstance(content, bytes):
                out.write(content[: MAX_UPLOAD_BYTES + 1])
            else:
                shutil.copyfileobj(_Bounded(content, MAX_UPLOAD_BYTES + 1), out, length=1 << 20)
        if path.stat().st_size > MAX_UPLOAD_BYTES:
            raise InputError(
                f"The file is larger than {MAX_UPLOAD_BYTES // 2**20} MiB; import it with `heedful import`."
            )
        if path.stat().st_size == 0:
            raise InputError("The file is empty.")
        result = import_file(store, path, entity, preset=preset)
    summary = result.to_dict()
    detail = {k: summary.get(k) for k in ("accepted", "rejected", "duplicates")}
    detail.update({"entity": entity, "preset": preset, "file": filename, "fixed_from": fixed_from})
    accounts.record_audit(store, "import.upload", user=user, target=str(summary.get("import_id")), detail=detail, ip=ip)
    return summary


@router.get("/imports")
def imports_page(request: Request, store: StoreDep, user: ViewerUser, entity: str = "orders") -> Response:
    recent = store.query(
        "SELECT import_id, entity, preset, source_file, started_at, accepted, rejected, duplicates, status "
        "FROM imports ORDER BY started_at DESC LIMIT 50"
    )
    entity = entity if entity in ENTITIES else "orders"
    return render(
        request,
        "imports.html",
        {
            "imports": recent.to_dict(orient="records"),
            "entities": ENTITIES,
            "entity": entity,
            "presets": presets_for(entity),
        },
    )


@router.get("/imports/presets")
def preset_options(request: Request, user: ViewerUser, entity: str = "orders") -> Response:
    """The <option>s of the preset picker for an entity (swapped in by HTMX when the entity changes)."""
    return render(request, "imports_presets.html", {"presets": presets_for(entity)})


@router.post("/imports")
def upload(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    file: Annotated[UploadFile, File()],
    entity: Annotated[str, Form()],
    preset: Annotated[str, Form()] = "generic",
) -> Response:
    summary = run_import(store, user, client_ip(request), file.filename or "upload.csv", file.file, entity, preset)
    return RedirectResponse(f"/imports/{summary['import_id']}", status_code=303)


def _import_row(store: Store, import_id: str) -> dict[str, Any]:
    frame = store.query("SELECT * FROM imports WHERE import_id = ?", [import_id])
    if frame.empty:
        raise NotFoundError(f"No import {import_id}.")
    row: dict[str, Any] = frame.iloc[0].to_dict()
    return row


def quarantine_rows(store: Store, import_id: str, limit: int | None = None) -> list[dict[str, Any]]:
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
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row["raw"].items()})
    return buf.getvalue()


@router.get("/imports/{import_id}")
def import_detail(request: Request, store: StoreDep, user: ViewerUser, import_id: str) -> Response:
    record = _import_row(store, import_id)
    rows = quarantine_rows(store, import_id, QUARANTINE_SHOWN)
    return render(
        request,
        "import_detail.html",
        {
            "record": record,
            "quarantine": rows,
            "fix_csv": quarantine_csv(rows) if rows else "",
            "shown": QUARANTINE_SHOWN,
        },
    )


@router.get("/imports/{import_id}/quarantine.csv")
def quarantine_download(store: StoreDep, user: ViewerUser, import_id: str) -> Response:
    _import_row(store, import_id)
    text = quarantine_csv(quarantine_rows(store, import_id))
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="quarantine-{import_id}.csv"'},
    )


@router.post("/imports/{import_id}/reimport")
def reimport_fixed(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    import_id: str,
    fixed: Annotated[str, Form()],
) -> Response:
    """Import the corrected quarantined rows with the original entity and preset."""
    record = _import_row(store, import_id)
    name = Path(str(record["source_file"])).stem + "-fixed.csv"
    summary = run_import(
        store,
        user,
        client_ip(request),
        name,
        fixed.encode("utf-8"),
        str(record["entity"]),
        str(record["preset"]),
        fixed_from=import_id,
    )
    return RedirectResponse(f"/imports/{summary['import_id']}", status_code=303)
