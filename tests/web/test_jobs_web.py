"""Background work in the web app: an import's feedback is read and turned into cases with progress shown;
the scheduler starts and stops with the app; admins see the schedule and run a job now."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import EMAILS, csrf_of, seeded_store, sign_in

from heedful.services.accounts import Role
from heedful.store import Store
from heedful.store.settings_repo import delete_setting, put_setting
from heedful.web.app import create_app

WAIT_S = 300  # an upper bound only: each wait returns as soon as the work is done


@pytest.fixture(scope="module")
def jobs_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = seeded_store(tmp_path_factory.mktemp("jobs"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def jobs_app(jobs_store: Store) -> FastAPI:
    return create_app(store=jobs_store, secret_key="test-secret", warm_cache=False)


@pytest.fixture(scope="module")
def analyst(jobs_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(jobs_app) as client:  # with the lifespan: the worker stops when the module ends
        yield sign_in(client, EMAILS[Role.analyst])


def _feedback_csv() -> bytes:
    today = datetime.now().strftime("%Y-%m-%d")
    rows = [
        ("W1", "C1", "The parcel came a week late and the mug was chipped. Very disappointed."),
        ("W2", "C2", "Terrible support, nobody answered my emails for two weeks. I want a refund."),
        ("W3", "C3", "Lovely product, fast delivery, will buy again!"),
    ]
    lines = ["external_id,customer_id,channel,text,created_at"]
    lines += [f'{i},{c},review,"{t}",{today}' for i, c, t in rows]
    return ("\n".join(lines) + "\n").encode()


def _upload(client: TestClient, data: bytes, name: str = "reviews.csv") -> str:
    response = client.post(
        "/imports",
        files={"file": (name, data, "text/csv")},
        data={"entity": "feedback", "preset": "generic", "csrf_token": csrf_of(client, "/imports")},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _wait_for_job(app: FastAPI) -> None:
    assert app.state.job_runner.wait_idle(timeout=WAIT_S)


def _job_fragment(client: TestClient, import_page: str) -> str:
    page = client.get(import_page).text
    match = re.search(r'hx-get="(/jobs/[0-9a-f]+/progress)"', page)
    if match is None:  # already finished when the page was drawn: the result is on the page itself
        return page
    return client.get(match.group(1)).text


def test_imported_feedback_is_read_and_opens_cases_in_the_background(
    analyst: TestClient, jobs_app: FastAPI, jobs_store: Store
) -> None:
    location = _upload(analyst, _feedback_csv())
    first = analyst.get(location).text
    assert 'data-testid="job"' in first  # the import page shows the job at once (queued, running or done)
    _wait_for_job(jobs_app)

    fragment = _job_fragment(analyst, location)
    assert 'data-status="done"' in fragment and "hx-get" not in fragment  # done: polling stops
    result = re.search(r'data-testid="job-result">([^<]+)<', fragment)
    assert result is not None
    assert re.fullmatch(
        r"3 new reviews read; [12] negative(, 1 mixed)?(; 2 earlier items read again)?; \d+ cases? opened\.",
        result.group(1),
    )
    import_id = location.rsplit("/", 1)[1]
    classified = jobs_store.fetchall(
        "SELECT f.text, e.sentiment FROM feedback f JOIN feedback_enriched e ON e.feedback_id = f.feedback_id "
        "WHERE f.import_id = ?",
        [import_id],
    )
    assert len(classified) == 3
    sentiments = {text[:12]: sentiment for text, sentiment in classified}
    assert sentiments["Terrible sup"] == "negative" and sentiments["Lovely produ"] == "positive"
    cases = jobs_store.fetchall(
        "SELECT c.customer_id FROM cases c JOIN feedback f ON f.feedback_id = c.trigger_id "
        "WHERE c.trigger = 'feedback' AND f.import_id = ?",
        [import_id],
    )
    assert ("C2",) in cases and ("C3",) not in cases
    job = jobs_store.fetchall("SELECT status, progress_done, progress_total FROM jobs WHERE subject = ?", [import_id])
    assert job[0][0] == "done" and job[0][1] == job[0][2] >= 3  # progress reached its total
    assert f"{len(cases)} case" in result.group(1)


def test_importing_the_same_file_again_reads_nothing_new(analyst: TestClient, jobs_app: FastAPI) -> None:
    location = _upload(analyst, _feedback_csv(), "again.csv")
    _wait_for_job(jobs_app)
    page = analyst.get(location).text
    assert 'data-testid="job"' not in page  # nothing was accepted, so nothing follows


def test_a_failing_job_shows_a_plain_message(analyst: TestClient, jobs_app: FastAPI, jobs_store: Store) -> None:
    put_setting(jobs_store, "case_rules", {"triggers": "not rules"}, "test")  # rules that cannot be read
    try:
        more = _feedback_csv().replace(b"W1,", b"W4,").replace(b"W2,", b"W5,").replace(b"W3,", b"W6,")
        location = _upload(analyst, more.replace(b"mug", b"cup"), "more.csv")
        _wait_for_job(jobs_app)
    finally:
        delete_setting(jobs_store, "case_rules")
    fragment = _job_fragment(analyst, location)
    assert 'data-status="failed"' in fragment
    assert "The case rules saved in the web app are no longer valid" in fragment
    assert "Traceback" not in fragment and "None" not in fragment
    import_id = location.rsplit("/", 1)[1]
    stored = jobs_store.fetchall("SELECT status, message FROM jobs WHERE subject = ?", [import_id])
    assert stored[0][0] == "failed" and stored[0][1].startswith("The case rules saved in the web app")


def test_the_scheduler_starts_and_stops_with_the_app_without_leaking_threads(jobs_store: Store) -> None:
    before = set(threading.enumerate())
    app = create_app(store=jobs_store, secret_key="test-secret", warm_cache=False, scheduler=True)
    with TestClient(app) as client:
        scheduler = app.state.scheduler
        assert scheduler is not None and scheduler.running
        sign_in(client, EMAILS[Role.admin])
        page = client.get("/jobs").text
        assert "Monthly report by e-mail" in page and "The schedule is off" not in page
    assert not scheduler.running and app.state.scheduler is None
    leaked = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leaked == []


def test_without_the_scheduler_the_app_runs_no_schedule(jobs_store: Store) -> None:
    app = create_app(store=jobs_store, secret_key="test-secret", warm_cache=False)
    with TestClient(app) as client:
        assert app.state.scheduler is None
        sign_in(client, EMAILS[Role.admin])
        assert "The schedule is off in this server" in client.get("/jobs").text


def test_an_admin_runs_a_job_now_and_sees_how_it_went(jobs_app: FastAPI, jobs_store: Store) -> None:
    with TestClient(jobs_app) as admin:
        sign_in(admin, EMAILS[Role.admin])
        response = admin.post(
            "/jobs/alert_checks/run", data={"csrf_token": csrf_of(admin, "/jobs")}, follow_redirects=False
        )
        assert response.status_code == 303
        _wait_for_job(jobs_app)
        page = admin.get("/jobs").text
    row = re.search(r'<tr data-job="alert_checks">(.*?)</tr>', page, re.S)
    assert row is not None and "(by hand)" in row.group(1)
    assert "Not yet" not in row.group(1)
    assert not re.search(r"\bNone\b|\bnan\b|NaT|Traceback", page)
    runs = jobs_store.fetchall("SELECT status FROM job_runs WHERE job_name = 'alert_checks'")
    assert len(runs) == 1 and runs[0][0] in ("done", "skipped")


def test_only_admins_see_the_jobs_page(analyst: TestClient) -> None:
    assert analyst.get("/jobs").status_code == 403
    response = analyst.post("/jobs/monthly_report/run", data={"csrf_token": csrf_of(analyst, "/imports")})
    assert response.status_code == 403


def test_an_interrupted_job_is_marked_failed_when_the_server_starts(jobs_store: Store) -> None:
    from heedful.services.jobs import create_job, get_job

    job_id = create_job(jobs_store, "after_import", "analyst@example.com", subject="gone")
    with TestClient(create_app(store=jobs_store, secret_key="test-secret", warm_cache=False)):
        pass
    job = get_job(jobs_store, job_id)
    assert job is not None and job["status"] == "failed"
    assert job["message"].startswith("The server stopped before this finished")
    assert job["finished_at"] - job["created_at"] < timedelta(hours=1)


def test_a_running_job_polls_its_progress_and_a_missing_one_is_not_found(
    analyst: TestClient, jobs_store: Store
) -> None:
    from heedful.services.jobs import Progress, create_job, held

    job_id = create_job(jobs_store, "after_import", "analyst@example.com", subject="polled")
    Progress(held(jobs_store), job_id).update("Read 64 of 256 new feedback items.", done=64, total=256, force=True)
    fragment = analyst.get(f"/jobs/{job_id}/progress").text
    assert f'hx-get="/jobs/{job_id}/progress"' in fragment  # still running: it asks again
    assert "Read 64 of 256 new feedback items." in fragment and 'value="25"' in fragment
    assert analyst.get("/jobs/nope/progress").status_code == 404
