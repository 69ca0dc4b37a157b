"""Listening use cases: classify feedback (a file or the store's, saved to feedback_enriched), discover
and promote themes, trends, the listening overview and quotes; the evaluation is in `listen_eval`."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from heedful.errors import InputError
from heedful.exports import frame_to_csv
from heedful.ingest.sources import existing_file, read_frame
from heedful.store import Store
from heedful.themes import SEPARATOR, explode_themes, theme_lists

if TYPE_CHECKING:
    from heedful.listen.classify import Classifier
    from heedful.listen.taxonomy import Taxonomy

Progress = Callable[[int], object]
# Columns of a classification written to a CSV (the bookkeeping columns stay in the store).
_NOT_WRITTEN = ("model_version", "processed_at", "text_hash")


# ---------------------------------------------------------------------- inputs
def load_taxonomy(path: Path | None, store: Store | None = None) -> Taxonomy:
    """The taxonomy in a YAML file, or heedful's default one when `path` is None.

    A file's themes must be owned by departments, and arise at stages, of the journey: the store's journey
    configuration when `store` is given, else the default one. Any other is refused (InputError) with
    its line and the valid ids."""
    from heedful.listen.taxonomy import default_taxonomy, parse_taxonomy

    if path is None:
        return default_taxonomy()
    text = existing_file(path).read_text(encoding="utf-8")
    departments, stages = journey_owners(store)
    return parse_taxonomy(text, str(path), departments=departments, stages=stages)


@functools.lru_cache(maxsize=1)
def theme_labels() -> dict[str, str]:
    """Theme id -> label for every theme heedful knows (the default taxonomy and the shipped examples);
    pages, reports and the CLI show labels, never ids (`label_of` words any other id)."""
    from heedful.listen.taxonomy import default_taxonomy, example_taxonomy

    labels = {t.id: t.label for t in example_taxonomy("restaurant").themes}
    labels.update({t.id: t.label for t in default_taxonomy().themes})
    return labels


def label_of(theme_id: str, labels: dict[str, str] | None = None) -> str:
    """One theme id's label (`theme_labels`), or the id in words where no taxonomy names it."""
    from heedful.themes import humanise

    return (labels if labels is not None else theme_labels()).get(theme_id) or humanise(theme_id)


def journey_owners(store: Store | None = None) -> tuple[list[str], list[str]]:
    """(department ids, stage ids) a theme may name: the store's journey configuration, else the default."""
    from heedful.journey.config import default_config

    if store is None:
        config = default_config()
    else:
        from heedful.services.journey import load_config

        config = load_config(store)
    return [d.id for d in config.departments], [s.id for s in config.ordered_stages()]


def build_classifier(taxonomy: Taxonomy | None = None, fast: bool = False) -> Classifier:
    """The listening classifier for `taxonomy` (default when None); `fast` is the static-embedding path."""
    from heedful.listen.classify import Classifier

    return Classifier.build(taxonomy, backend="static" if fast else "transformer")


def _file_columns(path: Path, *columns: str | None) -> pd.DataFrame:
    frame = read_frame(path)
    for col in columns:
        if col is not None and col not in frame.columns:
            raise InputError(f"Column {col!r} is not in {path}; columns are: {', '.join(map(str, frame.columns))}")
    return frame


def read_feedback_file(path: Path, text_col: str, id_col: str | None = None) -> pd.DataFrame:
    """Items (feedback_id, text) of a CSV / Parquet / JSON Lines / Excel file; ids are 1, 2, … without `id_col`."""
    frame = _file_columns(path, text_col, id_col)
    ids = frame[id_col].astype(str) if id_col else pd.Series(range(1, len(frame) + 1)).astype(str)
    return pd.DataFrame({"feedback_id": ids.to_numpy(), "text": frame[text_col].to_numpy()})


# ---------------------------------------------------------------------- classification
def classify_items(
    classifier: Classifier,
    items: pd.DataFrame,
    id_col: str | None = None,
    redact_pii: bool = True,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Classify items read by `read_feedback_file`: the id column is named `id_col` (else "row") and
    `text` is the (redacted) text."""
    from heedful.listen.classify import enrich

    result = enrich(classifier, items, redact_pii=redact_pii, progress=progress)
    return result.rename(columns={"feedback_id": id_col or "row", "redacted_text": "text"})


def classify_store(
    store: Store,
    classifier: Classifier,
    reprocess_all: bool = False,
    redact_pii: bool = True,
    progress: Progress | None = None,
) -> tuple[pd.DataFrame, int]:
    """Classify new or changed feedback in the store into feedback_enriched; returns (rows written, skipped)."""
    from heedful.listen.classify import enrich, pending_items

    feedback = store.query("SELECT feedback_id, text FROM feedback")
    enriched = (
        pd.DataFrame(columns=["feedback_id", "text_hash"])
        if reprocess_all
        else store.query("SELECT feedback_id, text_hash, model_version FROM feedback_enriched")
    )
    todo = pending_items(feedback, enriched, classifier.version)  # a new model version redoes old rows
    result = enrich(classifier, todo, redact_pii=redact_pii, progress=progress)
    if len(result):
        store.upsert("feedback_enriched", result)
    return result, len(feedback) - len(todo)


def save_classification(result: pd.DataFrame, out: Path) -> None:
    """Write classified items to a CSV, without the store's bookkeeping columns."""
    frame_to_csv(result[[c for c in result.columns if c not in _NOT_WRITTEN]], out)


def classification_notes(classifier: Classifier) -> list[str]:
    """What to keep in mind reading a classification's figures, in words (docs/listening.md, known failure
    cases): the fast path with a few examples per theme files most reviews under several themes."""
    if classifier.backend == "static" and getattr(classifier.themes, "mode_", None) == "few_shot":
        return [
            "The fast path finds too many themes when the taxonomy gives each theme only a few examples (on "
            "hand-labelled clothing reviews 53% of the themes it named were right, against 91% without --fast): "
            "read its theme counts as rough; run without --fast, or give each theme dozens of examples, where "
            "themes matter."
        ]
    return []


def classification_summary(result: pd.DataFrame) -> dict[str, object]:
    """Items, sentiment counts, mean score, mentions per theme and per department, and how many items had no
    text at all (`empty_texts`: blank, counted as neutral)."""
    themes = explode_themes(result[["themes"]])["theme"]
    quote = next((c for c in ("text", "redacted_text") if c in result), None)
    empty = int(result[quote].fillna("").astype(str).str.strip().eq("").sum()) if quote else 0
    return {
        "items": len(result),
        "empty_texts": empty,
        "sentiment_counts": result["sentiment"].value_counts().to_dict(),
        "mean_sentiment_score": float(result["sentiment_score"].mean()) if len(result) else None,
        "theme_counts": themes.value_counts().to_dict(),
        "department_counts": result["department"].dropna().value_counts().to_dict(),
    }


def demo_step(store: Store) -> dict[str, object]:
    """Classify the demo feedback in the store (new items only) and return headline figures."""
    classify_store(store, build_classifier())
    enriched = store.query("SELECT sentiment, sentiment_score, themes, department FROM feedback_enriched")
    negative = enriched[enriched["sentiment"].isin(["negative", "mixed"])]
    theme_counts: dict[str, int] = classification_summary(enriched)["theme_counts"]  # type: ignore[assignment]
    labels = theme_labels()
    worst = negative["department"].dropna().value_counts().index[0] if negative["department"].notna().any() else None
    from heedful.services.journey import load_config

    return {
        "feedback_classified": len(enriched),
        "top_theme_labels": {labels.get(k, k): v for k, v in list(theme_counts.items())[:5]},
        "negative_or_mixed_share": round(len(negative) / len(enriched), 3) if len(enriched) else None,
        "top_themes": dict(list(theme_counts.items())[:5]),
        "department_with_most_negative": worst,
        "department_with_most_negative_name": load_config(store).department_name(worst) if worst else None,
    }


# ---------------------------------------------------------------------- discovery and promotion
def feedback_with_results(store: Store) -> pd.DataFrame:
    """Stored feedback joined with its listening results (missing results give empty themes)."""
    return store.query(
        "SELECT f.feedback_id, f.created_at, f.text, e.sentiment, e.sentiment_score, e.themes, "
        "e.theme_sentiments, e.redacted_text FROM feedback f "
        "LEFT JOIN feedback_enriched e ON e.feedback_id = f.feedback_id"
    )


def read_texts_file(path: Path, text_col: str) -> pd.DataFrame:
    """The non-empty texts of one column of a file, as a frame with a `text` column."""
    frame = read_frame(path)
    if text_col not in frame.columns:
        raise InputError(f"Column {text_col!r} is not in {path}.")
    return pd.DataFrame({"text": frame[text_col]}).dropna()


def discover(
    frame: pd.DataFrame, min_cluster_size: int = 15, limit: int | None = None, fast: bool = False
) -> dict[str, Any]:
    """Clusters of similar texts (`frame["text"]`, with sentiment_score and themes when present): a
    document {items, unclustered, topics}; at most `limit` items, drawn at random."""
    from heedful.listen.discover import ThemeDiscovery
    from heedful.listen.embed import embed_for_discovery

    if limit and len(frame) > limit:
        frame = frame.sample(limit, random_state=0)
    texts = frame["text"].astype(str).tolist()
    vectors = embed_for_discovery(texts, backend="static" if fast else "transformer")
    has_scores = "sentiment_score" in frame and frame["sentiment_score"].notna().all()
    model = ThemeDiscovery(min_cluster_size=min_cluster_size).fit(
        texts,
        vectors,
        sentiment_score=frame["sentiment_score"].tolist() if has_scores else None,
        themes=frame["themes"].fillna("").tolist() if "themes" in frame else None,
    )
    return {"items": len(texts), "unclustered": int((model.labels_ == -1).sum()), "topics": model.topics_}


def save_topics(document: dict[str, Any], out: Path) -> None:
    """Write a `discover` document as JSON (the input of `promote_cluster`)."""
    from heedful.jsonable import to_jsonable

    out.write_text(json.dumps(to_jsonable(document), indent=2, ensure_ascii=False), encoding="utf-8")


def promote_cluster(
    topics: Path,
    cluster: int,
    theme_id: str,
    department: str,
    journey_stage: str,
    taxonomy: Path | None = None,
    label: str | None = None,
    store: Store | None = None,
) -> Taxonomy:
    """The taxonomy (default when None) extended with cluster `cluster` of a saved `discover` document.

    The department and stage must be the journey's (the store's when given, else the default one)."""
    from heedful.listen.discover import promote

    document = json.loads(existing_file(topics).read_text(encoding="utf-8"))
    table = pd.DataFrame(document.get("topics", []))
    if table.empty or cluster not in set(table["cluster_id"]):
        raise InputError(f"No cluster {cluster} in {topics}.")
    topic = table[table["cluster_id"] == cluster].iloc[0]
    base = load_taxonomy(taxonomy, store)
    departments, stages = journey_owners(store)
    for option, value, known in (("--department", department, departments), ("--journey-stage", journey_stage, stages)):
        if value not in known:
            raise InputError(f"{option} {value!r} is not one of the journey's: {', '.join(sorted(known))}.")
    return promote(base, topic, theme_id, department, journey_stage, label)


# ---------------------------------------------------------------------- trends
def competitor_names(given: Sequence[str] | None = None) -> list[str]:
    """The competitors to look for: those given, else `[listen] competitors` in the settings."""
    from heedful.config import load_settings

    if given:
        return list(given)
    conf = load_settings().extra.get("listen", {})
    return list(conf.get("competitors", []) if isinstance(conf, dict) else [])


def trends(
    store: Store,
    period: str = "M",
    baseline: int = 3,
    fdr: float = 0.05,
    competitors: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Each theme's share and sentiment per period, its flagged changes, and competitor mentions
    (`competitors`, else the settings'); InputError when nothing is classified yet."""
    from heedful.listen.trends import competitor_mentions, flag_changes, theme_trends

    frame = feedback_with_results(store)
    frame = frame[frame["sentiment"].notna()]
    if frame.empty:
        raise InputError("No classified feedback yet; run `heedful listen classify --db …` first.")
    frame = frame.assign(text=frame["redacted_text"].fillna(frame["text"]))
    changes = flag_changes(frame, period, baseline, fdr)
    latest = str(changes["period"].iloc[0]) if len(changes) else None
    return {
        "period": period,
        "latest_label": _period_label(latest, period, pd.to_datetime(frame["created_at"]).max()),
        "trends": theme_trends(frame, period),
        "changes": changes,
        "competitors": [asdict(m) for m in competitor_mentions(frame, competitor_names(competitors))],
    }


# ---------------------------------------------------------------------- overview (the listening page)
def classified_feedback(store: Store) -> pd.DataFrame:
    """Every classified feedback item with its listening results (no text: quotes are fetched apart)."""
    return store.query(
        "SELECT f.feedback_id, f.created_at, f.channel, e.sentiment, e.sentiment_score, e.themes, "
        "e.theme_sentiments, e.department, e.journey_stage FROM feedback f "
        "JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE e.sentiment IS NOT NULL"
    )


def overview(store: Store, period: str = "M") -> dict[str, Any]:
    """{items, themes (the theme overview), trends, sentiment (items per sentiment)} of classified feedback."""
    from heedful.listen.overview import theme_overview
    from heedful.listen.taxonomy import default_taxonomy
    from heedful.listen.trends import theme_trends

    frame = classified_feedback(store)
    if frame.empty:
        return {"items": 0, "themes": pd.DataFrame(), "trends": pd.DataFrame(), "sentiment": pd.DataFrame()}
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    sentiment = frame["sentiment"].value_counts().rename_axis("sentiment").reset_index(name="items")
    theme_trend = theme_trends(frame, period)
    themes = theme_overview(frame, default_taxonomy(), period=period, trends=theme_trend)
    return {
        "items": len(frame),
        "themes": themes,
        "trends": theme_trend,
        "sentiment": sentiment,
        "latest_label": _period_label(
            str(themes["latest_period"].iloc[0]) if "latest_period" in themes and len(themes) else None,
            period,
            frame["created_at"].max(),
        ),
    }


def _period_label(latest: str | None, period: str, data_end: Any) -> str | None:
    """The latest period as the pages and the CLI name it: "Nov 2011", and a month the feedback does not cover
    to its end says so ("Dec 2011 (partial, 9 days)"); None where there is no latest period."""
    if latest is None:
        return None
    if period.upper() != "M":
        return latest
    from heedful.journey.periods import coverage

    return coverage(latest, data_end).label


def quotes(store: Store, theme: str | None, sentiment: str | None, limit: int = 20) -> pd.DataFrame:
    """The latest items (redacted text), of one theme and/or sentiment; negative and mixed first by default.
    `themes` is given as readable text ("a, b")."""
    where: list[str] = ["e.sentiment IS NOT NULL"]
    params: list[object] = []
    if theme:
        where.append(f"('{SEPARATOR}' || e.themes || '{SEPARATOR}') LIKE ?")
        params.append(f"%{SEPARATOR}{theme}{SEPARATOR}%")
    if sentiment:
        where.append("e.sentiment = ?")
        params.append(sentiment)
    else:
        where.append("e.sentiment IN ('negative', 'mixed')")
    frame = store.query(
        "SELECT f.feedback_id, f.created_at, f.channel, f.customer_id, e.sentiment, e.themes, e.theme_sentiments, "
        "substr(coalesce(e.redacted_text, '[text not stored]'), 1, 600) AS quote FROM feedback f "
        f"JOIN feedback_enriched e ON e.feedback_id = f.feedback_id WHERE {' AND '.join(where)} "
        "ORDER BY f.created_at DESC, f.feedback_id LIMIT ?",
        [*params, int(limit)],
    )
    frame["themes"] = theme_lists(frame["themes"]).map(", ".join)
    return frame
