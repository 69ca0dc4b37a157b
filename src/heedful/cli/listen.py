"""`heedful listen …`: classify feedback, discover themes, trends, evaluation, promote clusters."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, existing_file, open_store, progress_bar
from heedful.errors import InputError
from heedful.store import Store

if TYPE_CHECKING:
    import numpy as np

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


# ---------------------------------------------------------------------- static fast path cache
def static_cache_file() -> Path:
    """Where the static fast path keeps its word-piece vectors between runs ($HEEDFUL_CACHE_DIR, else
    $XDG_CACHE_HOME/heedful, else ~/.cache/heedful)."""
    root = os.environ.get("HEEDFUL_CACHE_DIR") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "heedful"
    )
    return Path(root) / "static-pieces-minilm.npz"


@contextmanager
def static_piece_cache(enabled: bool = True) -> Iterator[None]:
    """Load the static path's piece vectors before the work and save new ones after it, so each piece is
    computed once per machine instead of once per process (the first run pays for them)."""
    if not enabled:
        yield
        return
    import numpy as np

    from heedful.listen.embed import load_static_piece_cache, static_piece_cache

    path = static_cache_file()
    before = 0
    if path.exists():
        try:
            with np.load(path) as arrays:
                before = load_static_piece_cache(arrays)
        except (OSError, ValueError, KeyError):  # unreadable cache: the vectors are computed again
            before = 0
    try:
        yield
    finally:
        arrays = static_piece_cache()
        if len(arrays["ids"]) > before:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
                np.savez(tmp, model=arrays["model"], ids=arrays["ids"], vectors=arrays["vectors"])
                os.replace(tmp, path)
            except OSError:  # read-only home: keep working without a cache
                pass


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


def _classify_input(
    file: Path | None,
    text_col: str | None,
    id_col: str | None,
    db: str | None,
    tax: Taxonomy,
    fast: bool,
    reprocess_all: bool,
    no_redact: bool,
    json_out: bool,
) -> tuple[pd.DataFrame, int, Classifier]:
    """Classify a file's rows or the store's new feedback; returns (results, unchanged items skipped, classifier)."""
    from heedful.listen.classify import Classifier, enrich

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
        with (
            open_store(db) as store,
            progress_bar("Classifying new feedback", None, enabled=not json_out) as advance,
        ):
            result, skipped = classify_store(store, clf, reprocess_all, not no_redact, advance)
    return result, skipped, clf


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
    tax = _load_taxonomy(taxonomy)
    with static_piece_cache(fast):
        result, skipped, clf = _classify_input(
            file, text_col, id_col, db, tax, fast, reprocess_all, no_redact, json_out
        )
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
    enriched = store.query("SELECT sentiment, sentiment_score, themes, department FROM feedback_enriched")
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


# ---------------------------------------------------------------------- evaluation
CLOTHING_FILE = Path("womens_ecommerce_clothing_reviews") / "Womens Clothing E-Commerce Reviews.csv.gz"
SEMEVAL_DIR = Path("semeval2014_absa_restaurants")


def read_star_reviews(data: Path) -> pd.DataFrame:
    """Clothing reviews rated 1-2 (negative) or 4-5 (positive) that have text: columns text, rating, negative."""
    frame = pd.read_csv(data / CLOTHING_FILE)
    frame = frame[frame["Review Text"].notna() & frame["Rating"].isin([1, 2, 4, 5])]
    out = pd.DataFrame({"text": frame["Review Text"].astype(str), "rating": frame["Rating"].astype(int)})
    out["negative"] = out["rating"] <= 2
    return out.reset_index(drop=True)


def star_development_sample(stars: pd.DataFrame) -> pd.Index:
    """600 negative + 600 positive reviews used to choose how clause and sentence scores combine into an
    item score (see classify.py); `evaluate` leaves them out."""
    negative = stars[stars["negative"]].sample(600, random_state=1)
    positive = stars[~stars["negative"]].sample(600, random_state=1)
    return negative.index.append(positive.index)


def evaluate_listening(
    data: Path, backend: str = "transformer", star_sample: int | None = 4000, seed: int = 0
) -> dict[str, object]:
    """Reproduce the evaluation in docs/listening.md; returns the figures as a dict."""
    import time

    import numpy as np

    from heedful.listen.classify import Classifier
    from heedful.listen.evaluation import (
        SEMEVAL_CATEGORIES,
        best_cutoff_balanced_accuracy,
        binary_polarity_scores,
        multilabel_scores,
        semeval_taxonomy,
    )
    from heedful.listen.themes import ThemeClassifier

    for path in (data / SEMEVAL_DIR, data / CLOTHING_FILE):
        if not path.exists():
            raise InputError(f"{path} is missing; pass --data pointing at the shared data folder.")
    report: dict[str, object] = {"backend": backend}
    started = time.perf_counter()
    train = read_semeval(data / SEMEVAL_DIR / "Restaurants_Train_v2.xml")
    test = read_semeval(data / SEMEVAL_DIR / "Restaurants_Test_Gold.xml")
    taxonomy = semeval_taxonomy([(s.text, [c for c, _ in s.categories]) for s in train])
    clf = Classifier.build(taxonomy, backend=backend, theme_classifier=ThemeClassifier(at_least_one=True))  # type: ignore[arg-type]
    theme_of = {c: tid for c, (tid, _, _) in SEMEVAL_CATEGORIES.items()}
    result = clf.classify([s.text for s in test])
    truth = [{theme_of[c] for c, _ in s.categories} for s in test]
    predicted = [set(t.split(";")) - {""} for t in result["themes"]]
    aspects = clf.aspect_sentiments([s.text for s in test], [[theme_of[c] for c, _ in s.categories] for s in test])
    pairs = [(p, a[theme_of[c]]) for s, a in zip(test, aspects, strict=True) for c, p in s.categories]
    correct = sum(g == p for g, p in pairs)
    no_conflict = [(g, p) for g, p in pairs if g != "conflict"]
    report["semeval2014_restaurants"] = {
        "train_sentences": len(train),
        "test_sentences": len(test),
        "theme_model": clf.themes.mode_,
        "aspect_category": {k: round(v, 4) for k, v in multilabel_scores(truth, predicted).items()},
        "category_polarity_accuracy": round(correct / len(pairs), 4),
        "category_polarity_accuracy_without_conflict": round(sum(g == p for g, p in no_conflict) / len(no_conflict), 4),
        "category_polarity_pairs": len(pairs),
        "note": "polarity in 4 classes (positive, negative, neutral, conflict); heedful never predicts conflict",
    }
    stars = read_star_reviews(data)
    stars = stars.drop(star_development_sample(stars)).reset_index(drop=True)
    if star_sample and star_sample < len(stars):
        stars = stars.sample(star_sample, random_state=seed).reset_index(drop=True)
    truth_neg = stars["negative"].to_numpy()
    ours_score = clf_default_scores(stars["text"].tolist(), backend)
    ours = binary_polarity_scores(truth_neg, ours_score < 0)
    ours["best_cutoff_balanced_accuracy"] = best_cutoff_balanced_accuracy(truth_neg, ours_score)
    star_report: dict[str, object] = {
        "reviews": len(stars),
        "negative_share": round(float(truth_neg.mean()), 4),
        "always_positive_accuracy": round(float(1 - truth_neg.mean()), 4),
        "heedful": {k: round(v, 4) for k, v in ours.items()},
        "note": "not used for training; 1,200 development reviews left out; heedful negative when sentiment_score < 0; VADER negative when compound <= -0.05",
    }
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        star_report["vader"] = "vaderSentiment is not installed (pip install heedful[bench]); VADER not measured"
    else:
        analyzer = SentimentIntensityAnalyzer()
        compound = np.array([analyzer.polarity_scores(t)["compound"] for t in stars["text"]])
        vader = binary_polarity_scores(truth_neg, compound <= -0.05)
        vader["best_cutoff_balanced_accuracy"] = best_cutoff_balanced_accuracy(truth_neg, compound)
        star_report["vader"] = {k: round(v, 4) for k, v in vader.items()}
        star_report["heedful_minus_vader_points"] = {
            k: round(100 * (ours[k] - vader[k]), 1) for k in ("accuracy", "balanced_accuracy", "negative_f1")
        }
    report["star_reviews_womens_clothing"] = star_report
    report["seconds"] = round(time.perf_counter() - started, 1)
    return report


def clf_default_scores(texts: list[str], backend: str) -> np.ndarray:
    """sentiment_score of each text from the default classifier (what `listen classify` writes)."""
    from heedful.listen.classify import Classifier

    clf = Classifier.build(backend=backend)  # type: ignore[arg-type]
    return clf.classify(texts)["sentiment_score"].to_numpy()


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
    with static_piece_cache(fast):
        report = evaluate_listening(data, "static" if fast else "transformer", star_sample or None)
    if json_out:
        emit_json(report)
    else:
        import json

        console.print_json(json.dumps(report))


# ---------------------------------------------------------------------- discovery, promotion, trends
def _feedback_with_results(store: Store) -> pd.DataFrame:
    """Stored feedback joined with its listening results (missing results give empty themes)."""
    return store.query(
        "SELECT f.feedback_id, f.created_at, f.text, e.sentiment, e.sentiment_score, e.themes, "
        "e.theme_sentiments, e.redacted_text FROM feedback f "
        "LEFT JOIN feedback_enriched e ON e.feedback_id = f.feedback_id"
    )


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
    import json

    from heedful.listen.discover import ThemeDiscovery
    from heedful.listen.embed import embed_for_discovery

    if (file is None) == (db is None):
        raise InputError("Give a FILE (with --text-col) or --db URL.")
    if file is not None:
        if text_col is None:
            raise InputError("With a FILE, --text-col is required.")
        frame = _read_table(existing_file(file))
        if text_col not in frame.columns:
            raise InputError(f"Column {text_col!r} is not in {file}.")
        frame = pd.DataFrame({"text": frame[text_col]}).dropna()
    else:
        with open_store(db) as store:
            frame = _feedback_with_results(store)
    if limit and len(frame) > limit:
        frame = frame.sample(limit, random_state=0)
    texts = frame["text"].astype(str).tolist()
    with static_piece_cache(fast):
        vectors = embed_for_discovery(texts, backend="static" if fast else "transformer")
    has_scores = "sentiment_score" in frame and frame["sentiment_score"].notna().all()
    model = ThemeDiscovery(min_cluster_size=min_cluster_size).fit(
        texts,
        vectors,
        sentiment_score=frame["sentiment_score"].tolist() if has_scores else None,
        themes=frame["themes"].fillna("").tolist() if "themes" in frame else None,
    )
    topics = model.topics_
    document = {"items": len(texts), "unclustered": int((model.labels_ == -1).sum()), "topics": topics}
    if out is not None:
        from heedful.jsonable import to_jsonable

        out.write_text(json.dumps(to_jsonable(document), indent=2, ensure_ascii=False), encoding="utf-8")
    if json_out:
        emit_json(document)
        return
    console.print(f"{len(topics)} theme(s) found in {len(texts)} item(s); {document['unclustered']} unclustered.")
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
    import json

    from heedful.listen.discover import promote as promote_topic

    document = json.loads(existing_file(topics).read_text(encoding="utf-8"))
    table = pd.DataFrame(document.get("topics", []))
    if table.empty or cluster not in set(table["cluster_id"]):
        raise InputError(f"No cluster {cluster} in {topics}.")
    topic = table[table["cluster_id"] == cluster].iloc[0]
    extended = promote_topic(_load_taxonomy(taxonomy), topic, theme_id, department, journey_stage, label)
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
    from dataclasses import asdict

    from heedful.config import load_settings
    from heedful.listen.trends import competitor_mentions, flag_changes, theme_trends

    with open_store(db) as store:
        frame = _feedback_with_results(store)
    frame = frame[frame["sentiment"].notna()]
    if frame.empty:
        raise InputError("No classified feedback yet; run `heedful listen classify --db …` first.")
    listen_conf = load_settings().extra.get("listen", {})
    names = list(competitor or []) or list(listen_conf.get("competitors", []) if isinstance(listen_conf, dict) else [])
    frame = frame.assign(text=frame["redacted_text"].fillna(frame["text"]))
    document = {
        "period": period,
        "trends": theme_trends(frame, period),
        "changes": flag_changes(frame, period, baseline, fdr),
        "competitors": [asdict(m) for m in competitor_mentions(frame, names)],
    }
    if json_out:
        emit_json(document)
        return
    changes = document["changes"]
    flagged = changes[changes["flagged"]] if len(changes) else changes
    console.print(f"{len(flagged)} theme change(s) flagged at FDR {fdr}:")
    for _, row in flagged.iterrows():
        console.print(
            f"  {row['kind']}: {row['theme']} {row['baseline']:.1%} -> {row['latest']:.1%} (q={row['q_value']:.3g})"
        )
    for mention in document["competitors"]:
        console.print(f"  {mention['competitor']}: {mention['mentions']} mention(s)")
