"""`heedful report`: the customer-focus report for one month, as HTML or PDF."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.errors import InputError
from heedful.services.report import build_report, check_period, write_report


def report_cmd(
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="report.html (interactive charts) or report.pdf (printed by Chromium); optional with --json."
        ),
    ] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", help="Month to report on, YYYY-MM (default: the last complete month of data)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write the customer-focus report: headline numbers, praise and complaints, best and at-risk
    customers, trade-offs, department scorecards, advocacy, and what we would rather not hear."""
    if period is not None:
        check_period(period)
    if out is None and not json_out:
        raise InputError(
            "Say where to write the report (--out report.html or report.pdf), or print its figures with --json."
        )
    started = time.perf_counter()
    with open_store(db) as store:
        report = write_report(store, period, out) if out is not None else build_report(store, period)
    seconds = time.perf_counter() - started
    if json_out:
        emit_json(
            {
                "out": str(out) if out is not None else None,
                **(report.coverage.to_dict() if report.coverage else {"period": report.period}),
                "seconds": round(seconds, 2),
                "sections": {
                    s.key: {"title": s.title, "available": s.available, "note": s.note} for s in report.sections
                },
                "headline": report.headline,
            }
        )
        return
    assert out is not None  # without --json, --out is required (checked above)
    empty = [s.title for s in report.sections if not s.available]
    console.print(f"Wrote {out} ({out.stat().st_size / 1e6:.1f} MB) for {report.period} in {seconds:.1f} s.")
    if report.coverage is not None and report.coverage.partial:
        console.print(f"{report.period} is partial ({report.coverage.days} days): {report.coverage.comparison}.")
    if empty:
        console.print(f"No data yet for: {', '.join(empty)}.")
