"""`heedful privacy …`: export or erase everything held about a person; retention of raw feedback text."""

from __future__ import annotations

from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store
from heedful.cli.ingest import user_errors

app = typer.Typer(
    help="Data-subject rights: export and erase a person's data; retention of raw text.", no_args_is_help=True
)

CustomerArg = Annotated[str, typer.Argument(help="The customer id (or their e-mail address).")]


@app.command("export")
def export_cmd(customer: CustomerArg, db: DbOption = None) -> None:
    """Print, as one JSON document, every row held about the person and every text that mentions them."""
    from heedful.services.privacy import export_subject

    with user_errors(), open_store(db) as store:
        doc = export_subject(store, customer)
    emit_json(doc)


@app.command("erase")
def erase_cmd(
    customer: CustomerArg,
    db: DbOption = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Erase the person from every table: delete their rows, de-identify orders and ledgers, scrub mentions."""
    from heedful.services.privacy import erase_subject, find_subject

    with user_errors(), open_store(db) as store:
        subject = find_subject(store, customer)
        if not yes and not typer.confirm(
            f"Erase customer {subject.customer_id} from every table? This cannot be undone.", default=False
        ):
            raise typer.Exit(1)
        result = erase_subject(store, subject.customer_id)
    doc = result.to_dict()
    if json_out:
        emit_json(doc)
    else:
        console.print(
            f"Erased: deleted {sum(result.deleted.values())} rows, de-identified {sum(result.pseudonymised.values())}, "
            f"scrubbed {sum(result.redacted.values())} mentions; kept rows now refer to {result.pseudonym}."
        )


@app.command("retention")
def retention_cmd(
    days: Annotated[int, typer.Option("--days", help="Redact raw feedback text older than this many days.")],
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Replace raw feedback text older than N days by its redacted version (enrichment kept)."""
    from heedful.services.privacy import apply_retention

    with user_errors(), open_store(db) as store:
        doc = apply_retention(store, days)
    if json_out:
        emit_json(doc)
    else:
        console.print(f"Redacted {doc['redacted']} of {doc['checked']} feedback texts older than {doc['cutoff']}.")
