"""End to end in headless Chromium (Debian's, driven by Playwright): what a person does in the dashboard.

Screenshots of every page go to artifacts/screenshots/. Skipped (with the reason) where
/usr/bin/chromium is missing, except under CI=true, where these tests must run.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from heedful.report.report import CHROMIUM_ARGS  # one place for the offline Chromium flags
from heedful.services.accounts import Role, create_user
from heedful.store import Store, connect
from heedful.web.app import create_app

from .conftest import EMAILS, PASSWORD, seed_data

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('browser') / 'heedful.duckdb'}")
    seed_data(store)
    for role, email in EMAILS.items():
        create_user(store, email, role, PASSWORD)
    yield store
    store.close()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """`app` served by Uvicorn on a free 127.0.0.1 port, in a thread, until the block ends; its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def base_url(live_store: Store) -> Iterator[str]:
    """The app served by Uvicorn on a free 127.0.0.1 port, in a thread."""
    with served(create_app(store=live_store, secret_key="e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but /usr/bin/chromium is missing (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, base_url: str) -> Iterator[object]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.console_errors = []
    tab.on("console", lambda msg: tab.console_errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: tab.console_errors.append(str(exc)))
    yield tab
    context.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page, role: Role) -> None:  # type: ignore[no-untyped-def]
    page.goto("/login")
    page.get_by_label("E-mail").fill(EMAILS[role])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def test_sign_in_and_browse_the_overview(page) -> None:  # type: ignore[no-untyped-def]
    page.goto("/")
    assert "/login" in page.url
    shot(page, "login")
    sign_in(page, Role.viewer)
    assert page.get_by_role("heading", name="Overview").is_visible()
    assert page.get_by_test_id("kpi-customers").inner_text() == "3"
    # Plotly (served from the installed package) drew the charts under the strict CSP.
    page.wait_for_selector(".plot .main-svg")
    assert page.locator(".chart").count() >= 3
    assert (
        page.get_by_role("link", name="Download data (CSV)").first.get_attribute("href")
        == "/overview/chart/revenue.csv"
    )
    assert page.console_errors == []
    shot(page, "overview")


def test_listening_page_shows_themes_bad_news_first_and_filters_quotes(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, Role.viewer)
    page.get_by_role("link", name="Listening").click()
    assert page.get_by_role("heading", name="What customers are telling us").is_visible()
    assert page.get_by_test_id("listen-items").inner_text() == "2"
    assert "Delivery speed" in page.get_by_test_id("listen-themes").inner_text()
    page.wait_for_selector(".plot .main-svg")
    # by default the quotes are the negative and mixed ones
    assert page.get_by_test_id("listen-quotes").inner_text().startswith("Delivery was late again")
    page.get_by_label("Sentiment").select_option("positive")
    page.get_by_role("button", name="Show").click()
    assert "Lovely product" in page.get_by_test_id("listen-quotes").inner_text()
    assert "late again" not in page.get_by_test_id("listen-quotes").inner_text()
    assert page.console_errors == []
    shot(page, "listen")


def test_search_customers_and_open_a_profile(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, Role.viewer)
    page.get_by_role("link", name="Customers").click()
    page.get_by_label("Search id, name, e-mail or company").fill("grace")
    # HTMX swaps the results as the user types.
    page.wait_for_function("() => !document.querySelector('#results').innerText.includes('Ada Lovelace')")
    assert page.locator("#results").get_by_role("link", name="Grace Hopper").is_visible()
    shot(page, "customers")
    page.get_by_role("link", name="Grace Hopper").click()
    page.wait_for_url("**/customers/C2")
    assert page.get_by_role("heading", name="Grace Hopper").is_visible()
    assert page.locator(".timeline li.order").count() == 4
    assert "Lovely product" in page.locator(".timeline").inner_text()
    assert page.console_errors == []
    shot(page, "customer")


def test_upload_with_a_bad_row_shows_it_quarantined_then_fix_it(page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    upload = tmp_path / "webshop-orders.csv"
    upload.write_text("order_id,customer_id,order_date,quantity,price\nW1,C1,2024-04-01,1,12.5\nW2,C1,not a date,2,3\n")
    sign_in(page, Role.analyst)
    page.goto("/imports")
    shot(page, "imports")
    page.get_by_label("File (CSV, Excel, Parquet, JSON Lines)").set_input_files(str(upload))
    page.get_by_label("What it holds").select_option("orders")
    page.get_by_label("Preset (where the file comes from)").select_option("generic")
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url("**/imports/*")
    assert page.get_by_test_id("accepted").inner_text() == "1"
    assert page.get_by_test_id("rejected").inner_text() == "1"
    quarantine = page.get_by_test_id("quarantine")
    assert "W2" in quarantine.inner_text() and quarantine.locator("tbody tr").count() == 1
    shot(page, "import_quarantine")
    fixed = page.get_by_label("Rejected rows as CSV: correct them, then import with the same entity and preset")
    fixed.fill(fixed.input_value().replace("not a date", "2024-04-02"))
    page.get_by_role("button", name="Import the fixed rows").click()
    page.wait_for_function("() => document.querySelector('[data-testid=rejected]').innerText === '0'")
    assert page.get_by_test_id("accepted").inner_text() == "1"
    shot(page, "import_fixed")


def test_viewer_is_blocked_from_analyst_and_admin_actions(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, Role.viewer)
    page.goto("/imports")
    assert page.get_by_text("importing files needs the analyst role").is_visible()
    assert page.locator('form[action="/imports"]').count() == 0
    # Even a hand-made request from the signed-in page (with a valid CSRF token) is refused.
    status = page.evaluate(
        """async () => {
            const form = new FormData();
            form.append('file', new Blob(['order_id\\n1\\n'], {type: 'text/csv'}), 'x.csv');
            form.append('entity', 'orders');
            const token = document.querySelector('meta[name=csrf-token]').content;
            const r = await fetch('/imports', {method: 'POST', body: form, headers: {'X-CSRF-Token': token}});
            return r.status;
        }"""
    )
    assert status == 403
    response = page.goto("/settings")
    assert response is not None and response.status == 403
    assert "needs the admin role" in page.inner_text("main")
    assert page.get_by_role("link", name="Settings").count() == 0
    shot(page, "viewer_forbidden")


def test_admin_pages_value_settings_account(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, Role.admin)
    page.goto("/value")
    page.wait_for_selector(".plot .main-svg")
    assert page.get_by_role(
        "heading", name="Cohort retention (share of each first-order cohort ordering again)"
    ).is_visible()
    shot(page, "value")
    page.goto("/settings")
    page.get_by_label("E-mail", exact=True).fill("colleague@example.com")
    page.locator("#new-role").select_option("analyst")
    page.get_by_role("button", name="Add user").click()
    assert page.get_by_test_id("new-password").is_visible()
    assert "user.create" in page.get_by_test_id("audit").inner_text()
    shot(page, "settings")
    page.goto("/account")
    page.get_by_role("button", name="Create token").click()
    assert page.get_by_test_id("new-token").inner_text().startswith("hf_")
    shot(page, "account")
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    shot(page, "api_docs")
    assert page.console_errors == []


def test_phone_layout_and_keyboard_navigation(browser, base_url: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    sign_in(page, Role.viewer)
    for path, name in (("/", "overview_phone"), ("/customers", "customers_phone")):
        page.goto(path)
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px on a phone"
        shot(page, name)
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main"
    context.close()


CONTRAST_JS = """() => {
  const parse = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const worst = [];
  document.querySelectorAll('a, button, label, th, td, p, h1, h2, .badge, .label, .value, .note, span, dt, dd, caption').forEach(el => {
    if (!el.offsetParent || !el.textContent.trim() || el.closest('.plot')) return;
    const fg = lum(parse(getComputedStyle(el).color).slice(0, 3));
    const bg = lum(background(el));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) worst.push(el.tagName + '.' + el.className + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  });
  return worst;
}"""


def test_text_contrast_meets_wcag_aa_on_every_page(page) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, Role.admin)
    for path in ("/", "/customers", "/customers/C1", "/value", "/listen", "/imports", "/settings", "/account"):
        page.goto(path)
        assert page.evaluate(CONTRAST_JS) == [], path
