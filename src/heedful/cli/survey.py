"""`heedful survey …`: create and distribute surveys, see results, analyse trade-off data from any tool."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store, progress_bar
from heedful.exports import safe_cell
from heedful.services import surveys as service
from heedful.store import surveys_repo as repo

app = typer.Typer(help="Surveys: NPS/CSAT/CES, MaxDiff, conjoint and price sensitivity.", no_args_is_help=True)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


@app.command("create")
def create_cmd(
    file: Annotated[Path, typer.Argument(help="Survey definition (YAML).")],
    status: Annotated[str, typer.Option(help="open (collecting answers) or draft.")] = "open",
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Validate a YAML survey and store it; a changed file becomes a new version."""
    text = existing_file(file).read_text(encoding="utf-8")
    with open_store(db) as store:
        info = service.create_survey(store, text, file.name, status=status)
    if json_out:
        emit_json(info)
    else:
        verb = "Stored" if info["created"] else "Unchanged:"
        console.print(
            f"{verb} survey [bold]{info['slug']}[/] version {info['version']} ({info['questions']} questions); link {info['url']}"
        )


@app.command("invite")
def invite_cmd(
    slug: Annotated[str, typer.Argument(help="Survey slug.")],
    customers: Annotated[
        str,
        typer.Option(
            help="Who: 'all', a kind (customer|prospect|staff|partner), @ids.txt, or a SQL condition such as \"country = 'France'\"."
        ),
    ],
    out: Annotated[Path, typer.Option(help="CSV file to write the personal links to.")],
    base_url: Annotated[str, typer.Option(help="Public address of the web app.")] = DEFAULT_BASE_URL,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Issue one unguessable link per customer (only its hash is stored) and write them to a CSV."""
    with open_store(db) as store:
        issued = service.invite(store, slug, customers, base_url)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "name", "email", "link"])
        for row in issued:
            writer.writerow([safe_cell(row[k]) for k in ("customer_id", "name", "email", "link")])
    result = {"slug": slug, "invited": len(issued), "out": str(out)}
    if json_out:
        emit_json(result)
    else:
        console.print(f"Wrote {len(issued)} personal links to {out}. Keep the file safe: the links are not stored.")


def _shortfall(estimate: dict[str, Any], what: str = "answers") -> str:
    """An estimate that is not shown, in words: why, and from how many completed responses."""
    status = estimate.get("status")
    if status == "no_answers":
        return f"no {what} yet"
    if status == "not_enough_data":
        return f"not enough data (n = {estimate['n']}, needs {estimate['minimum']})"
    if status == "not_identified":
        return f"not identified (n = {estimate['n']}): the choices so far cannot tell the options apart"
    return f"the {estimate.get('n', 0)} completed responses so far do not allow an estimate"


TRADE_OFFS = {"maxdiff": "MaxDiff", "conjoint": "Conjoint", "van_westendorp": "Van Westendorp"}


@app.command("results")
def results_cmd(
    slug: Annotated[str, typer.Argument(help="Survey slug.")],
    to_feedback: Annotated[
        bool, typer.Option("--to-feedback/--no-feedback", help="Copy open-text answers into feedback for listening.")
    ] = True,
    min_n: Annotated[
        int | None,
        typer.Option("--min-n", min=1, help="Completed responses an estimate needs (default 30 for every kind)."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Response rate, NPS with its 95% interval, CSAT/CES, cross-tabs, key drivers, trade-offs.

    Estimates count completed responses only; partial ones are counted apart.
    """
    with open_store(db) as store:
        report = service.results(store, slug, to_feedback=to_feedback, min_n=min_n)
    result, row, survey, invited = report.result, report.row, report.survey, report.invited
    if json_out:
        emit_json(result)
        return
    console.print(
        f"[bold]{survey.title}[/] ({slug}, {row['status']}): {result['completed']} completed of "
        f"{result['responses']} started ({result['partial']} partial, not counted in the estimates)"
    )
    if invited:
        console.print(f"Response rate: {result['completed']}/{invited} = {100 * (result['response_rate'] or 0):.0f}%")
    for q in result["questions"]:
        if q["type"] not in ("nps", "csat", "ces", *TRADE_OFFS):
            continue
        # the measure, then the question as respondents read it (its id where it has no text)
        asked = f"“{q['text']}”" if q.get("text") else q["question_id"]
        label = f"{TRADE_OFFS.get(q['type'], q['type'].upper())} ({asked})"
        if q.get("status") != "ok":
            console.print(f"{label}: {_shortfall(q)}", highlight=False)
        elif q["type"] == "nps":
            console.print(
                f"{label}: NPS {q['nps']:+.0f} (95% interval {q['low']:+.0f} to {q['high']:+.0f}, n={q['n']})",
                highlight=False,
            )
        elif q["type"] in ("csat", "ces"):
            console.print(
                f"{label}: mean {q['mean']:.2f}, top-box {100 * q['top_box']:.0f}% (n={q['n']})", highlight=False
            )
        else:
            console.print(f"{label}: estimated from {q['n']} completed responses (details: --json)", highlight=False)
    drivers = result.get("key_drivers")
    if drivers and drivers.get("status") != "ok":
        console.print(f"Key drivers of NPS: {_shortfall(drivers, 'complete sets of ratings')}")


@app.command("close")
def close_cmd(
    slug: Annotated[str, typer.Argument(help="Survey slug.")], db: DbOption = None, json_out: JsonOption = False
) -> None:
    """Stop collecting answers: the survey page then says it is closed."""
    with open_store(db) as store:
        repo.set_status(store, slug, "closed")
    if json_out:
        emit_json({"slug": slug, "status": "closed"})
    else:
        console.print(f"Survey {slug} is closed.")


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="CSV export.")],
    format: Annotated[str, typer.Option("--format", help="surveymonkey | typeform | google-forms")],
    slug: Annotated[str, typer.Option(help="Survey slug to import into (created from the columns if new).")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Import responses exported from SurveyMonkey, Typeform or Google Forms (re-importing adds nothing)."""
    from heedful.ingest.surveys_import import import_survey_file

    with open_store(db) as store:
        result = import_survey_file(store, existing_file(file), format, slug)
    if json_out:
        emit_json(result)
    else:
        console.print(
            f"Imported {result['accepted']} responses ({result['duplicates']} already stored, {result['answers']} answers) into {slug}."
        )


MethodOption = Annotated[str, typer.Option(help="hb (individual utilities, hierarchical Bayes) or mnl (aggregate).")]


@app.command("maxdiff")
def maxdiff_cmd(
    file: Annotated[Path, typer.Argument(help="Long CSV: respondent, task, item, best (0/1), worst (0/1).")],
    method: MethodOption = "hb",
    iterations: Annotated[int, typer.Option(help="HB iterations (half burn-in).")] = 4000,
    json_out: JsonOption = False,
) -> None:
    """Utilities, preference shares and counts of MaxDiff items."""
    with progress_bar("HB sampling", iterations, enabled=method == "hb" and not json_out) as advance:
        model = service.maxdiff(file, method=method, iterations=iterations, progress=advance)
    if json_out:
        emit_json(model.to_dict())
        return
    if not model.identified_:
        console.print(f"MaxDiff: {model.to_dict()['reason']}.")
        return
    console.print(model.summary[["utility", "low", "high", "share", "count_score"]].round(3).to_string())


@app.command("conjoint")
def conjoint_cmd(
    file: Annotated[
        Path, typer.Argument(help="Long CSV: respondent, task, alternative, one column per attribute, chosen (0/1).")
    ],
    price_col: Annotated[
        str | None, typer.Option("--price-col", help="Numeric price column (gives willingness to pay).")
    ] = None,
    method: MethodOption = "hb",
    iterations: Annotated[int, typer.Option(help="HB iterations (half burn-in).")] = 4000,
    simulate: Annotated[
        Path | None, typer.Option(help="CSV of product profiles to simulate market shares for.")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Part-worth utilities with intervals, attribute importance, WTP per level, market simulation."""
    with progress_bar("HB sampling", iterations, enabled=method == "hb" and not json_out) as advance:
        model, result = service.conjoint(
            file, price_col=price_col, method=method, iterations=iterations, simulate=simulate, progress=advance
        )
    if json_out:
        emit_json(result)
        return
    if not model.identified_:
        console.print(f"Conjoint: {result['reason']}.")
        return
    console.print(model.summary.round(3).to_string(index=False))
    console.print(model.importance_.round(1).to_string())
    if simulate is not None:
        console.print(pd.DataFrame(result["simulation"]).round(1).to_string(index=False))


@app.command("van-westendorp")
def van_westendorp_cmd(
    file: Annotated[Path, typer.Argument(help="CSV with columns too_cheap, cheap, expensive, too_expensive.")],
    convention: Annotated[
        str, typer.Option(help="common (PMC = too cheap x expensive) or original (x not cheap).")
    ] = "common",
    plot: Annotated[Path | None, typer.Option(help="Write the curves as an HTML chart.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Acceptable price range (PMC-PME), optimal and indifference price points."""
    model = service.van_westendorp(file, convention)
    if plot is not None:
        model.figure().write_html(str(plot), include_plotlyjs=True)
    if json_out:
        emit_json(model.to_dict() | {"curves": model.curves_.to_dict(orient="records")})
        return
    p = model.params_
    console.print(
        f"Acceptable range {p['pmc']:,.2f} – {p['pme']:,.2f}; optimal {p['opp']:,.2f}; indifference {p['ipp']:,.2f} (n={model.n_})"
    )
