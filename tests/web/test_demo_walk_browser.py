"""Walk every page of the demo in Chromium, as a new user would, and fail on words no business user should
see: raw theme ids, Python reprs, None, nan, tracebacks or command-line instructions."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlparse

import pytest

from heedful.cli.demo import DEMO_STEPS
from heedful.ingest.datasets import import_demo_data
from heedful.listen.taxonomy import default_taxonomy
from heedful.store import connect
from heedful.web.app import create_app

from .test_browser import browser, served  # noqa: F401  (the Chromium fixture, skipped where it is missing)

pytestmark = pytest.mark.browser

DEMO_LOGIN = ("admin@demo.heedful", "heedful-demo-2024")
COMMANDS = "value|listen|retain|survey|journey|report|import|demo|serve|advocacy|db|users|privacy|customer|tokens|cases"
NEVER = {
    "a Python repr": re.compile(r"\{'|\['|<heedful\.|Timestamp\(|dtype|\bNaT\b"),
    "None": re.compile(r"\bNone\b"),
    "nan": re.compile(r"\bnan\b|\bNaN\b"),
    "a traceback": re.compile(r"Traceback|Error:|Exception\b"),
    "a command-line instruction": re.compile(rf"\bheedful ({COMMANDS})\b|(^|\s)--[a-z]{(2,)}(-[a-z]+)*\b"),
}
# not business pages: downloads, the public survey/referral pages, and the developers' API reference
# (`/api/…`, `/openapi.json`, `/docs`), whose descriptions name CLI commands on purpose
SKIP = re.compile(
    r"/logout|\.csv$|\.png$|\.pdf$|\.html$|/api/|/openapi\.json$|^/docs$|/vendor/|/static/|/s/|/r/|/download"
)


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`heedful demo --no-serve` (import, every step), then the dashboard on a free port."""
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('demo_walk') / 'heedful.duckdb'}")
    import_demo_data(store)
    for _, step in DEMO_STEPS:
        step(store)
    with served(create_app(store=store, secret_key="walk")) as url:
        yield url
    store.close()


def _signed_in(context):  # type: ignore[no-untyped-def]
    """A page of `context` signed in as the demo's admin, on the overview."""
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("E-mail").fill(DEMO_LOGIN[0])
    page.get_by_label("Password").fill(DEMO_LOGIN[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")
    return page


def test_every_demo_page_speaks_the_business_language(browser, demo_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    theme_ids = [t.id for t in default_taxonomy().themes if "_" in t.id]
    raw_id = re.compile(r"\b(" + "|".join(map(re.escape, theme_ids)) + r")\b")
    context = browser.new_context(base_url=demo_url, viewport={"width": 1280, "height": 900})
    page = _signed_in(context)
    queue, seen, problems = ["/"], set(), []
    per_prefix: dict[str, int] = {}
    while queue and len(seen) < 60:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        response = page.goto(path)
        assert response is not None and response.status < 400, (path, response and response.status)
        text = page.inner_text("body")
        for what, pattern in {**NEVER, "a raw theme id": raw_id}.items():
            found = pattern.search(text)
            if found:
                around = text[max(0, found.start() - 60) : found.end() + 60].replace("\n", " ")
                problems.append(f"{path}: {what}: …{around}…")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            url = urlparse(urljoin(demo_url + path, href))
            if url.netloc != urlparse(demo_url).netloc or SKIP.search(url.path) or url.path in seen:
                continue
            prefix = "/".join(url.path.split("/")[:2])
            if per_prefix.get(prefix, 0) >= 4:  # a few of each kind (customers, departments …) is the point
                continue
            per_prefix[prefix] = per_prefix.get(prefix, 0) + 1
            queue.append(url.path + (f"?{url.query}" if url.query else ""))
    context.close()
    assert {"/", "/customers", "/value", "/listen", "/retain", "/journey"} <= {p.split("?")[0] for p in seen}
    assert not problems, "\n".join(problems)


def test_the_retain_page_says_what_churn_risk_means_and_how_far_to_trust_it(browser, demo_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(base_url=demo_url)
    page = _signed_in(context)
    page.goto("/retain")
    quality = page.get_by_test_id("churn-quality").inner_text()
    assert "no order in the next 90 days" in quality and "50% would be guessing" in quality
    assert page.get_by_role("columnheader", name="Churn risk (90 days)").count() == 1
    context.close()


def test_the_listening_chart_names_every_theme_it_draws(browser, demo_url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    context = browser.new_context(base_url=demo_url, viewport={"width": 1280, "height": 900})
    page = _signed_in(context)
    page.goto("/listen")
    chart = page.locator('[data-name="themes"]')
    chart.locator(".ytick text").first.wait_for()
    drawn = json.loads(chart.get_attribute("data-figure") or "{}")["data"][0]["y"]
    named = chart.locator(".ytick text").all_text_contents()  # SVG text has no innerText
    assert len(drawn) >= 8 and sorted(named) == sorted(drawn)  # the demo's reviews name 11 themes
    context.close()
