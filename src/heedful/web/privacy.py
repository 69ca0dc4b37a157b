"""Privacy and backup while serving (admins): erase a person (preview, confirmation by typing their
customer id, erasure), export a person's data as JSON, download a backup of the whole store.

Each route calls the use case the CLI uses (`heedful.services.privacy`, `heedful.services.backup`)
through the server's own store connection, so they work while `heedful serve` holds a DuckDB file;
each action is recorded in the audit log. API: `POST /api/v1/privacy/erase`, `GET /api/v1/privacy/export`.
"""

from __future__ import annotations

import json
import re
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from heedful.errors import InputError
from heedful.jsonable import to_jsonable
from heedful.services import privacy
from heedful.services.backup import backup_for_download
from heedful.store import Store
from heedful.store.privacy import ErasureResult
from heedful.web.deps import AdminUser, StoreDep, client_ip
from heedful.web.templating import render

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
router = APIRouter(tags=["pages"])
api = APIRouter(
    prefix="/api/v1/privacy",
    tags=["api"],
    responses={401: {"description": "Not signed in", **PROBLEM}, 403: {"description": "Role not allowed", **PROBLEM}},
)


def _safe_name(customer_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", customer_id)[:60] or "customer"


def _rows(result: ErasureResult) -> list[dict[str, Any]]:
    """Per table: rows deleted, rows kept but de-identified, text values with a mention scrubbed."""
    tables: dict[str, dict[str, Any]] = {}
    for table, n in result.deleted.items():
        tables.setdefault(table, {"table": table, "deleted": 0, "pseudonymised": 0, "redacted": 0})["deleted"] += n
    for table, n in result.pseudonymised.items():
        tables.setdefault(table, {"table": table, "deleted": 0, "pseudonymised": 0, "redacted": 0})[
            "pseudonymised"
        ] += n
    for key, n in result.redacted.items():
        table = key.split(".", 1)[0]
        tables.setdefault(table, {"table": table, "deleted": 0, "pseudonymised": 0, "redacted": 0})["redacted"] += n
    return sorted(tables.values(), key=lambda r: r["table"])


def _counts(result: ErasureResult) -> tuple[int, int, int]:
    return sum(result.deleted.values()), sum(result.pseudonymised.values()), sum(result.redacted.values())


def _in_words(result: ErasureResult) -> str:
    deleted, kept, scrubbed = _counts(result)
    return (
        f"Deleted {deleted} rows, de-identified {kept} rows kept for accounting, scrubbed {scrubbed} mentions; "
        f"the kept rows now refer to {result.pseudonym}."
    )


def _erase_page(
    request: Request, store: Store, who: str, *, error: str | None = None, status_code: int = 200
) -> Response:
    subject, preview = privacy.erasure_preview(store, who)
    return render(
        request,
        "privacy_erase.html",
        {
            "who": who,
            "subject": subject,
            "rows": _rows(preview),
            "counts": _counts(preview),
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/privacy/erase", include_in_schema=False)
def erase_review(request: Request, store: StoreDep, user: AdminUser, customer: str = "") -> Response:
    """Without `customer`: a form to name the person. With it: what erasing them would change, per table
    (the erase run and rolled back), and the confirmation form."""
    if not customer.strip():
        return render(request, "privacy_erase.html", {"who": "", "subject": None})
    return _erase_page(request, store, customer.strip())


@router.post("/privacy/erase", include_in_schema=False)
def erase(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    customer: Annotated[str, Form()],
    confirm: Annotated[str, Form()] = "",
) -> Response:
    try:
        result = privacy.erase_subject(store, customer, user=user, ip=client_ip(request), confirm=confirm)
    except InputError as exc:  # the confirmation did not match: nothing erased, ask again
        return _erase_page(request, store, customer, error=str(exc), status_code=400)
    return render(request, "privacy_erased.html", {"message": _in_words(result), "rows": _rows(result)})


@router.post("/privacy/export", include_in_schema=False)
def export(request: Request, store: StoreDep, user: AdminUser, customer: Annotated[str, Form()]) -> Response:
    doc = privacy.export_for(store, customer.strip(), user=user, ip=client_ip(request))
    name = _safe_name(doc["subject"]["customer_id"])
    return Response(
        json.dumps(to_jsonable(doc), indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="privacy-export-{name}.json"'},
    )


@router.post("/settings/backup", include_in_schema=False)
def download_backup(request: Request, store: StoreDep, user: AdminUser) -> Response:
    """The archive `heedful backup` writes, taken through the server's own store connection."""
    path, _ = backup_for_download(store, user=user, ip=client_ip(request))
    return FileResponse(
        path,
        media_type="application/zip",
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


# ---------------------------------------------------------------- API
class ErasureRequest(BaseModel):
    customer: str = Field(description="The customer id (or their e-mail address).", min_length=1, max_length=500)
    confirm: str = Field(description="The person's customer id again, as confirmation.", max_length=500)


class ErasurePublic(BaseModel):
    pseudonym: str = Field(description="Stands in for the person on the rows kept for accounting.")
    deleted: dict[str, int] = Field(description="Rows deleted, per table.")
    pseudonymised: dict[str, int] = Field(description="Rows kept but de-identified, per table.")
    redacted: dict[str, int] = Field(description="Text values with a mention scrubbed, per table.column.")


@api.post("/erase", summary="Erase a person from every table (admin)")
def api_erase(request: Request, store: StoreDep, user: AdminUser, body: ErasureRequest) -> ErasurePublic:
    """Deletes the person's rows, de-identifies the rows kept for accounting (orders, referrals, rewards),
    scrubs mentions of them from every text; recorded in the audit log without personal data. `confirm`
    must be their customer id (400 otherwise, and nothing is erased). Cannot be undone."""
    result = privacy.erase_subject(store, body.customer, user=user, ip=client_ip(request), confirm=body.confirm)
    return ErasurePublic.model_validate(result.to_dict())


@api.get("/export", summary="Everything held about a person, as JSON (admin)")
def api_export(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    customer: Annotated[str, Query(description="The customer id (or their e-mail address).", min_length=1)],
) -> dict[str, Any]:
    """The document `heedful privacy export` prints: `subject`, `tables` (rows about the person),
    `mentions` (other rows whose text mentions them), `rows`. Recorded in the audit log."""
    return to_jsonable(privacy.export_for(store, customer, user=user, ip=client_ip(request)))  # type: ignore[no-any-return]


router.include_router(api)
