"""Imports: upload a file with a preset, see accepted and rejected rows, fix the quarantined rows and re-import."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from heedful.ingest.presets import ENTITIES
from heedful.services import accounts
from heedful.services import imports as service
from heedful.services.imports import presets_for, quarantine_csv, quarantine_rows
from heedful.services.jobs import job_about, percent
from heedful.store import Store
from heedful.web.deps import AnalystUser, StoreDep, UserPublic, ViewerUser, client_ip
from heedful.web.jobs import start_after_import
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

MAX_UPLOAD_BYTES = service.DEFAULT_MAX_UPLOAD_BYTES
QUARANTINE_SHOWN = 500
__all__ = ["ENTITIES", "MAX_UPLOAD_BYTES", "presets_for", "quarantine_csv", "quarantine_rows", "router", "run_import"]


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
    """Import an upload (heedful.services.imports.import_upload, at most MAX_UPLOAD_BYTES) and audit it."""
    summary = service.import_upload(store, filename, content, entity, preset, max_bytes=MAX_UPLOAD_BYTES)
    detail = {k: summary.get(k) for k in ("accepted", "rejected", "duplicates")}
    detail.update({"entity": entity, "preset": preset, "file": filename, "fixed_from": fixed_from})
    accounts.record_audit(store, "import.upload", user=user, target=str(summary.get("import_id")), detail=detail, ip=ip)
    return summary


def _follow_up(request: Request, store: Store, user: UserPublic, summary: dict[str, Any], entity: str) -> None:
    """New feedback or orders are read, rescored and turned into cases in the background (see web.jobs)."""
    if summary.get("accepted"):
        start_after_import(request, store, str(summary["import_id"]), entity, user.email)


@router.get("/imports")
def imports_page(request: Request, store: StoreDep, user: ViewerUser, entity: str = "orders") -> Response:
    recent = service.recent_imports(store, 50)
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
    _follow_up(request, store, user, summary, entity)
    return RedirectResponse(f"/imports/{summary['import_id']}", status_code=303)


@router.get("/imports/{import_id}")
def import_detail(request: Request, store: StoreDep, user: ViewerUser, import_id: str) -> Response:
    record = service.import_record(store, import_id)
    rows = quarantine_rows(store, import_id, QUARANTINE_SHOWN)
    job = job_about(store, import_id)
    return render(
        request,
        "import_detail.html",
        {
            "record": record,
            "quarantine": rows,
            "fix_csv": quarantine_csv(rows) if rows else "",
            "shown": QUARANTINE_SHOWN,
            "job": job,
            "pct": percent(job) if job else None,
        },
    )


@router.get("/imports/{import_id}/quarantine.csv")
def quarantine_download(store: StoreDep, user: ViewerUser, import_id: str) -> Response:
    service.import_record(store, import_id)
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
    record = service.import_record(store, import_id)
    summary = run_import(
        store,
        user,
        client_ip(request),
        service.fixed_file_name(record),
        fixed.encode("utf-8"),
        str(record["entity"]),
        str(record["preset"]),
        fixed_from=import_id,
    )
    _follow_up(request, store, user, summary, str(record["entity"]))
    return RedirectResponse(f"/imports/{summary['import_id']}", status_code=303)
