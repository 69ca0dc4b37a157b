"""Survey answers carrying HTML and script are stored verbatim and shown as text, in Chromium: on the
respondent's own form (re-shown after a validation error) and on the team's results page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.conftest import EMAILS, PASSWORD
from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS, served

from heedful.services.accounts import Role

from .conftest import World

pytestmark = pytest.mark.browser

PAYLOAD = (
    """<script>window.__xss=1</script><img src="x" onerror="window.__xss=2"><b id="bold">bold</b> "quoted" & 'single'"""
)

# Elements the payload would create if it were rendered as HTML instead of text.
INJECTED = """() => ({
  xss: window.__xss === undefined ? null : window.__xss,
  imgs: document.querySelectorAll('img[src="x"]').length,
  bold: document.querySelectorAll('#bold').length,
  scripts: [...document.scripts].filter(s => s.textContent.includes('__xss')).length,
})"""
CLEAN = {"xss": None, "imgs": 0, "bold": 0, "scripts": 0}


@pytest.fixture(scope="module")
def base_url(world: World) -> Iterator[str]:
    with served(world.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    import os

    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def test_script_in_a_survey_answer_is_stored_verbatim_and_shown_as_text(
    world: World, browser: Any, base_url: str
) -> None:
    token = world.invitations["open-voice"]
    respondent = browser.new_context(base_url=base_url).new_page()
    dialogs: list[str] = []
    respondent.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    respondent.goto(f"/s/open-voice?t={token}")
    respondent.locator('textarea[name="remark"], input[name="remark"]').fill(PAYLOAD)
    respondent.get_by_role("button", name="Send answers").click()  # the score is missing: shown again
    respondent.wait_for_selector(".error-summary")
    assert respondent.locator('textarea[name="remark"], input[name="remark"]').input_value() == PAYLOAD
    assert respondent.evaluate(INJECTED) == CLEAN
    respondent.locator('input[name="score"][value="9"]').check()
    respondent.get_by_role("button", name="Send answers").click()
    respondent.wait_for_selector("text=Thank")
    assert respondent.evaluate(INJECTED) == CLEAN

    stored = world.store.fetchall("SELECT value FROM answers WHERE question_id = 'remark'")
    assert [row[0] for row in stored] == [PAYLOAD]  # stored as typed, not escaped twice or stripped

    team = browser.new_context(base_url=base_url).new_page()
    team.goto("/login")
    team.get_by_label("E-mail").fill(EMAILS[Role.analyst])
    team.get_by_label("Password").fill(PASSWORD)
    team.get_by_role("button", name="Sign in").click()
    team.wait_for_url("**/")
    team.goto("/surveys/open-voice")
    assert PAYLOAD in team.locator("main").inner_text()  # the markup is visible as text
    assert team.evaluate(INJECTED) == CLEAN
    assert dialogs == []
