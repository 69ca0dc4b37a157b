"""`heedful advocacy …`: advocates, invitations, referrals and rewards, stories, peer matching and its effect."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from heedful.advocacy.rules import ProgrammeRules, parse_rules
from heedful.advocacy.stories import SCOPES, publishable, stories_html
from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store
from heedful.errors import InputError
from heedful.services import advocacy as service
from heedful.services.advocacy import ADVOCATE_FIELDS, effect_report, ranked_advocates, referral_report, run_matching
from heedful.store import advocacy_repo as repo

app = typer.Typer(help="Advocates, referral codes and rewards, stories, peer matching.", no_args_is_help=True)
stories_app = typer.Typer(help="Advocate stories: list, approve, export.", no_args_is_help=True)
app.add_typer(stories_app, name="stories")

RulesOption = Annotated[
    Path | None,
    typer.Option("--rules", help="Programme rules YAML (reward_amount, min_order_amount, max_rewards_per_month, …)."),
]
BaseUrlOption = Annotated[str, typer.Option("--base-url", help="Public address of the heedful web app, for links.")]


def load_rules(path: Path | None) -> ProgrammeRules:
    return parse_rules(existing_file(path).read_text(encoding="utf-8")) if path else ProgrammeRules()


# ---------------------------------------------------------------- advocates
@app.command("advocates")
def advocates_cmd(
    db: DbOption = None,
    top: Annotated[int, typer.Option("--top", min=1, help="How many to list.")] = 20,
    include_ineligible: Annotated[
        bool, typer.Option("--all", help="Also list detractors and customers who have probably lapsed.")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Customers most likely to be valuable advocates, best first, with reasons and consent status."""
    with open_store(db) as store:
        ranked = ranked_advocates(store)
    shown = ranked if include_ineligible else ranked[ranked["eligible"]]
    shown = shown.head(top)[ADVOCATE_FIELDS]
    if json_out:
        emit_json({"customers_ranked": len(ranked), "advocates": shown})
        return
    table = Table("rank", "customer", "score", "consent", "why")
    for rec in shown.itertuples(index=False):
        table.add_row(
            str(rec.rank), rec.customer_id, f"{rec.advocate_score:.2f}", rec.consent_status, "; ".join(rec.reasons)
        )
    console.print(table)


@app.command("invite")
def invite_cmd(
    customer: Annotated[
        list[str] | None, typer.Option("--customer", help="Customer id to invite (repeatable).")
    ] = None,
    top: Annotated[int, typer.Option("--top", min=0, help="Invite the N best eligible advocates not invited yet.")] = 0,
    peer_opt_in: Annotated[
        bool, typer.Option("--peer-opt-in", help="They already agreed to peer introductions.")
    ] = False,
    capacity: Annotated[int, typer.Option("--capacity", min=0, help="Customers each will mentor at a time.")] = 3,
    base_url: BaseUrlOption = "http://127.0.0.1:8000",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Invite customers to the programme: each gets a referral code and link (/r/<code>)."""
    with open_store(db) as store:
        ids = list(customer or [])
        if top:
            ranked = ranked_advocates(store)
            fresh = ranked[ranked["eligible"] & (ranked["consent_status"] == "not_invited")]
            ids += [c for c in fresh["customer_id"].head(top) if c not in ids]
        if not ids:
            raise InputError("Name customers with --customer ID, or give --top N to invite the best advocates.")
        known = {r[0] for r in store.fetchall("SELECT customer_id FROM customers")}
        missing = [c for c in ids if c not in known]
        if missing:
            raise InputError(f"Unknown customer id(s): {', '.join(missing[:5])}. Import customers first.")
        enrolled = repo.enrol_advocates(store, ids, peer_opt_in=peer_opt_in, capacity=capacity)
    enrolled = enrolled.assign(link=[f"{base_url.rstrip('/')}/r/{c}" for c in enrolled["code"]])
    fields = ["advocate_id", "code", "link", "status", "peer_opt_in", "capacity"]
    if json_out:
        emit_json({"invited": enrolled[fields]})
        return
    for rec in enrolled.itertuples(index=False):
        console.print(f"{rec.advocate_id}: {rec.link} ({rec.status})")


@app.command("consent")
def consent_cmd(
    advocate: Annotated[str, typer.Argument(help="Customer id of the advocate.")],
    status: Annotated[str | None, typer.Option("--status", help="joined | declined | opted_out")] = None,
    peer_opt_in: Annotated[bool | None, typer.Option("--peer-opt-in/--no-peer-opt-in")] = None,
    capacity: Annotated[int | None, typer.Option("--capacity", min=0)] = None,
    db: DbOption = None,
) -> None:
    """Record an advocate's answer: joined or declined, peer introductions yes/no, capacity."""
    with open_store(db) as store:
        repo.set_advocate(store, advocate, status=status, peer_opt_in=peer_opt_in, capacity=capacity)
    console.print(f"Updated {advocate}.")


# ---------------------------------------------------------------- referrals and rewards
@app.command("attribute")
def attribute_cmd(db: DbOption = None, rules: RulesOption = None, json_out: JsonOption = False) -> None:
    """Attribute referred customers, flag fraud, record conversions and earn rewards. Safe to run again."""
    programme = load_rules(rules)
    with open_store(db) as store:
        result = service.process_referrals(store, programme)
    if json_out:
        emit_json(result)
        return
    r = result["rewards"]
    console.print(
        f"Linked {result['linked']} landings, attributed {result['attributed']} codes, {result['converted']} new "
        f"conversions; rewards: {r.get('earned', 0)} earned, {r.get('duplicate', 0)} already paid, "
        f"{r.get('capped', 0)} over the cap, {r.get('flagged', 0)} held for fraud review."
    )


@app.command("referrals")
def referrals_cmd(db: DbOption = None, rules: RulesOption = None, json_out: JsonOption = False) -> None:
    """Referrals, conversion, rewards owed/paid, referred revenue, CLV of referred vs other customers."""
    with open_store(db) as store:
        report = referral_report(store, load_rules(rules))
    if json_out:
        emit_json(report)
        return
    rate = report["conversion_rate"]
    console.print(
        f"{report['referrals']} referrals, {report['converted']} converted"
        + (f" ({rate:.0%})" if rate is not None else "")
        + f", {report['flagged']} flagged."
    )
    rw = report["rewards"]
    console.print(f"Rewards earned {rw['earned']:.2f}, paid {rw['paid']:.2f}, owed {rw['owed']:.2f}.")
    console.print(
        f"Referred revenue {report['referred_revenue']:.2f}; CLV referred {report['clv']['referred']} vs others {report['clv']['others']}."
    )


@app.command("pay")
def pay_cmd(
    advocate: Annotated[str | None, typer.Option("--advocate", help="Only this advocate.")] = None,
    db: DbOption = None,
    rules: RulesOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record payment of every owed reward the ledger check accepts (append-only `paid` entries; running it
    twice pays nothing more). Rewards the rules do not justify, or in a month over the caps, are held."""
    with open_store(db) as store:
        result = service.pay_checked(store, load_rules(rules), advocate)
    if json_out:
        emit_json(result)
        return
    console.print(f"Recorded {result['paid']} payments.")
    if result["held"]:
        console.print(
            f"Held {len(result['held'])} rewards the ledger check does not accept: {', '.join(result['held'])}."
        )


# ---------------------------------------------------------------- stories
@stories_app.command("list")
def stories_list_cmd(db: DbOption = None, json_out: JsonOption = False) -> None:
    """All stories with their status and consent."""
    with open_store(db) as store:
        frame = repo.stories(store)
    if json_out:
        emit_json({"stories": frame})
        return
    for rec in frame.itertuples(index=False):
        scopes = [s for s in SCOPES if getattr(rec, f"consent_{s}")]
        console.print(f"{rec.story_id} [{rec.status}] {rec.title} — may appear on: {', '.join(scopes) or 'nowhere'}")


@stories_app.command("approve")
def stories_approve_cmd(
    story_id: Annotated[str, typer.Argument(help="Story id (see `stories list`).")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead of approving.")] = False,
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who reviewed it.")] = "cli",
    db: DbOption = None,
) -> None:
    """Approve (or reject) a submitted story."""
    with open_store(db) as store:
        repo.review_story(store, story_id, approve=not reject, reviewer=reviewer)
    console.print(f"Story {story_id} {'rejected' if reject else 'approved'}.")


@stories_app.command("export")
def stories_export_cmd(
    fmt: Annotated[str, typer.Option("--format", help="json or html")] = "json",
    scope: Annotated[
        str | None, typer.Option("--scope", help="Only stories consented for website | social | sales.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    db: DbOption = None,
) -> None:
    """Approved stories (only those whose author consented to `--scope`), as JSON or an HTML snippet."""
    if fmt not in ("json", "html"):
        raise InputError("--format must be json or html.")
    with open_store(db) as store:
        chosen = publishable(repo.stories(store), scope)
    if fmt == "html":
        text = stories_html(chosen)
    else:
        fields = [
            "story_id",
            "title",
            "body",
            "author_name",
            "consent_website",
            "consent_social",
            "consent_sales",
            "reviewed_at",
        ]
        from heedful.jsonable import to_jsonable

        text = json.dumps(to_jsonable({"stories": chosen.reindex(columns=fields)}), indent=2, ensure_ascii=False) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(f"Wrote {len(chosen)} stories to {out}.")
    else:
        typer.echo(text, nl=False)


# ---------------------------------------------------------------- peer matching and its effect
@app.command("match")
def match_cmd(
    db: DbOption = None,
    holdout: Annotated[float, typer.Option("--holdout", help="Share of matched customers held out at random.")] = 0.2,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Advocates considered per customer.")] = 10,
    onboarding_days: Annotated[
        int, typer.Option("--onboarding-days", help="Customers this new count as onboarding.")
    ] = 90,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Propose without storing.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Propose experienced advocates for new and at-risk customers (optimal assignment under capacity)."""
    with open_store(db) as store:
        result = run_matching(store, holdout=holdout, top_k=top_k, onboarding_days=onboarding_days, save=not dry_run)
    if json_out:
        emit_json(result)
        return
    console.print(
        f"{result['candidates']} candidates, {result['advocates_with_capacity']} advocates with room: "
        f"{result['matched']} matched, {result['holdout']} held out for measuring the effect."
    )
    for rec in result["matches"].head(20).itertuples(index=False):
        console.print(f"{rec.customer_id} → {rec.advocate_id} ({rec.score:.2f}, {rec.arm}): {'; '.join(rec.reasons)}")


@app.command("introduce")
def introduce_cmd(
    match_id: Annotated[str, typer.Argument(help="peer_matches.match_id")],
    status: Annotated[str, typer.Option("--status", help="introduced | declined | completed")] = "introduced",
    db: DbOption = None,
) -> None:
    """Record that an introduction was made (or declined, or completed)."""
    with open_store(db) as store:
        repo.record_introduction(store, match_id, status=status)
    console.print(f"Match {match_id}: {status}.")


@app.command("effect")
def effect_cmd(
    db: DbOption = None,
    window_days: Annotated[int, typer.Option("--window-days", min=1, help="Outcome window after the match.")] = 90,
    json_out: JsonOption = False,
) -> None:
    """Matched vs held-out customers: retention and spend, with 95% intervals."""
    with open_store(db) as store:
        report = effect_report(store, window_days)
    if json_out:
        emit_json(report)
        return
    ret = report["retention_difference"]
    console.print(
        f"{report['matches']} customers ({report['pending']} still inside the {window_days}-day window). "
        f"Retention difference matched - holdout: {ret['estimate']} [{ret['low']}, {ret['high']}]."
    )


# ---------------------------------------------------------------- demo
