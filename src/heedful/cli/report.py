"""`heedful report`: the customer-focus report for one month, as HTML or PDF."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.services.report import check_period, write_report


def report_cmd(
    period: Annotated[str, typer.Option("--period", help="Month to report on, YYYY-MM (e.g. 2026-10).")],
    out: Annotated[
        Path, typer.Option("--out", help="report.html (interactive charts) or report.pdf (printed by Chromium).")
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the customer-focus report: headline numbers, praise and complaints, best and at-risk
    customers, trade-offs, department scorecards, advocacy, and what we would rather not hear."""
    check_period(period)
    started = time.perf_counter()
    with open_store(db) as store:
        report = write_report(store, period, out)
    seconds = time.perf_counter() - started
    if json_out:
        emit_json(
            {
                "out": str(out),
                "period": period,
                "seconds": round(seconds, 2),
                "sections": {
                    s.key: {"title": s.title, "available": s.available, "note": s.note} for s in report.sections
                },
                "headline": report.headline,
            }
        )
        return
    empty = [s.title for s in report.sections if not s.available]
    console.print(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {seconds:.1f} s.")
    if empty:
        console.print(f"No data yet for: {', '.join(empty)}.")
