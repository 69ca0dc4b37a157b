"""`heedful listen …`: classify feedback, discover themes, trends, evaluation, promote clusters."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store, progress_bar
from heedful.errors import InputError
from heedful.store import Store

if TYPE_CHECKING:
    from heedful.listen.classify import Classifier
    from heedful.listen.taxonomy import Taxonomy

app = typer.Typer(help="Listen to customers: sentiment, themes, owners, discovery and trends.", no_args_is_help=True)


@app.callback()
def listen() -> None:
    """Listen to customers: sentiment, themes, owners, discovery and trends."""


# ---------------------------------------------------------------------- evaluation data readers
@dataclass(frozen=True)
class SemEvalSentence:
    text: str
    categories: tuple[tuple[str, str], ...]  # (category, polarity)


def read_semeval(path: Path) -> list[SemEvalSentence]:
    """Sentences with aspect categories and polarities from a SemEval-2014 Task 4 XML file."""
    root = ET.parse(path).getroot()
    out = []
    for s in root.iter("sentence"):
        text = (s.findtext("text") or "").strip()
        cats = tuple((c.get("category", ""), c.get("polarity", "")) for c in s.iter("aspectCategory"))
        out.append(SemEvalSentence(text, cats))
    return out


def read_uci_sentences(folder: Path) -> Iterator[tuple[str, str]]:
    """(sentence, positive|negative) from the UCI sentiment-labelled sentences files."""
    for file in sorted(folder.glob("*_labelled.txt")):
        for line in file.read_text(encoding="utf-8", errors="replace").splitlines():
            text, _, label = line.rpartition("\t")
            if text.strip() and label.strip() in ("0", "1"):
                yield text.strip(), "positive" if label.strip() == "1" else "negative"


# ---------------------------------------------------------------------- commands
def _read_table(path: Path) -> pd.DataFrame:
    suffix = "".join(path.suffixes[-2:]).lower()
    if suffix.endswith((".parquet", ".pq")):
        return pd.read_parquet(path)
    if suffix.endswith((".jsonl", ".ndjson")):
        return pd.read_json(path, lines=True)
    if suffix.endswith((".xlsx", ".xls")):
        return pd.read_excel(path)
    return pd.read_csv(path)


def _load_taxonomy(path: Path | None) -> Taxonomy:
    from heedful.listen.taxonomy import default_taxonomy, parse_taxonomy

    if path is None:
        return default_taxonomy()
    existing_file(path)
    return parse_taxonomy(path.read_text(encoding="utf-8"), str(path))


def _summary(result: pd.DataFrame) -> dict[str, object]:
    themes = result["themes"].fillna("").str.split(";").explode()
    themes = themes[themes != ""]
    return {
        "items": len(result),
        "sentiment_counts": result["sentiment"].value_counts().to_dict(),
        "mean_sentiment_score": float(result["sentiment_score"].mean()) if len(result) else None,
        "theme_counts": themes.value_counts().to_dict(),
        "department_counts": result["department"].dropna().value_counts().to_dict(),
    }


def classify_store(
    store: Store,
    classifier: Classifier,
    reprocess_all: bool = False,
    redact_pii: bool = True,
    progress: Callable[[int], object] | None = None,
) -> tuple[pd.DataFrame, int]:
    """Classify new or changed feedback in the store into feedback_enriched; returns (rows written, skipped)."""
    from heedful.listen.classify import enrich, pending_items

    feedback = store.query("SELECT feedback_id, text FROM feedback")
    enriched = (
        pd.DataFrame(columns=["feedback_id", "text_hash"])
        if reprocess_all
        else store.query("SELECT feedback_id, text_hash FROM feedback_enriched")
    )
    todo = pending_items(feedback, enriched)
    result = enrich(classifier, todo, redact_pii=redact_pii, progress=progress)
    if len(result):
        store.upsert("feedback_enriched", result)
    return result, len(feedback) - len(todo)


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
    from heedful.listen.classify import Classifier, enrich

    if file is None and db is None:
        raise InputError("Give a FILE (with --text-col) or --db URL to classify the stored feedback.")
    if file is not None and db is not None:
        raise InputError("Give either a FILE or --db, not both.")
    if file is not None and (text_col is None or out is None):
        raise InputError("With a FILE, --text-col and --out are required.")
    tax = _load_taxonomy(taxonomy)
    clf = Classifier.build(tax, backend="static" if fast else "transformer")
    skipped = 0
    if file is not None:
        assert text_col is not None
        frame = _read_table(existing_file(file))
        for col in [text_col, id_col]:
            if col is not None and col not in frame.columns:
                raise InputError(f"Column {col!r} is not in {file}; columns are: {', '.join(map(str, frame.columns))}")
        ids = frame[id_col].astype(str) if id_col else pd.Series(range(1, len(frame) + 1)).astype(str)
        items = pd.DataFrame({"feedback_id": ids.to_numpy(), "text": frame[text_col].to_numpy()})
        with progress_bar("Classifying", len(items), enabled=not json_out) as advance:
            result = enrich(clf, items, redact_pii=not no_redact, progress=advance)
        result = result.rename(columns={"feedback_id": id_col or "row", "redacted_text": "text"})
    else:
        store = open_store(db)
        try:
            with progress_bar("Classifying new feedback", None, enabled=not json_out) as advance:
                result, skipped = classify_store(store, clf, reprocess_all, not no_redact, advance)
        finally:
            store.close()
    if out is not None:
        columns = [c for c in result.columns if c not in ("model_version", "processed_at", "text_hash")]
        result[columns].to_csv(out, index=False)
    summary = {
        "processed": len(result),
        "skipped_unchanged": skipped,
        "out": str(out) if out else None,
        "model_version": clf.version,
        **_summary(result),
    }
    if json_out:
        emit_json(summary)
        return
    console.print(f"Classified [bold]{len(result)}[/] item(s); {skipped} unchanged item(s) skipped.")
    for key in ("sentiment_counts", "theme_counts"):
        console.print(f"{key.replace('_', ' ')}: {summary[key]}")
    if out:
        console.print(f"Results written to {out}")


def demo_step(store: Store) -> dict[str, object]:
    """Classify the demo feedback in the store (new items only) and return headline figures."""
    from heedful.listen.classify import Classifier

    classifier = Classifier.build()
    classify_store(store, classifier)
    enriched = store.query("SELECT sentiment, themes, department FROM feedback_enriched")
    negative = enriched[enriched["sentiment"].isin(["negative", "mixed"])]
    summary = _summary(enriched)
    return {
        "feedback_classified": len(enriched),
        "negative_or_mixed_share": round(len(negative) / len(enriched), 3) if len(enriched) else None,
        "top_themes": dict(list(summary["theme_counts"].items())[:5]),  # type: ignore[attr-defined]
        "department_with_most_negative": (
            negative["department"].dropna().value_counts().index[0] if negative["department"].notna().any() else None
        ),
    }
