"""Background work in the web app: the job worker and the scheduler the app starts, a job's progress
fragment (polled by HTMX), and the jobs page for admins (schedule, last and next runs, "Run now").

The work itself is `heedful.services.jobs` (after an import) and `heedful.services.schedule` (scheduled
jobs); they borrow the store from the app's pool between requests (`pool_access`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import HeedfulError, InputError, NotFoundError
from heedful.services import jobs as service
from heedful.services import schedule
from heedful.services.jobs import JobRunner, StoreAccess
from heedful.store import Store
from heedful.web.deps import AdminUser, StoreDep, StorePool, ViewerUser
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
log = logging.getLogger("heedful.web")

KIND_TITLES = {"after_import": "Reading an import"}


def pool_access(pool: StorePool) -> StoreAccess:
    """Borrow a store of the app's pool from a worker thread, as a request would, for one `with` block."""

    @contextmanager
    def borrow() -> Iterator[Store]:
        loop = asyncio.new_event_loop()
        try:
            lease = pool.acquire()
            store = loop.run_until_complete(lease.__aenter__())
            try:
                yield store
            finally:
                loop.run_until_complete(lease.__aexit__(None, None, None))
        finally:
            loop.close()

    return borrow


def access_of(app: FastAPI) -> StoreAccess:
    return pool_access(app.state.store_pool)


def runner_of(app: FastAPI) -> JobRunner:
    """The app's job worker (made on first use: a test client without the lifespan still runs jobs)."""
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is None:
        runner = app.state.job_runner = JobRunner()
    return runner


def scheduler_wanted(app: FastAPI) -> bool:
    """`create_app(scheduler=…)`, else HEEDFUL_SCHEDULER=1 (set by `heedful serve` unless --no-scheduler)."""
    chosen = getattr(app.state, "scheduler_enabled", None)
    return bool(chosen) if chosen is not None else os.environ.get("HEEDFUL_SCHEDULER") == "1"


def start(app: FastAPI) -> None:
    """At start-up: mark jobs a stopped server left unfinished, make the worker, start the scheduler."""
    try:
        with access_of(app)() as store:
            service.fail_interrupted(store)
    except HeedfulError as exc:  # the database is down at start-up: serve (503s) and let it come back
        log.warning("Could not check for interrupted background jobs at start-up: %s", exc)
    runner_of(app)
    app.state.scheduler = None
    if scheduler_wanted(app):
        scheduler = schedule.Scheduler(access_of(app))
        scheduler.start()
        app.state.scheduler = scheduler
        log.info("Scheduled jobs are on (monthly report, weekly digests, alert checks, notifications).")


def stop(app: FastAPI) -> None:
    """At shutdown: stop the scheduler and the worker, waiting for what is running."""
    scheduler = getattr(app.state, "scheduler", None)
    if scheduler is not None:
        scheduler.stop()
        app.state.scheduler = None
    runner: JobRunner | None = getattr(app.state, "job_runner", None)
    if runner is not None:
        runner.stop()
        app.state.job_runner = None


def start_after_import(request: Request, store: Store, import_id: str, entity: str, created_by: str) -> str | None:
    """Queue the work that follows an import (reading new feedback, opening cases); the job id or None."""
    app = request.app
    return service.start_after_import(store, access_of(app), runner_of(app), import_id, entity, created_by)


# ---------------------------------------------------------------- pages
@router.get("/jobs/{job_id}/progress")
def job_progress(request: Request, store: StoreDep, user: ViewerUser, job_id: str) -> Response:
    """A job's progress, or what it did: the fragment the import page polls until the job ends."""
    job = service.get_job(store, job_id)
    if job is None:
        raise NotFoundError("No such background job.")
    return render(request, "jobs_progress.html", {"job": job, "pct": service.percent(job)})


def _jobs_page(request: Request, store: Store, message: str | None = None, error: str | None = None) -> Response:
    scheduler = getattr(request.app.state, "scheduler", None)
    return render(
        request,
        "jobs.html",
        {
            "scheduled": schedule.schedule_status(store),
            "scheduler_on": scheduler is not None and scheduler.running,
            "jobs": service.recent_jobs(store, 20),
            "kind_titles": KIND_TITLES,
            "recipients": ", ".join(schedule.report_recipients(store)),
            "message": message,
            "error": error,
        },
    )


@router.get("/jobs")
def jobs_page(request: Request, store: StoreDep, user: AdminUser, started: str | None = None) -> Response:
    job = schedule.JOBS_BY_NAME.get(started or "")
    message = f"{job.title}: started. Reload the page in a moment to see how it went." if job else None
    return _jobs_page(request, store, message)


@router.post("/jobs/{name}/run")
def run_job_now(request: Request, store: StoreDep, user: AdminUser, name: str) -> Response:
    schedule.run_now(access_of(request.app), runner_of(request.app), name, user.email)
    return RedirectResponse(f"/jobs?started={name}", status_code=303)


@router.post("/jobs/recipients")
def save_recipients(
    request: Request, store: StoreDep, user: AdminUser, recipients: Annotated[str, Form()] = ""
) -> Response:
    try:
        saved = schedule.save_report_recipients(store, recipients, user.email)
    except InputError as exc:
        return _jobs_page(request, store, error=str(exc))
    who = ", ".join(saved) if saved else "the admins"
    return _jobs_page(request, store, message=f"The monthly report goes to {who}.")
