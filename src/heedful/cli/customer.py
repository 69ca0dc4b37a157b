"""`heedful customer show ID`: the unified customer profile."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.cli.ingest import user_errors
from heedful.value import DEFAULT_HORIZON_MONTHS  # a name only: the package loads its modules on first use

app = typer.Typer(help="Look up customers: one profile across orders, feedback, surveys, referrals and value.")


@app.callback()
def _group() -> None:
    """Look up customers."""


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _days(days: Any) -> str:
    """' (next 90 days)' for a churn risk's horizon; '' where it is not known."""
    return f" (next {int(days)} days)" if days else ""


def _render(profile: dict[str, Any]) -> None:
    ident = profile["identity"]
    console.print(f"[bold]{profile['customer_id']}[/]  ({profile['kind']})  {ident.get('name') or ''}")
    for key in ("email", "phone", "company", "country", "city"):
        if ident.get(key):
            console.print(f"  {key}: {ident[key]}")
    console.print(f"  first seen: {_fmt(profile['first_seen_at'])}   source: {profile.get('source') or '—'}")
    orders = profile["orders"]
    console.print(
        f"\n[bold]Orders[/]  {orders['orders']} orders, revenue {_fmt(orders['revenue'])} {orders.get('currency') or ''}, "
        f"{orders['returns']} returns ({_fmt(orders['returned_amount'])}); "
        f"first {_fmt(orders['first_order_at'])}, last {_fmt(orders['last_order_at'])}"
    )
    if orders["recent"]:
        table = Table("order", "date", "lines", "amount", "return")
        for o in orders["recent"]:
            table.add_row(
                str(o["order_id"]),
                _fmt(o["ordered_at"]),
                str(o["lines"]),
                _fmt(o["amount"]),
                "yes" if o["is_return"] else "",
            )
        console.print(table)
    console.print(f"\n[bold]Feedback[/]  {len(profile['feedback'])} recent item(s)")
    for f in profile["feedback"]:
        rating = f" {f['rating']:g}/{f['rating_scale'] or 5:g}" if f.get("rating") is not None else ""
        text = (f.get("text") or "").replace("\n", " ")
        console.print(
            f"  {_fmt(f['created_at'])}{rating} [italic]{f.get('title') or ''}[/] {text[:110]}", highlight=False
        )
    console.print(f"\n[bold]Survey answers[/]  {len(profile['survey_answers'])}")
    for a in profile["survey_answers"][:10]:
        console.print(f"  {a['survey']} {a['question_id']}{'/' + a['field'] if a['field'] else ''}: {a['value']}")
    refs = profile["referrals"]
    console.print(f"\n[bold]Referrals[/]  made {len(refs['made'])}, referred by {len(refs['referred_by'])}")
    value = profile["value"]
    if value:
        money = f" {orders['currency']}" if orders.get("currency") else ""
        console.print(
            f"\n[bold]Value[/]  CLV (next {value.get('horizon_months') or DEFAULT_HORIZON_MONTHS} months) {_fmt(value.get('clv'))}{money}, "
            f"P(alive) {_percent(value.get('p_alive'))}, churn risk {_percent(value.get('churn_risk'))}{_days(value.get('churn_horizon_days'))}, "
            f"segment {value.get('segment') or '—'}"
        )


def _percent(share: Any) -> str:
    """'97%'; '—' where the figure is missing (a model that is not identified, a customer not scored)."""
    return "—" if share is None or share != share else f"{share:.0%}"


@app.command("show")
def show_cmd(
    customer_id: Annotated[str, typer.Argument(help="The customer id (customers.customer_id).")],
    db: DbOption = None,
    json_out: JsonOption = False,
    no_redact: Annotated[
        bool, typer.Option("--no-redact", help="Show feedback and answers as written, personal data included.")
    ] = False,
) -> None:
    """Show one customer's unified profile: identity, kind, orders, feedback, survey answers, referrals, value."""
    from heedful.services import customers

    with user_errors(), open_store(db) as store:
        profile = customers.profile(store, customer_id, redact=not no_redact)  # quotes redacted by default
    if json_out:
        emit_json(profile)
    else:
        _render(profile)
