"""`heedful demo`: import the bundled real sample data, run every area's demo step, serve the dashboard."""

from __future__ import annotations

import importlib
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
            steps: dict[str, Any] = {}
            failed = []
            for name, step in DEMO_STEPS:
                try:
                    steps[name] = step(store)
                except Exception as exc:  # one area's failure must not hide the others' results
                    steps[name] = {"error": f"{type(exc).__name__}: {exc}"}
                    failed.append(name)
        finally:
            store.close()
    if json_out:
        emit_json({"db": url, "imports": _counts(imports), "summary": summary, "steps": steps})
    else:
        _print(url, imports, summary, steps)
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


def _print(url: str, imports: dict[str, dict[str, Any]], summary: dict[str, Any], steps: dict[str, Any]) -> None:
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
    for name, result in steps.items():
        console.print(f"[bold]{name}[/]: {result}", highlight=False)
