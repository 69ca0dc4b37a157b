"""Journey pages in the web app: the journey, a department, alerts, the report, the needs file in Settings."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from heedful.services.accounts import Role, create_user
from heedful.store import connect
from heedful.web.app import create_app

PASSWORD = "correct-horse-battery"


def _signed_in(app: object, email: str) -> TestClient:
    client = TestClient(app)  # type: ignore[arg-type]
    token = _csrf(client, "/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


def _csrf(client: TestClient, path: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def clients(journey_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[Role, TestClient]]:
    """One app and one signed-in client per role for the module (signing in hashes passwords: slow)."""
    path = tmp_path_factory.mktemp("journey-web") / "web.duckdb"
    shutil.copy(journey_db_template, path)
    store = connect(f"duckdb:///{path}")
    for role in Role:
        create_user(store, f"{role.value}@example.com", role, PASSWORD)
    app = create_app(store=store, secret_key="journey-test")
    yield {role: _signed_in(app, f"{role.value}@example.com") for role in Role}
    store.close()


def test_journey_page_shows_needs_by_stage_with_status(clients: dict[Role, TestClient]) -> None:
    page = clients[Role.viewer].get("/journey")
    assert page.status_code == 200
    html = page.text
    assert "Customer journey — 2026-10" in html
    assert "My order arrives on time and intact" in html
    assert 'href="/journey" aria-current="page"' in html  # the nav entry
    assert "worsening" in html and "missed" in html
    # a need's quotes say which side each is on: praise is not shown as if it were a complaint
    assert "In their words, criticism first:" in html and '<span class="muted">(negative)</span>' in html


def test_department_page_lists_what_it_owns_with_quotes_and_customers(clients: dict[Role, TestClient]) -> None:
    html = clients[Role.viewer].get("/journey/departments/delivery").text
    assert "Delivery / logistics" in html
    assert "My order arrives on time and intact" in html
    assert "The price is fair for what I get" not in html  # owned by sales
    assert "In their words, criticism first" in html and "Customers affected" in html
    assert '” <span class="muted">(negative)</span></blockquote>' in html
    assert clients[Role.viewer].get("/journey/departments/finance").status_code == 404


def test_staff_view_is_apart_and_suppresses_small_groups(clients: dict[Role, TestClient]) -> None:
    html = clients[Role.viewer].get("/journey?audience=staff").text
    assert "internal customers" in html
    assert "fewer than 5 respondents" in html
    assert "Customers affected" not in html


def test_analyst_runs_alerts_and_everyone_sees_them(clients: dict[Role, TestClient]) -> None:
    analyst = clients[Role.analyst]
    token = _csrf(analyst, "/journey/alerts")
    response = analyst.post("/journey/alerts/run", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    html = clients[Role.viewer].get("/journey/alerts").text
    assert "got worse" in html
    viewer = clients[Role.viewer]
    denied = viewer.post(
        "/journey/alerts/run", data={"csrf_token": _csrf(viewer, "/journey/alerts")}, follow_redirects=False
    )
    assert denied.status_code == 403


def test_report_is_a_page_with_charts_for_the_app_and_an_html_download(clients: dict[Role, TestClient]) -> None:
    page = clients[Role.viewer].get("/journey/report?period=2026-10")
    assert page.status_code == 200
    assert "What we would rather not hear" in page.text
    assert "data-figure=" in page.text and "Plotly.newPlot" not in page.text  # drawn by app.js: no inline script
    download = clients[Role.viewer].get("/journey/report.html?period=2026-10")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.text.startswith("<!doctype html>")


def test_admin_imports_needs_yaml_and_errors_name_the_line(clients: dict[Role, TestClient]) -> None:
    admin = clients[Role.admin]
    exported = admin.get("/journey/needs.yaml").text
    assert "on_time_delivery" in exported
    bad = exported.replace("stage: delivery\n", "stage: teleportation\n", 1)
    token = _csrf(admin, "/journey/settings")
    response = admin.post("/journey/settings", data={"yaml_text": bad, "csrf_token": token})
    assert response.status_code == 422
    assert re.search(r"line \d+: needs\.\d+\.stage: .*unknown stage", response.text)
    edited = exported.replace("label: My order arrives on time and intact", "label: My parcel comes when promised")
    ok = admin.post("/journey/settings", data={"yaml_text": edited, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303
    assert "My parcel comes when promised" in admin.get("/journey").text
    assert clients[Role.analyst].get("/journey/settings").status_code == 403


@pytest.mark.browser
def test_report_pdf_download_is_printed_by_chromium(clients: dict[Role, TestClient]) -> None:
    if not Path("/usr/bin/chromium").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is not installed")
    response = clients[Role.viewer].get("/journey/report.pdf?period=2026-10")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-") and len(response.content) > 50_000
