"""`heedful journey …`: needs per stage, department scorecards, alerts and their delivery."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.config import load_settings
from heedful.errors import InputError
from heedful.journey.alerts import digest_payload, digest_text
from heedful.journey.config import dump_config, parse_config
from heedful.journey.delivery import delivery_settings
from heedful.journey.scorecard import status_text
from heedful.services import journey as service

app = typer.Typer(help="Journey stages, needs, department scorecards and alerts.", no_args_is_help=True)
needs_app = typer.Typer(help="Import and export the needs file (YAML).", no_args_is_help=True)
operations_app = typer.Typer(help="Import operations figures (on-time rate, …) that needs can be measured by.")
app.add_typer(needs_app, name="needs")
app.add_typer(operations_app, name="operations")

PeriodOption = Annotated[
    str | None, typer.Option("--period", help="Month to score, YYYY-MM (default: the last complete month of data).")
]
AudienceOption = Annotated[str, typer.Option("--audience", help="external (customers), staff or partner; never mixed.")]

STATUS_STYLE = {"met": "green", "at_risk": "yellow", "missed": "red", "not_enough_data": "dim", "no_data": "dim"}


@app.command("scorecard")
def scorecard_cmd(
    db: DbOption = None,
    department: Annotated[str | None, typer.Option("--department", help="Only the needs this department owns.")] = None,
    period: PeriodOption = None,
    audience: AudienceOption = "external",
    json_out: JsonOption = False,
) -> None:
    """For every need: current value with 95% interval, target, status, trend, themes, quotes, customers affected."""
    with open_store(db) as store:
        card = service.scorecard_for(store, service.resolve_period(store, period), department, audience)
        service.save_metric_values(store, card)
    if json_out:
        emit_json(card.to_dict())
        return
    cov = card.coverage
    note = f", partial: {cov.days} days, {cov.comparison}" if cov is not None and cov.partial else ""
    table = Table(title=f"Journey scorecard {card.period} ({card.audience}{note})")
    for col in ("Department", "Need", "Measure", "Value", "95% interval", "Target", "Status", "Trend", "n"):
        table.add_column(col, justify="right" if col in ("Value", "Target", "n") else "left")
    for need in card.needs:
        for i, m in enumerate(need.metrics):
            kind = m.spec.kind
            interval = (
                f"{service.metric_text(m.low, kind)}–{service.metric_text(m.high, kind)}"
                if m.low is not None and m.high is not None
                else ""
            )
            table.add_row(
                need.department_name if i == 0 else "",
                need.need.label if i == 0 else "",
                m.spec.title,
                service.metric_text(m.value, kind),
                interval,
                ("≥ " if m.spec.better == "higher" else "≤ ") + service.metric_text(m.spec.target, kind),
                f"[{STATUS_STYLE.get(m.status, 'dim')}]{status_text(m.status, m.n)}[/]",
                m.trend,
                str(m.n),
            )
    console.print(table)


@app.command("alerts")
def alerts_cmd(
    since: Annotated[
        str, typer.Option("--since", help="Show alerts for periods from this date (YYYY-MM-DD or YYYY-MM).")
    ],
    db: DbOption = None,
    period: PeriodOption = None,
    send: Annotated[
        bool, typer.Option("--send", help="Send the digest by SMTP / webhook as configured in heedful.toml.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Detect worsening needs, emerging negative themes, NPS drops of valuable segments and at-risk value spikes."""
    since_date = _parse_since(since)
    with open_store(db) as store:
        periods = service.alert_periods(store, since_date, period)
        alerts = service.run_alerts(store, periods)
        label = service.periods_label(periods)
        sent: list[str] = []
        if send:
            sent = service.send_alerts(store, alerts, periods, delivery_settings(load_settings().extra))
    if json_out:
        emit_json({**digest_payload(alerts, label), "periods": periods, "sent_via": sent})
        return
    typer.echo(digest_text(alerts, label))
    if send:
        console.print(f"Sent via {', '.join(sent)}." if sent else "Nothing new to send.")


def _parse_since(text: str) -> date:
    try:
        return pd.Timestamp(text).date()
    except (ValueError, TypeError) as exc:
        raise InputError(f"--since {text!r} is not a date; use YYYY-MM-DD or YYYY-MM.") from exc


@needs_app.command("import")
def needs_import_cmd(
    file: Annotated[Path, typer.Argument(help="Needs file (YAML) with stages, departments and needs.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replace the stored stages, departments and needs with those of FILE (errors name their line)."""
    path = existing_file(file)
    config = parse_config(path.read_text(encoding="utf-8"), source=path.name)
    with open_store(db) as store:
        counts = service.save_config(store, config)
    if json_out:
        emit_json(counts)
    else:
        console.print(
            f"Imported {counts['needs']} needs, {counts['stages']} stages and {counts['departments']} departments."
        )


@needs_app.command("export")
def needs_export_cmd(
    db: DbOption = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the stored needs file (the shipped default until one is imported)."""
    with open_store(db) as store:
        text = dump_config(service.load_config(store))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {out}.")


@app.command("stages")
def stages_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """The journey stages, in order, with how many needs each has."""
    with open_store(db) as store:
        config = service.load_config(store)
    rows = [
        {"stage_id": s.id, "name": s.name, "position": i, "needs": sum(1 for n in config.needs if n.stage == s.id)}
        for i, s in enumerate(config.ordered_stages(), start=1)
    ]
    _print_rows(rows, json_out, "Journey stages")


@app.command("departments")
def departments_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """The departments and how many needs each owns."""
    with open_store(db) as store:
        config = service.load_config(store)
    rows = [
        {"department_id": d.id, "name": d.name, "email": d.email, "needs": len(config.needs_of(d.id))}
        for d in config.departments
    ]
    _print_rows(rows, json_out, "Departments")


@operations_app.command("import")
def operations_import_cmd(
    file: Annotated[
        Path, typer.Argument(help="CSV: metric, period, numerator, denominator | value [, segment, department_id].")
    ],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import operations figures (e.g. on_time_delivery per month) for needs measured by `operations_ratio`."""
    path = existing_file(file)
    with open_store(db) as store:
        result = service.import_operations(store, path)
    if json_out:
        emit_json(result)
    else:
        console.print(f"Imported {result['rows']} rows for {', '.join(result['metrics']) or 'no metric'}.")


def _print_rows(rows: list[dict[str, Any]], json_out: bool, title: str) -> None:
    if json_out:
        emit_json(rows)
        return
    table = Table(title=title)
    for col in rows[0] if rows else []:
        table.add_column(col)
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row.values()])
    console.print(table)
