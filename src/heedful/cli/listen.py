"""`heedful listen …`: classify feedback, discover themes, trends, evaluation, promote clusters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, open_store, progress_bar
from heedful.errors import InputError
from heedful.services import listen as service

__all__ = ["app"]

app = typer.Typer(help="Listen to customers: sentiment, themes, owners, discovery and trends.", no_args_is_help=True)


@app.callback()
def listen() -> None:
    """Listen to customers: sentiment, themes, owners, discovery and trends."""


@app.command()
def classify(
    file: Annotated[Path | None, typer.Argument(help="CSV / Parquet / JSON Lines / Excel file of feedback.")] = None,
    text_col: Annotated[str | None, typer.Option("--text-col", help="Column holding the text (with FILE).")] = None,
    id_col: Annotated[str | None, typer.Option("--id-col", help="Column holding an id to keep (with FILE).")] = None,
    db: DbOption = None,
    taxonomy: Annotated[Path | None, typer.Option("--taxonomy", help="Taxonomy YAML (default: heedful's).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the results to this CSV.")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Static-embedding fast path (quicker, less accurate).")] = False,
    reprocess_all: Annotated[bool, typer.Option("--all", help="With --db: classify every item again.")] = False,
    no_redact: Annotated[bool, typer.Option("--no-redact", help="Keep personal data in quotes.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Sentiment, themes, per-theme sentiment, department and journey stage for each feedback item."""
    if file is None and db is None:
        raise InputError("Give a FILE (with --text-col) or --db URL to classify the stored feedback.")
    if file is not None and db is not None:
        raise InputError("Give either a FILE or --db, not both.")
    if file is not None and (text_col is None or out is None):
        raise InputError("With a FILE, --text-col and --out are required.")
    if db is None or taxonomy is None:
        tax = service.load_taxonomy(taxonomy)
    else:  # a file's owners are checked against the store's journey departments and stages
        with open_store(db) as store:
            tax = service.load_taxonomy(taxonomy, store)
    skipped = 0
    clf = service.build_classifier(tax, fast)
    if file is not None:
        assert text_col is not None
        items = service.read_feedback_file(file, text_col, id_col)
        with progress_bar("Classifying", len(items), enabled=not json_out) as advance:
            result = service.classify_items(clf, items, id_col, redact_pii=not no_redact, progress=advance)
    else:
        with (
            open_store(db) as store,
            progress_bar("Classifying new feedback", None, enabled=not json_out) as advance,
        ):
            result, skipped = service.classify_store(store, clf, reprocess_all, not no_redact, advance)
    if out is not None:
        service.save_classification(result, out)
    summary = {
        "processed": len(result),
        "skipped_unchanged": skipped,
        "out": str(out) if out else None,
        "model_version": clf.version,
        **service.classification_summary(result),
        "notes": service.classification_notes(clf),
    }
    if json_out:
        emit_json(summary)
        return
    console.print(f"Classified [bold]{len(result):,}[/] item(s); {skipped:,} unchanged item(s) skipped.")
    total = max(len(result), 1)
    sentiments: dict[str, int] = summary["sentiment_counts"]  # type: ignore[assignment]
    console.print(
        "Sentiment: " + (", ".join(f"{k} {n:,} ({n / total:.0%})" for k, n in sentiments.items()) or "–"),
        highlight=False,
    )
    empty = int(summary["empty_texts"])  # type: ignore[call-overload]
    if empty:
        console.print(f"{empty:,} of them had no text at all and count as neutral.", highlight=False)
    themes: dict[str, int] = summary["theme_counts"]  # type: ignore[assignment]
    labels = {t.id: t.label for t in tax.themes}  # the taxonomy's own words, not its ids
    console.print(
        "Themes (items mentioning each): "
        + (", ".join(f"{service.label_of(k, labels)} {n:,}" for k, n in themes.items()) or "none found"),
        highlight=False,
    )
    for note in summary["notes"]:  # type: ignore[attr-defined]
        console.print(f"[yellow]{note}[/]", highlight=False)
    if out:
        console.print(f"Results written to {out}")


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option("--data", help="Folder with the shared public datasets.")] = Path(
        "../shared/data"
    ),
    star_sample: Annotated[
        int, typer.Option("--star-sample", help="Random reviews from the star-rated set (0: all 18,618 held out).")
    ] = 4000,
    fast: Annotated[bool, typer.Option("--fast", help="Evaluate the static-embedding fast path.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Reproduce the evaluation: SemEval-2014 aspect categories and polarity, star-rated reviews vs VADER."""
    from heedful.services.listen_eval import evaluate_listening

    report = evaluate_listening(data, "static" if fast else "transformer", star_sample or None)
    if json_out:
        emit_json(report)
    else:
        console.print_json(json.dumps(report))


@app.command()
def discover(
    file: Annotated[Path | None, typer.Argument(help="CSV / Parquet / JSON Lines / Excel file of feedback.")] = None,
    text_col: Annotated[str | None, typer.Option("--text-col", help="Column holding the text (with FILE).")] = None,
    db: DbOption = None,
    min_cluster_size: Annotated[int, typer.Option("--min-cluster-size", help="Smallest theme worth naming.")] = 15,
    limit: Annotated[int | None, typer.Option("--limit", help="Use at most this many items (random).")] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Static-embedding fast path.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Save the topics as JSON (input to `promote`).")] = None,
    json_out: JsonOption = False,
) -> None:
    """Themes nobody listed: clusters of similar feedback with a label, size, sentiment and quotes."""
    if (file is None) == (db is None):
        raise InputError("Give a FILE (with --text-col) or --db URL.")
    if file is not None:
        if text_col is None:
            raise InputError("With a FILE, --text-col is required.")
        frame = service.read_texts_file(file, text_col)
    else:
        with open_store(db) as store:
            frame = service.feedback_with_results(store)
    document = service.discover(frame, min_cluster_size, limit, fast)
    if out is not None:
        service.save_topics(document, out)
    if json_out:
        emit_json(document)
        return
    topics = document["topics"]
    console.print(
        f"{len(topics)} theme(s) found in {document['items']} item(s); {document['unclustered']} unclustered."
    )
    for _, topic in topics.head(20).iterrows():
        console.print(f"[bold]#{topic['cluster_id']} {topic['label']}[/] ({topic['size']}): {topic['quotes'][0]}")


@app.command()
def promote(
    topics: Annotated[Path, typer.Option("--topics", help="JSON written by `listen discover --out`.")],
    cluster: Annotated[int, typer.Option("--cluster", help="cluster_id of the topic to promote.")],
    theme_id: Annotated[str, typer.Option("--id", help="New theme id, e.g. sizing_chart.")],
    department: Annotated[str, typer.Option("--department", help="Department that owns it.")],
    journey_stage: Annotated[str, typer.Option("--journey-stage", help="Journey stage where it arises.")],
    out: Annotated[Path, typer.Option("--out", help="Write the extended taxonomy YAML here.")],
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="Taxonomy to extend (default: heedful's).")
    ] = None,
    label: Annotated[str | None, typer.Option("--label", help="Readable label (default: from keywords).")] = None,
) -> None:
    """Promote a discovered cluster into the taxonomy YAML as a new theme."""
    extended = service.promote_cluster(topics, cluster, theme_id, department, journey_stage, taxonomy, label)
    out.write_text(extended.to_yaml(), encoding="utf-8")
    console.print(f"Theme {theme_id!r} added; taxonomy written to {out}")


@app.command()
def trends(
    db: DbOption = None,
    period: Annotated[str, typer.Option("--period", help="D, W, M, Q or Y.")] = "M",
    baseline: Annotated[int, typer.Option("--baseline", help="Earlier periods to compare the latest with.")] = 3,
    fdr: Annotated[float, typer.Option("--fdr", help="False discovery rate for flags (Benjamini-Hochberg).")] = 0.05,
    competitor: Annotated[
        list[str] | None, typer.Option("--competitor", help="Competitor name (repeatable; also [listen] competitors).")
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Share and sentiment of each theme per period, emerging / worsening themes, competitor mentions."""
    with open_store(db) as store:
        document = service.trends(store, period, baseline, fdr, competitor)
    if json_out:
        emit_json(document)
        return
    from rich.table import Table

    changes = document["changes"]
    if not len(changes):
        console.print(f"Too few periods to compare: the latest with the {baseline} before it needs {baseline + 1}.")
    else:
        latest = str(changes["period"].iloc[0])
        named = document.get("latest_label") or latest  # "Dec 2011 (partial, 9 days)"
        flagged = changes[changes["flagged"]]
        out = Table(
            title=f"Themes in {named} against the {baseline} periods before",
            caption=f"flagged where the rise is beyond chance (Benjamini-Hochberg, false discovery rate {fdr})",
        )
        for column in ("theme", f"mentions in {latest}", "share of feedback", "negative share of mentions", "flag"):
            out.add_column(column, justify="left" if column in ("theme", "flag") else "right")
        trend = document["trends"]
        mentions = dict(trend.loc[trend["period"].astype(str) == latest, ["theme", "mentions"]].to_numpy())
        labels = service.theme_labels()
        by_theme = {kind: rows.set_index("theme") for kind, rows in changes.groupby("kind")}
        share, negative = by_theme.get("emerging"), by_theme.get("worsening")
        order = share.sort_values("latest", ascending=False).index if share is not None else []
        for theme in order:
            flags = [
                f"{kind} (q = {rows.loc[theme, 'q_value']:.2g})"
                for kind, rows in by_theme.items()
                if theme in rows.index and bool(rows.loc[theme, "flagged"])
            ]
            out.add_row(
                service.label_of(str(theme), labels),
                str(int(mentions.get(theme, 0))),
                _before_now(share, theme),
                _before_now(negative, theme),
                ", ".join(flags) or "–",
            )
        console.print(out)
        if flagged.empty:
            console.print(f"No theme is emerging or worsening in {named} beyond what chance explains.")
    for mention in document["competitors"]:
        console.print(f"  {mention['competitor']}: {mention['mentions']} mention(s)")


def _before_now(rows: object, theme: object) -> str:
    """'12% → 19%' for a theme's row of `flag_changes` (baseline → latest), '–' where it has none."""
    import pandas as pd

    if not isinstance(rows, pd.DataFrame) or theme not in rows.index:
        return "–"

    def share(value: float) -> str:  # no mention in the period: no share to speak of
        return "–" if pd.isna(value) else "<1%" if 0 < value < 0.005 else f"{value:.0%}"

    return f"{share(rows.loc[theme, 'baseline'])} → {share(rows.loc[theme, 'latest'])}"
