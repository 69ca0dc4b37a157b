"""Settings (admins): theme taxonomy, departments, journey stages, users (role, department), and the audit log.

The case rules and mail settings have their own pages (`heedful.web.case_settings`), linked from here."""

from __future__ import annotations

import re
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import InputError
from heedful.services import accounts
from heedful.services.accounts import Role, UserUpdate
from heedful.store import Store
from heedful.web.deps import AdminUser, StoreDep, client_ip
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

_ID = re.compile(r"^[a-z0-9_]{1,40}$")
NO_DEPARTMENT = "none"  # the users form's choice "No department"


def _taxonomy_themes(store: Store) -> list[dict[str, Any]]:
    """The default taxonomy's themes, with their owners' names as the journey configuration gives them."""
    from heedful.listen.taxonomy import default_taxonomy
    from heedful.services.journey import load_config

    config = load_config(store)
    return [
        {
            **theme.model_dump(),
            "department_name": config.department_name(theme.department),
            "stage_name": config.stage_name(theme.journey_stage),
        }
        for theme in default_taxonomy().themes
    ]


def _slug(value: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")
    if not _ID.match(slug):
        raise InputError("Ids use lower-case letters, digits and _ (at most 40).")
    return slug


def _page(request: Request, store: Store, message: str | None = None, new_password: str | None = None) -> Response:
    from heedful.services.journey import load_config

    return render(
        request,
        "settings.html",
        {
            "themes": _taxonomy_themes(store),
            "departments": store.query("SELECT department_id, name, email FROM departments ORDER BY name").to_dict(
                orient="records"
            ),
            "stages": store.query("SELECT stage_id, name, position FROM journey_stages ORDER BY position").to_dict(
                orient="records"
            ),
            "users": accounts.list_users(store),
            "user_departments": [(d.id, d.name) for d in load_config(store).departments],
            "roles": [r.value for r in Role],
            "audit": accounts.recent_audit(store, 100),
            "message": message,
            "new_password": new_password,
        },
    )


@router.get("/settings")
def settings_page(request: Request, store: StoreDep, user: AdminUser) -> Response:
    return _page(request, store)


@router.post("/settings/departments")
def save_department(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    name: Annotated[str, Form()],
    department_id: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    dept_id = _slug(department_id or name)
    row = {"department_id": dept_id, "name": name.strip(), "email": email.strip() or None}
    store.upsert("departments", pd.DataFrame([row]))
    accounts.record_audit(store, "department.save", user=user, target=dept_id, detail=row, ip=client_ip(request))
    return RedirectResponse("/settings#departments", status_code=303)


@router.post("/settings/departments/{department_id}/delete")
def delete_department(request: Request, store: StoreDep, user: AdminUser, department_id: str) -> Response:
    store.execute("DELETE FROM departments WHERE department_id = ?", [department_id])
    accounts.record_audit(store, "department.delete", user=user, target=department_id, ip=client_ip(request))
    return RedirectResponse("/settings#departments", status_code=303)


@router.post("/settings/stages")
def save_stage(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    name: Annotated[str, Form()],
    position: Annotated[int, Form()],
    stage_id: Annotated[str, Form()] = "",
) -> Response:
    sid = _slug(stage_id or name)
    row = {"stage_id": sid, "name": name.strip(), "position": int(position)}
    store.upsert("journey_stages", pd.DataFrame([row]))
    accounts.record_audit(store, "stage.save", user=user, target=sid, detail=row, ip=client_ip(request))
    return RedirectResponse("/settings#stages", status_code=303)


@router.post("/settings/stages/{stage_id}/delete")
def delete_stage(request: Request, store: StoreDep, user: AdminUser, stage_id: str) -> Response:
    store.execute("DELETE FROM journey_stages WHERE stage_id = ?", [stage_id])
    accounts.record_audit(store, "stage.delete", user=user, target=stage_id, ip=client_ip(request))
    return RedirectResponse("/settings#stages", status_code=303)


@router.post("/settings/users")
def add_user(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    email: Annotated[str, Form()],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
) -> Response:
    created, chosen = accounts.create_user(store, email, role, password or None, department=department or None)
    accounts.record_audit(
        store,
        "user.create",
        user=user,
        target=created.email,
        detail={"role": created.role.value, "department": created.department},
        ip=client_ip(request),
    )
    shown = None if password else chosen
    return _page(request, store, message=f"Added {created.email} as {created.role.value}.", new_password=shown)


@router.post("/settings/users/{user_id}")
def update_user(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    user_id: str,
    role: Annotated[Role | None, Form()] = None,
    active: Annotated[str | None, Form()] = None,
    password: Annotated[str, Form()] = "",
    department: Annotated[str | None, Form()] = None,
) -> Response:
    before = accounts.get_user(store, user_id)
    change = UserUpdate(
        role=role,
        active=None if active is None else active == "true",
        password=password or None,
        # not on the form: kept; "none" (an empty value would arrive as not given): out of any department
        department=None if department is None else "" if department == NO_DEPARTMENT else department,
    )
    losing_admin = (
        before.role == Role.admin
        and before.active
        and ((change.role is not None and change.role != Role.admin) or change.active is False)
    )
    if losing_admin and accounts.count_active_admins(store) <= 1:
        raise InputError("This is the last active admin; make someone else admin first.")
    after = accounts.update_user(store, user_id, change, at=request.app.state.clock())
    detail = {
        "role": [before.role.value, after.role.value],
        "active": [before.active, after.active],
        "department": [before.department, after.department],
        "password_changed": change.password is not None,
    }
    accounts.record_audit(store, "user.update", user=user, target=after.email, detail=detail, ip=client_ip(request))
    return RedirectResponse("/settings#users", status_code=303)
