"""The customer-focus report: every section present, honest "no data yet", HTML offline, PDF with static charts."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.report.report import plotly_js, render_html
from heedful.report.sections import SECTION_TITLES
from heedful.services.report import build_report, write_report
from heedful.store import Store

from .conftest import PERIOD

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "report"
CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_chromium() -> None:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail("CI=true but /usr/bin/chromium is missing")
        pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)")


def test_empty_store_gives_every_section_with_an_honest_no_data_note(store: Store) -> None:
    report = build_report(store, PERIOD)
    assert [s.title for s in report.sections] == list(SECTION_TITLES.values())
    assert not any(s.available for s in report.sections if s.key != "departments")
    assert all(s.note and "No data yet" in s.note for s in report.sections)
    html = render_html(report)
    for title in ["Headline numbers", *SECTION_TITLES.values()]:
        assert title in html
    assert html.count("No data yet") >= len(SECTION_TITLES)


def test_full_report_fills_every_section(report_store: Store) -> None:
    report = build_report(report_store, PERIOD)
    available = {s.key: s.available for s in report.sections}
    assert all(available.values()), available
    voice = report.section("voice").body
    assert voice["complaints"][0]["theme"] == "delivery_speed"  # the planted drop tops the complaints
    assert voice["complaints"][0]["quote"]
    # themes by their labels, in the text and on the chart: never the taxonomy's ids
    assert voice["complaints"][0]["label"] == "Delivery speed"
    html = render_html(report)
    assert "<strong>Delivery speed</strong> — " in html and "<strong>delivery_speed</strong>" not in html
    figures = json.loads(html.split("var figures = ", 1)[1].split(";\n", 1)[0])
    assert "Delivery speed" in figures["fig-voice-0"]["data"][0]["y"]
    tradeoffs = report.section("tradeoffs").body["studies"][0]
    scores = {r["item"]: r["score"] for r in tradeoffs["scores"]}
    assert scores["low price"] == pytest.approx(-1.0)  # least wanted every time it was shown
    assert scores["fast delivery"] == pytest.approx(1.0)
    assert scores["quality"] == pytest.approx(0.5)  # best in one of its two showings
    assert scores["gift wrap"] == pytest.approx(0.0)
    advocacy = report.section("advocacy").body
    assert (advocacy["landed"], advocacy["signed_up"], advocacy["converted"]) == (10, 6, 3)
    movers = report.section("rather_not_hear").body["movers"]
    assert movers[0]["label"] == "Positive feedback on delivery"
    internal = report.section("internal").body["audiences"]
    assert set(internal) == {"staff"}
    loop = report.section("closed_loop").body["overall"]
    assert loop["cases"] > 0 and loop["recovery"]["finding"]  # in words, or "not enough data (n = …)"
    assert "Did following up work?" in render_html(report)
    # a need's quotes are not all from unhappy customers: each says which side it is on
    quotes = [q for d in report.section("departments").body["departments"] for n in d["needs"] for q in n["quotes"]]
    page = render_html(report)
    said = {s: page.count(f'” <span class="muted">({s})</span></blockquote>') for s in ("negative", "positive")}
    assert quotes and said == {s: sum(q["sentiment"] == s for q in quotes) for s in said}
    nps = next(h for h in report.headline if h["label"] == "NPS")
    assert nps["value"] is not None and "interval" in nps["detail"]


def test_html_is_self_contained_with_interactive_charts(report_store: Store) -> None:
    html = render_html(build_report(report_store, PERIOD))
    assert plotly_js() in html  # plotly.js is inlined: the file opens offline
    page = html.replace(plotly_js(), "")
    assert not re.search(r"<(script|link)[^>]+(src|href)=", page), "no external scripts or stylesheets"
    assert "Plotly.newPlot" in page
    figures = json.loads(html.split("var figures = ", 1)[1].split(";\n", 1)[0])
    assert {"fig-voice-0", "fig-departments-0", "fig-rather_not_hear-0"} <= set(figures)


def test_report_command_writes_html_and_records_history(report_store: Store, tmp_path: Path) -> None:
    url = report_store.url
    report_store.close()
    out = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--db", url, "--period", PERIOD, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["sections"]["departments"]["available"] is True
    assert out.read_text().startswith("<!doctype html>")
    from heedful.store import connect

    with connect(url) as store:
        assert store.count("metric_values") > 0  # next month's trends and alerts compare with these


def test_bad_period_and_output_are_user_errors(report_store: Store, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="YYYY-MM"):
        build_report(report_store, "October")
    with pytest.raises(InputError, match=r"\.html or \.pdf"):
        write_report(report_store, PERIOD, tmp_path / "report.docx")


@pytest.mark.browser
def test_pdf_opens_has_the_sections_and_static_charts(report_store: Store, tmp_path: Path) -> None:
    require_chromium()
    pypdf = pytest.importorskip("pypdf")
    out = tmp_path / "report.pdf"
    write_report(report_store, PERIOD, out)
    reader = pypdf.PdfReader(str(out))
    assert len(reader.pages) >= 6
    # NFKC turns the font's ligatures (ﬀ, ﬁ) back into letters
    text = unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))
    for title in ["Headline numbers", *SECTION_TITLES.values()]:
        assert title in text, title
    images = sum(len(page.images) for page in reader.pages)
    assert images >= 5  # the charts are printed as static PNG images
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob("page-*.png"):
            old.unlink()
        shutil.copy(out, ARTIFACTS / "report.pdf")
        subprocess.run(["pdftoppm", "-r", "60", "-png", str(out), str(ARTIFACTS / "page")], check=True, timeout=120)
        assert len(list(ARTIFACTS.glob("page-*.png"))) == len(reader.pages)


@pytest.mark.browser
def test_pdf_falls_back_to_the_chromium_command_line_without_playwright(
    report_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    pypdf = pytest.importorskip("pypdf")
    from heedful.report import report as report_module

    def no_playwright(*args: object) -> None:
        raise ImportError("playwright is not installed")

    monkeypatch.setattr(report_module, "_pdf_with_playwright", no_playwright)
    out = tmp_path / "report.pdf"
    write_report(report_store, PERIOD, out)
    reader = pypdf.PdfReader(str(out))
    text = unicodedata.normalize("NFKC", "\n".join(page.extract_text() for page in reader.pages))
    assert "What we would rather not hear" in text
    assert sum(len(page.images) for page in reader.pages) >= 5  # charts rendered to PNG before printing


def _copy_first_days_of_october_into_november(store: Store) -> None:
    """November gets exactly October's first 9 days of orders, one month later: a partial month of 9 days."""
    october = store.query(
        "SELECT * FROM orders WHERE ordered_at >= TIMESTAMP '2026-10-01' AND ordered_at < TIMESTAMP '2026-10-10'"
    )
    november = october.assign(
        order_line_id="nov-" + october["order_line_id"],
        order_id="nov-" + october["order_id"],
        ordered_at=pd.to_datetime(october["ordered_at"]) + pd.Timedelta(days=31),
    )
    store.insert_new("orders", november)


def test_report_headline_never_compares_a_partial_month_with_a_whole_one(report_store: Store) -> None:
    _copy_first_days_of_october_into_november(report_store)
    default = build_report(report_store, None)
    assert default.period == "2026-10" and default.to_dict()["partial"] is False  # the last complete month
    report = build_report(report_store, "2026-11")
    doc = report.to_dict()
    assert (doc["partial"], doc["days_covered"]) == (True, 9)
    headline = {h["label"]: h for h in report.headline}
    # Before issue 17: "-7x% vs last month" (9 days against 31). Against the same 9 days: no change.
    for label in ("Revenue", "Active buyers"):
        assert re.fullmatch(r"[+-]0% vs the first 9 days of 2026-10", headline[label]["change"]), headline[label]
    assert "2026-11 is partial" in render_html(report)


def test_report_command_defaults_to_the_last_complete_month(report_store: Store, tmp_path: Path) -> None:
    _copy_first_days_of_october_into_november(report_store)
    url = report_store.url
    report_store.close()
    result = CliRunner().invoke(app, ["report", "--db", url, "--out", str(tmp_path / "r.html"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["period"], doc["partial"]) == ("2026-10", False)


def test_report_revenue_is_the_overviews_guest_orders_included(report_store: Store) -> None:
    # An order without a known customer is revenue all the same: the report once left it out and read
    # 42,316 where the overview read 42,341 for the demo's November. It is no buyer.
    from heedful.services.dashboard import overview_figures

    before = {h["label"]: h for h in build_report(report_store, PERIOD).headline}
    guest = {"order_line_id": "G1", "order_id": "G1", "customer_id": None, "quantity": 1.0, "unit_price": 123.0}
    when = pd.Timestamp(f"{PERIOD}-15")
    report_store.insert_new(
        "orders", pd.DataFrame([{**guest, "ordered_at": when, "amount": 123.0, "is_return": False}])
    )
    headline = {h["label"]: h for h in build_report(report_store, PERIOD).headline}
    assert headline["Revenue"]["value"] == pytest.approx(before["Revenue"]["value"] + 123.0)
    assert headline["Active buyers"]["value"] == before["Active buyers"]["value"]
    monthly = overview_figures(report_store)["monthly"].set_index("month")
    assert headline["Revenue"]["value"] == pytest.approx(monthly.loc[PERIOD, "revenue"])
