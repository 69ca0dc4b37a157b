"""The FastAPI application: dashboard pages (Jinja2 + HTMX), the REST API under /api/v1, offline /docs.

Areas add pages by appending their router module name to `ROUTERS` (a module `heedful.web.<name>`
exposing `router`) and one nav line in `templates/base.html`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any

import plotly
import swagger_ui_bundle
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heedful.config import load_settings
from heedful.errors import ConfigError, HeedfulError, NotFoundError
from heedful.store import Store, connect
from heedful.web import imports as web_imports
from heedful.web.cache import AggregateCache
from heedful.web.deps import CsrfFailed, Forbidden, NotSignedIn, StorePool, verify_csrf
from heedful.web.security import (
    BodySizeLimitMiddleware,
    LoginThrottle,
    SecurityHeadersMiddleware,
    SessionMiddleware,
    SessionPolicy,
    install_log_redaction,
)
from heedful.web.templating import STATIC_DIR, render

log = logging.getLogger("heedful.web")

# Router modules under heedful.web, in nav order. Other areas append their module name here.
ROUTERS: list[str] = [
    "auth",
    "overview",
    "customers",
    "value",
    "listen",
    "imports",
    "settings",
    "privacy",
    "advocacy",
    "survey_builder",  # before "surveys": /surveys/brand is not a survey's address
    "survey_invites",
    "surveys",
    "journey",
    "retain",
    "cases",
    "notifications",
    "cases_api",
    "case_settings",
    "jobs",
    "api",
    "local",
]

PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
SWAGGER_DIR = Path(swagger_ui_bundle.swagger_ui_path)
PROBLEM_JSON = "application/problem+json"


def create_app(
    db_url: str | None = None,
    *,
    secret_key: str | None = None,
    store: Store | None = None,
    session_policy: SessionPolicy | None = None,
    login_throttle: LoginThrottle | None = None,
    clock: Any = time.time,
    warm_cache: bool = True,
    pool_size: int | None = None,
    scheduler: bool | None = None,
) -> FastAPI:
    """Build the app over the store at `db_url` (or an open `store`).

    `warm_cache` computes the overview's whole-table figures as the server starts, so the first visitor
    does not wait for them. `pool_size` caps the PostgreSQL connections one server process opens for
    its requests (default HEEDFUL_WEB_POOL or 4; DuckDB always uses its one connection). `scheduler` runs the
    scheduled jobs (`web/jobs.py`; default: HEEDFUL_SCHEDULER=1, which `heedful serve` sets).
    `secret_key` signs session cookies: give one (or set HEEDFUL_SECRET_KEY) so sessions survive a
    restart; without it a random key is made and everyone signs in again after a restart.
    """
    settings = load_settings()
    own_store = store is None
    the_store = store if store is not None else connect(db_url)
    key = secret_key or settings.secret_key
    if not key:
        key = secrets.token_urlsafe(32)
        log.info("No HEEDFUL_SECRET_KEY set: sessions end when the server restarts.")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from heedful.web import jobs, local

        warming = asyncio.create_task(warm_caches(app)) if warm_cache else None
        local.start(app)  # `heedful serve` on a DuckDB file: CLI commands on the same file come through here
        await asyncio.to_thread(jobs.start, app)  # the job worker and the scheduled jobs
        try:
            yield
        finally:
            await asyncio.to_thread(jobs.stop, app)
            local.stop(app)
        if warming is not None:
            await warming  # a running computation cannot be interrupted; it ends with its query
        pool.close()
        if own_store:
            the_store.close()

    app = FastAPI(
        title="heedful",
        summary="Know your customers, hear them, keep them.",
        version="1",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(verify_csrf)],
    )
    the_store.quiet()  # long first queries would draw progress bars in the server log
    app.state.store = the_store
    app.state.scheduler_enabled = scheduler
    size = pool_size if pool_size is not None else int(os.environ.get("HEEDFUL_WEB_POOL", "4"))
    # an embedded (DuckDB) file is served through the one connection; a server gets a pool of them
    opener = None if the_store.embedded else (lambda: connect(the_store.url, migrate=False))
    pool = app.state.store_pool = StorePool(the_store, size, opener)
    app.state.login_throttle = login_throttle or LoginThrottle(clock=clock)
    app.state.clock = clock
    app.state.aggregates = AggregateCache()

    app.add_middleware(SessionMiddleware, secret_key=key, policy=session_policy or SessionPolicy(), clock=clock)
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ServerTimingMiddleware)
    install_log_redaction()
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=web_imports.MAX_UPLOAD_BYTES + 2**20)  # form fields on top

    _add_assets(app)
    _add_error_handlers(app)
    _document_problems(app)
    for name in ROUTERS:
        module = importlib.import_module(f"heedful.web.{name}")
        app.include_router(module.router)
    return app


async def warm_caches(app: FastAPI) -> None:
    """Compute the overview figures in a worker thread, holding the store like a request would."""
    from starlette.concurrency import run_in_threadpool

    from heedful.web.overview import overview_data

    async with app.state.store_pool.acquire() as store:
        try:
            await run_in_threadpool(app.state.aggregates.get, store, "overview", overview_data)
        except Exception:  # an empty or half-migrated store: the page computes it when visited
            log.warning("Could not precompute the overview figures", exc_info=True)


class ServerTimingMiddleware:
    """`Server-Timing: app;dur=<ms>, queue;dur=<ms>` on every response, for benchmarks and DevTools.

    `app` is the time spent serving the request; `queue` the time it waited for the store (one request
    uses the DuckDB connection at a time).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope.setdefault("state", {})  # shared with the request, where get_store notes its wait

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                queued = float(scope["state"].get("store_wait_ms", 0.0))
                timing = f"app;dur={total - queued:.1f}, queue;dur={queued:.1f}"
                MutableHeaders(scope=message).append("Server-Timing", timing)
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _add_assets(app: FastAPI) -> None:
    """Static files, Plotly from the installed package, Swagger UI from swagger-ui-bundle: nothing from a CDN."""
    long_cache = {"Cache-Control": "public, max-age=86400"}

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=long_cache)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.mount("/vendor/swagger", StaticFiles(directory=SWAGGER_DIR), name="swagger")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


_DOCS_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>heedful API</title><link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/vendor/swagger/swagger-ui.css"></head>
<body><div id="swagger-ui" data-openapi-url="/openapi.json"></div>
<script src="/vendor/swagger/swagger-ui-bundle.js"></script><script src="/static/swagger-init.js"></script>
</body></html>"""


# ---------------------------------------------------------------- errors
_PROBLEM_STATUSES = {
    "400": "Invalid input (the detail says what to fix)",
    "401": "Not signed in",
    "403": "Role not allowed",
    "404": "Not found",
    "413": "Request too large",
    "503": "Database unavailable for a moment (Retry-After)",
    "422": "Invalid parameters",
}


def _document_problems(app: FastAPI) -> None:
    """Every /api/ operation documents the problem documents it may answer with (RFC 9457)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        for path, operations in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in _PROBLEM_STATUSES.items():
                    answer = responses.setdefault(status, {"description": description})
                    answer["content"] = {PROBLEM_JSON: {"schema": {"type": "object"}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    title: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An RFC 9457 problem document."""
    body = {
        "type": "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {}))


def _error_page(request: Request, status: int, message: str) -> Response:
    return render(
        request, "error.html", {"status": status, "title": HTTPStatus(status).phrase, "message": message}, status
    )


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, exc: NotSignedIn) -> Response:
        if is_api(request):
            return problem(
                request,
                401,
                "Sign in, or send an API token: Authorization: Bearer hf_…",
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = f"/login?next={target}" if request.method == "GET" else "/login"
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": url})
        return RedirectResponse(url, status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if is_api(request):
            return problem(request, 403, str(exc), required_role=exc.needed.value)
        return _error_page(request, 403, str(exc))

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        message = "The form was stale or did not come from this site. Reload the page and try again."
        if is_api(request):
            return problem(request, 403, message, title="CSRF check failed")
        return _error_page(request, 403, message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = str(exc.detail) if exc.detail else HTTPStatus(exc.status_code).phrase
        if is_api(request):
            return problem(request, exc.status_code, detail, headers=exc.headers)
        return _error_page(request, exc.status_code, detail)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()
        ]
        if is_api(request):
            return problem(request, 422, "The request has invalid parameters.", errors=errors)
        message = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:])}: {e['msg']}" for e in errors)
        return _error_page(request, 422, message)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        message = "Something went wrong on the server; the error has been logged."
        if is_api(request):
            return problem(request, 500, message)
        return _error_page(request, 500, message)

    @app.exception_handler(HeedfulError)
    async def user_error(request: Request, exc: HeedfulError) -> Response:
        # A ConfigError while serving is the database being unreachable (e.g. PostgreSQL restarting): 503, retry.
        status = 404 if isinstance(exc, NotFoundError) else 503 if isinstance(exc, ConfigError) else 400
        if status == 503:
            log.warning("Store unavailable on %s %s: %s", request.method, request.url.path, exc)
            message = "The database is unavailable for a moment; please try again shortly."
            if is_api(request):
                return problem(request, 503, message, headers={"Retry-After": "5"})
            page = _error_page(request, 503, message)
            page.headers["Retry-After"] = "5"
            return page
        if is_api(request):
            return problem(request, status, str(exc))
        return _error_page(request, status, str(exc))
