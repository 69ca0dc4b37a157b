"""`heedful demo`: import the bundled real sample data, run every area's demo step, serve the dashboard."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, err_console, open_store, serve_web_app
from heedful.cli.ingest import user_errors
from heedful.store import Store

DemoStep = Callable[[Store], dict[str, Any]]


def _service_step(area: str) -> DemoStep:
    """The area's `heedful.services.<area>.demo_step`, imported when the step runs (keeps start-up fast)."""

    def step(store: Store) -> dict[str, Any]:
        result: dict[str, Any] = importlib.import_module(f"heedful.services.{area}").demo_step(store)
        return result

    return step


# Each area's demo step, in the order their inputs exist: value before retain (CLV), listen before journey
# (themes), everything before the web admin is seeded. Each result is printed (or returned under "steps"
# with --json).
DEMO_STEPS: list[tuple[str, DemoStep]] = [
    ("value", _service_step("value")),
    ("listen", _service_step("listen")),
    ("surveys", _service_step("surveys")),
    ("retain", _service_step("retain")),
    ("advocacy", _service_step("advocacy")),
    ("journey", _service_step("journey")),
    ("cases", _service_step("cases")),
    ("web", _service_step("accounts")),
]


def demo(
    db: DbOption = None,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Import and summarise, then exit instead of serving the dashboard.")
    ] = False,
    port: Annotated[int, typer.Option("--port", help="Port for the dashboard.")] = 8000,
    json_out: JsonOption = False,
) -> None:
    """Load the bundled real sample data (safe to run again), print a summary, then serve the dashboard."""
    from heedful.ingest.datasets import data_summary, import_demo_data

    with user_errors():
        store = open_store(db)
        url = store.url
        try:
            imports = import_demo_data(store)
            summary = data_summary(store)
            if not json_out:
                _print_data(url, imports, summary)
            steps: dict[str, Any] = {}
            failed = []
            for name, step in DEMO_STEPS:
                started = time.perf_counter()
                try:
                    steps[name] = step(store)
                except Exception as exc:  # one area's failure must not hide the others' results
                    steps[name] = {"error": f"{type(exc).__name__}: {exc}"}
                    failed.append(name)
                if not json_out:  # each step as it finishes: the user sees progress, not minutes of silence
                    _print_step(name, steps[name], time.perf_counter() - started)
        finally:
            store.close()
    if json_out:
        emit_json({"db": url, "imports": _counts(imports), "summary": summary, "steps": steps})
    if failed:
        err_console.print(f"[bold red]Demo steps failed:[/] {', '.join(failed)}")
        raise typer.Exit(1)
    if no_serve:
        return
    login = steps.get("web", {})
    err_console.print(f"Serving the dashboard on http://127.0.0.1:{port} (Ctrl+C to stop)")
    if login.get("login"):
        err_console.print(f"Sign in as {login['login']} with password {login['password']}")
    serve_web_app(url, "127.0.0.1", port)


def _counts(imports: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in r.items() if k != "quarantine"} for name, r in imports.items()}


def _print_data(url: str, imports: dict[str, dict[str, Any]], summary: dict[str, Any]) -> None:
    console.print(f"[bold]heedful demo[/] — database {url}")
    for name, r in _counts(imports).items():
        console.print(
            f"  imported {name}: {r['accepted']:,} new, {r['duplicates']:,} already stored, {r['rejected']:,} quarantined"
        )
    s = summary
    console.print(
        f"  customers {s['customers']:,} · orders {s['orders']:,} ({s['order_lines']:,} lines) · "
        f"revenue {s['revenue']:,.2f} · returns {s['returns']:,} ({s['returned_amount']:,.2f}) · "
        f"feedback items {s['feedback_items']:,}"
    )
    console.print(f"  date range {s['date_range']['first']} to {s['date_range']['last']}")


STEP_TITLES = {
    "value": "Customer value",
    "listen": "Listening",
    "surveys": "Surveys",
    "retain": "Retention",
    "advocacy": "Advocacy",
    "journey": "Journey scorecard",
    "cases": "Cases",
    "web": "Dashboard",
}


def _print_step(name: str, result: dict[str, Any], seconds: float) -> None:
    """One step's figures as sentences (the JSON form, `--json`, keeps every key)."""
    console.print(f"[bold]{STEP_TITLES.get(name, name)}[/] [dim]({seconds:.1f} s)[/]", highlight=False)
    for line in step_lines(name, result):
        console.print(f"  {line}", highlight=False)


def step_lines(name: str, r: dict[str, Any]) -> list[str]:
    """A demo step's result in plain sentences."""
    if "error" in r:
        return [f"failed: {r['error']}"]
    if "skipped" in r:
        return [f"skipped: {r['skipped']}"]
    g = r.get
    if name == "value":
        lines = [
            f"{g('customers_valued', 0):,} customers valued; expected value over the next 12 months "
            f"{g('total_clv_12m', 0):,.2f} {g('currency') or ''}".rstrip(),
            f"RFM segments: {g('champions', 0)} champions, {g('at_risk', 0)} at risk, {g('cant_lose', 0)} can't lose",
        ]
        return lines + [str(n) for n in g("notes") or []]
    if name == "listen":
        themes = ", ".join(f"{k} ({v:,})" for k, v in (g("top_theme_labels") or {}).items())
        share = g("negative_or_mixed_share")
        return [
            f"{g('feedback_classified', 0):,} feedback items read"
            + (f"; {share:.0%} negative or mixed" if share is not None else ""),
            f"most talked about: {themes or 'no themes found'}",
            f"most negative feedback is owned by: {g('department_with_most_negative_name') or 'no one yet'}",
        ]
    if name == "surveys":
        return [
            f"survey {g('survey')!s} ({g('questions')} questions) is live at {g('link')}; {g('responses', 0)} responses"
        ]
    if name == "retain":
        return [
            f"{g('customers_scored', 0):,} customers scored for churn in the next {g('churn_days', 90)} days "
            f"(cross-validated AUC {g('churn_cv_auc', 0):.2f}{': weak, a rough guide' if g('churn_weak') else ''}); "
            f"value at risk {g('value_at_risk') or 0:,.2f} {g('currency') or ''} (12-month CLV × churn risk)",
            f"most common suggested action: {g('top_action')}; {g('offers', 0):,} next-best offers",
        ]
    if name == "advocacy":
        return [
            f"{g('customers_ranked', 0):,} customers ranked as advocates; {g('advocates_enrolled', 0)} enrolled, "
            f"{g('matched', 0)} matched with a peer ({g('holdout', 0)} held out to measure the effect)"
        ]
    if name == "journey":
        return [
            f"period {g('period')}: {g('needs', 0)} customer needs — {g('needs_met', 0)} met, "
            f"{g('needs_at_risk', 0)} at risk, {g('needs_missed', 0)} missed, "
            f"{g('needs_not_enough_data', 0)} with too few answers to judge, {g('needs_without_data', 0)} without data; "
            f"{g('alerts', 0)} alerts"
        ]
    if name == "cases":
        by = ", ".join(f"{k} {v:,}" for k, v in (g("by_trigger") or {}).items()) or "none new"
        return [
            f"{g('opened', 0):,} cases opened: {g('overdue', 0):,} overdue of {g('open', 0):,} open; by trigger: {by}"
        ]
    if name == "web":
        return [f"sign in as {g('login')} with password {g('password')}"]
    return [f"{k.replace('_', ' ')}: {v}" for k, v in r.items()]
