"""The customer-focus report for one month as a document: HTML (interactive charts) or PDF.

`heedful.services.report.build_report(store, period)` gathers the figures and sections;
`render_html` writes the page with plotly.js inlined (no CDN, works offline); `write_pdf` prints it
with headless Chromium after the charts have been turned into static images.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import plotly
from jinja2 import Environment, PackageLoader, select_autoescape

from heedful.errors import ConfigError
from heedful.journey.alerts import Alert
from heedful.journey.periods import Coverage, coverage
from heedful.journey.scorecard import STATUS_TEXT, Scorecard
from heedful.report.sections import SECTION_TITLES as SECTION_TITLES
from heedful.report.sections import Section
from heedful.value import DEFAULT_HORIZON_MONTHS

CHROMIUM = "/usr/bin/chromium"
# Offline and quiet: no sandbox (containers), no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass
class CustomerFocusReport:
    period: str
    generated_at: datetime
    headline: list[dict[str, Any]]
    sections: list[Section]
    scorecard: Scorecard | None = None
    alerts: list[Alert] = field(default_factory=list)
    coverage: Coverage | None = None  # how much of the period the data covers (None: taken as complete)
    horizon_months: int = DEFAULT_HORIZON_MONTHS  # the months the stored CLV (and so its money figures) covers

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            **(self.coverage or coverage(self.period, None)).to_dict(),
            "period": self.period,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "headline": self.headline,
            "sections": [s.to_dict() for s in self.sections],
        }


# ---------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("heedful.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["num"] = lambda v, d=0: (
        "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.{d}f}"
    )
    env.filters["pct"] = lambda v, d=0: (
        "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v * 100:.{d}f}%"
    )
    return env


def plotly_js() -> str:
    """plotly.js from the installed plotly package (inlined: the report opens offline)."""
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def render_html(report: CustomerFocusReport, *, for_print: bool = False, standalone: bool = True) -> str:
    """The report as one HTML document (or, with standalone=False, a fragment for the web app)."""
    figures = {fig_id: json.loads(fig.to_json()) for section in report.sections for fig_id, fig in section.figures}
    template = _environment().get_template("report.html")
    return template.render(
        report=report,
        sections=report.sections,
        figures=figures,
        figures_json=json.dumps(figures),
        plotly_js=plotly_js() if standalone else "",
        for_print=for_print,
        standalone=standalone,
        status_labels=STATUS_TEXT,
    )


def write_pdf(html: str, out: Path, *, chromium: str = CHROMIUM, timeout_s: float = 120) -> Path:
    """Print the report with headless Chromium; charts become static PNG images first."""
    if not Path(chromium).exists() and shutil.which(chromium) is None:
        raise ConfigError(
            f"PDF output needs Chromium at {chromium} (apt-get install chromium), or write .html instead."
        )
    try:
        _pdf_with_playwright(html, out, chromium, timeout_s)
    except ImportError:
        _pdf_with_cli(html, out, chromium, timeout_s)
    return out


def _pdf_with_playwright(html: str, out: Path, chromium: str, timeout_s: float) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 1400})
                page.goto(page_file.as_uri(), wait_until="load", timeout=timeout_s * 1000)
                page.wait_for_function("window.heedfulChartsReady === true", timeout=timeout_s * 1000)
                page.emulate_media(media="print")
                page.pdf(
                    path=str(out),
                    format="A4",
                    print_background=True,
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=(
                        '<div style="font-size:8px;width:100%;text-align:center;color:#607d8b">'
                        '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
                    ),
                )
            finally:
                browser.close()


def _pdf_with_cli(html: str, out: Path, chromium: str, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        cmd = [
            chromium,
            "--headless",
            *CHROMIUM_ARGS,
            "--no-pdf-header-footer",
            "--virtual-time-budget=20000",
            f"--print-to-pdf={out}",
            page_file.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not out.exists():
            raise ConfigError(f"Chromium could not print the PDF: {done.stderr.decode(errors='replace')[-500:]}")
