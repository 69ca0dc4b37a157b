"""A whole survey in headless Chromium with JavaScript switched off: every question type, skip logic,
per-answer messages, resume, double submit, closed survey, and a phone-sized screen.

Skipped (with the reason) where /usr/bin/chromium is missing, except under CI=true.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from tests.surveys.conftest import seed_survey_store

from heedful.report.report import CHROMIUM_ARGS  # one place for the offline Chromium flags
from heedful.store import Store, connect
from heedful.store import surveys_repo as repo
from heedful.web.app import create_app
from heedful.web.surveys import STATUS_TTL_S

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Store]]:
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('survey-browser') / 'heedful.duckdb'}")
    seed_survey_store(store)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = uvicorn.Config(create_app(store=store, secret_key="e2e"), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True
    thread.join(timeout=10)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _context(browser: Any, base_url: str, phone: bool = False) -> Any:
    viewport = {"width": 390, "height": 844} if phone else {"width": 1100, "height": 900}
    return browser.new_context(base_url=base_url, java_script_enabled=False, viewport=viewport)


def _fits(page: Any) -> bool:
    """Nothing is wider than the (phone) screen."""
    return bool(page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1"))


def _answer_tradeoffs(page: Any) -> None:
    for fieldset in ("features", "plans"):
        assert page.locator(f"#q-{fieldset}").is_visible()
    for task in page.locator("#q-features .task").all():
        radios_best = task.locator("input[name$='.best']")
        radios_worst = task.locator("input[name$='.worst']")
        radios_best.nth(0).check()
        radios_worst.nth(1).check()
    for task in page.locator("#q-plans .task").all():
        task.locator("input[type=radio]").first.check()
    page.fill("input[name='price_feel.too_cheap']", "5")
    page.fill("input[name='price_feel.cheap']", "10")
    page.fill("input[name='price_feel.expensive']", "25")
    page.fill("input[name='price_feel.too_expensive']", "40")


def test_full_survey_without_javascript(browser: Any, live: tuple[str, Store]) -> None:
    base_url, store = live
    context = _context(browser, base_url, phone=True)
    page = context.new_page()
    page.goto("/s/customer-pulse")
    assert "Page 1 of 4" in page.locator(".progress-label").inner_text()
    # the page fits a phone screen: nothing wider than the viewport
    assert _fits(page)
    # every answer is checked, with a message next to it and a summary at the top
    page.get_by_role("button", name="Next").click()
    assert page.locator(".error-summary").is_visible()
    assert page.locator("#err-nps").inner_text() == "Please answer this question."
    # a detractor is asked what went wrong (skip logic)
    page.locator("input[name=nps][value='3']").check()
    page.locator("input[name=csat][value='2']").check()
    page.get_by_role("button", name="Next").click()
    assert "Page 2 of 4" in page.locator(".progress-label").inner_text()
    assert _fits(page)
    page.locator("input[name=problems][value='delivery_was_late']").check()
    page.locator("input[name=problems][value='__other__']").check()
    page.get_by_role("button", name="Next").click()
    assert "Please say what" in page.locator("#err-problems").inner_text()
    page.fill("input[name='problems.other']", "The box was wet")
    page.fill("textarea[name=low_reason]", "Faster delivery please")
    page.get_by_role("button", name="Next").click()
    # page 3: matrix, single with other, ranking, numeric, text
    assert "Page 3 of 4" in page.locator(".progress-label").inner_text()
    assert _fits(page)
    for row in ("delivery_is_fast", "prices_are_fair", "support_is_helpful"):
        page.locator(f"input[name='ratings.{row}'][value='4']").check()
    page.locator("input[name=channel][value='__other__']").check()
    page.fill("input[name='channel.other']", "A podcast")
    page.select_option("select[name='priorities.price']", "2")
    page.select_option("select[name='priorities.speed']", "1")
    page.select_option("select[name='priorities.choice']", "3")
    page.fill("input[name=orders_per_year]", "12")
    page.fill("textarea[name=comment]", "Keep it up")
    page.get_by_role("button", name="Next").click()
    assert "Page 4 of 4" in page.locator(".progress-label").inner_text()
    assert _fits(page)
    # come back later: a new tab of the same browser resumes at page 4
    page.close()
    page = context.new_page()
    page.goto("/s/customer-pulse")
    assert "Page 4 of 4" in page.locator(".progress-label").inner_text()
    _answer_tradeoffs(page)
    # a double submit records once
    page.locator("button.primary").dblclick()
    page.get_by_role("heading", name="Thank you").wait_for()
    page.reload()
    assert page.get_by_role("heading", name="Thank you").is_visible()
    rid = store.fetchall("SELECT response_id FROM responses WHERE completed_at IS NOT NULL")[0][0]
    marks = store.fetchall(
        "SELECT field FROM answers WHERE response_id = ? AND question_id = '_page' ORDER BY field", [rid]
    )
    assert [m[0] for m in marks] == ["details", "loyalty", "tradeoffs", "why_low"]
    stored = dict(
        store.fetchall("SELECT field, value FROM answers WHERE response_id = ? AND question_id = 'channel'", [rid])
    )
    assert stored == {"": "other", "other": "A podcast"}
    tasks = store.fetchall(
        "SELECT COUNT(*) FROM answers WHERE response_id = ? AND question_id = 'features' AND field LIKE '%.best'", [rid]
    )
    assert tasks[0][0] == 2
    context.close()


def test_promoters_skip_the_complaint_page(browser: Any, live: tuple[str, Store]) -> None:
    base_url, _ = live
    context = _context(browser, base_url)
    page = context.new_page()
    page.goto("/s/customer-pulse")
    page.locator("input[name=nps][value='10']").check()
    page.locator("input[name=csat][value='5']").check()
    page.get_by_role("button", name="Next").click()
    assert "Page 3 of 4" in page.locator(".progress-label").inner_text()
    page.get_by_role("link", name="Back").click()
    assert page.locator("input[name=nps][value='10']").is_checked()
    context.close()


def test_closed_survey_says_so(browser: Any, live: tuple[str, Store]) -> None:
    base_url, store = live
    context = _context(browser, base_url)
    page = context.new_page()
    repo.set_status(store, "other-survey", "closed")
    time.sleep(STATUS_TTL_S + 0.1)
    page.goto("/s/other-survey")
    assert page.get_by_role("heading", name="This survey is closed").is_visible()
    page.goto("/s/customer-pulse?t=not-a-real-token")
    assert page.get_by_role("heading", name="This link is not valid").is_visible()
    context.close()
