"""Every route of the web app checks the role: the full role × route matrix, plus anonymous access."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from heedful.services.accounts import Role
from heedful.web.app import create_app
from heedful.web.deps import SAFE_METHODS

MY_MODULES = ["auth", "overview", "customers", "value", "imports", "settings", "api"]
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/logout")}

# (method, path with example parameters, least role allowed). GETs are asserted to answer 200 for
# allowed roles; unsafe requests are sent with a body that is invalid or harmless, so only the
# permission decision (403 vs anything else) is asserted for them.
MATRIX: list[tuple[str, str, Role]] = [
    ("GET", "/", Role.viewer),
    ("GET", "/overview/chart/{name}.csv", Role.viewer),
    ("GET", "/customers", Role.viewer),
    ("GET", "/customers/{customer_id}", Role.viewer),
    ("GET", "/value", Role.viewer),
    ("GET", "/value/chart/segments.csv", Role.viewer),
    ("POST", "/value/run", Role.analyst),
    ("POST", "/value/fit", Role.analyst),
    ("GET", "/imports", Role.viewer),
    ("GET", "/imports/presets", Role.viewer),
    ("POST", "/imports", Role.analyst),
    ("GET", "/imports/{import_id}", Role.viewer),
    ("GET", "/imports/{import_id}/quarantine.csv", Role.viewer),
    ("POST", "/imports/{import_id}/reimport", Role.analyst),
    ("GET", "/account", Role.viewer),
    ("POST", "/account/tokens", Role.viewer),
    ("POST", "/account/tokens/{token_id}/revoke", Role.viewer),
    ("POST", "/account/password", Role.viewer),
    ("GET", "/settings", Role.admin),
    ("POST", "/settings/departments", Role.admin),
    ("POST", "/settings/departments/{department_id}/delete", Role.admin),
    ("POST", "/settings/stages", Role.admin),
    ("POST", "/settings/stages/{stage_id}/delete", Role.admin),
    ("POST", "/settings/users", Role.admin),
    ("POST", "/settings/users/{user_id}", Role.admin),
    ("GET", "/api/v1/me", Role.viewer),
    ("GET", "/api/v1/customers", Role.viewer),
    ("GET", "/api/v1/customers/{customer_id}", Role.viewer),
    ("GET", "/api/v1/customers/{customer_id}/profile", Role.viewer),
    ("GET", "/api/v1/orders", Role.viewer),
    ("GET", "/api/v1/feedback", Role.viewer),
    ("GET", "/api/v1/imports", Role.viewer),
    ("GET", "/api/v1/imports/{import_id}", Role.viewer),
    ("POST", "/api/v1/imports", Role.analyst),
    ("GET", "/api/v1/value", Role.viewer),
    ("GET", "/api/v1/value/segments", Role.viewer),
    ("GET", "/api/v1/value/{customer_id}", Role.viewer),
]

EXAMPLES = {
    "{name}": "revenue",
    "{customer_id}": "C1",
    "{token_id}": "nope",
    "{department_id}": "nope",
    "{stage_id}": "nope",
    "{user_id}": "nope",
}


def _routes() -> set[tuple[str, str]]:
    found = set()
    for name in MY_MODULES:
        for route in importlib.import_module(f"heedful.web.{name}").router.routes:
            if isinstance(route, APIRoute):
                found.update((m, route.path) for m in route.methods)
    return found


def _required_role(route: APIRoute) -> Role | None:
    for dep in route.dependant.dependencies:
        role = getattr(dep.call, "required_role", None)
        if role is not None:
            return Role(role)
    return None


def test_matrix_covers_every_route_of_the_web_modules() -> None:
    listed = {(m, p.replace("segments.csv", "{name}.csv")) for m, p, _ in MATRIX}
    assert _routes() - PUBLIC == listed


def test_every_non_public_route_declares_the_role_it_needs() -> None:
    expected = {(m, p.replace("segments.csv", "{name}.csv")): role for m, p, role in MATRIX}
    for name in MY_MODULES:
        for route in importlib.import_module(f"heedful.web.{name}").router.routes:
            assert isinstance(route, APIRoute)
            for method in route.methods:
                if (method, route.path) in PUBLIC:
                    continue
                assert _required_role(route) == expected[(method, route.path)], (method, route.path)


def _url(path: str, import_id: str) -> str:
    for key, value in {**EXAMPLES, "{import_id}": import_id}.items():
        path = path.replace(key, value)
    return path


@pytest.fixture(scope="module")
def import_id(web_store) -> str:  # type: ignore[no-untyped-def]
    rows = web_store.fetchall("SELECT import_id FROM imports LIMIT 1")
    if rows:
        return str(rows[0][0])
    web_store.execute(
        "INSERT INTO imports (import_id, entity, preset, source_file, started_at, status) "
        "VALUES ('imp1', 'orders', 'generic', 'orders.csv', TIMESTAMP '2024-01-01', 'done')"
    )
    return "imp1"


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize(("method", "path", "least"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_role_matrix(
    clients: dict[Role, TestClient], import_id: str, csrf_for: Any, role: Role, method: str, path: str, least: Role
) -> None:
    client = clients[role]
    url = _url(path, import_id)
    if method in SAFE_METHODS:
        response = client.get(url, follow_redirects=False)
    else:
        # An empty form with a valid CSRF token: the role check must answer before validation does.
        response = client.request(method, url, headers=csrf_for(client), data={}, follow_redirects=False)
    if role.allows(least):
        assert response.status_code != 403, response.text[:300]
        if method in SAFE_METHODS:
            assert response.status_code == 200, response.text[:300]
    else:
        assert response.status_code == 403
        if path.startswith("/api/"):
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["required_role"] == least.value


@pytest.mark.parametrize(("method", "path", "least"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_anonymous_requests_are_sent_to_sign_in(app, import_id: str, method: str, path: str, least: Role) -> None:  # type: ignore[no-untyped-def]
    with TestClient(app) as client:
        url = _url(path, import_id)
        response = client.request(method, url, follow_redirects=False) if method in SAFE_METHODS else None
        if response is None:
            # Unsafe requests without a session also lack a CSRF token: refused either way, never run.
            response = client.request(method, url, data={}, follow_redirects=False)
            assert response.status_code in (303, 401, 403)
            return
        if path.startswith("/api/"):
            assert response.status_code == 401
            assert response.headers["content-type"].startswith("application/problem+json")
        else:
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login")


def test_routes_added_by_other_areas_are_registered_from_the_routers_list(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from heedful.web import app as app_module

    assert [m for m in app_module.ROUTERS if m in MY_MODULES] == MY_MODULES
    application = create_app(f"duckdb:///{tmp_path / 'x.duckdb'}", secret_key="k")
    with TestClient(application) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
