"""Theme share and sentiment over time, emerging and worsening themes, competitor mentions.

Input is a table of classified feedback (created_at, themes, theme_sentiments, sentiment_score, text).
A theme is *emerging* when its share of feedback in the latest period is higher than in the periods
before (one-sided two-proportion z-test) and *worsening* when the share of its mentions that are negative
rose the same way; p-values of all tests are adjusted together with Benjamini-Hochberg, so a flag means
the change is unlikely to be noise at the chosen false-discovery rate, not that it crossed a fixed bar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.listen.segment import split_sentences
from heedful.stats import benjamini_hochberg, two_proportion_greater
from heedful.themes import explode_themes, mention_polarity


def _long(feedback: pd.DataFrame, period: str) -> tuple[pd.DataFrame, pd.Series]:
    """One row per (item, theme) with its period and theme polarity; plus item counts per period."""
    missing = {"created_at", "themes"} - set(feedback.columns)
    if missing:
        raise InputError(f"trends need columns {sorted(missing)}")
    frame = feedback.copy()
    try:
        frame["period"] = pd.to_datetime(frame["created_at"]).dt.to_period(period)
    except ValueError as exc:
        raise InputError(f"Unknown period {period!r}; use D, W, M, Q or Y.") from exc
    items = frame.groupby("period").size().rename("items")
    long = explode_themes(frame).copy()
    # a theme's own polarity, else the item's: the rule the journey scorecard and alerts read a mention by
    long["polarity"] = mention_polarity(
        long["theme"].to_numpy(dtype=object),
        long.get("theme_sentiments", pd.Series("{}", index=long.index)).to_numpy(dtype=object),
        long.get("sentiment", pd.Series("neutral", index=long.index)).to_numpy(dtype=object),
    )
    return long, items


TREND_COLUMNS = ["period", "theme", "mentions", "items", "share", "mean_sentiment", "negative_share", "positive_share"]


def theme_trends(feedback: pd.DataFrame, period: str = "M") -> pd.DataFrame:
    """Per period and theme: mentions, share of feedback, mean sentiment score, negative and positive share
    (the rest of a theme's mentions are neutral: named without an opinion)."""
    long, items = _long(feedback, period)
    if long.empty:
        return pd.DataFrame(columns=TREND_COLUMNS)
    if "sentiment_score" not in long:
        long["sentiment_score"] = np.nan
    grouped = long.groupby(["period", "theme"]).agg(
        mentions=("theme", "size"),
        mean_sentiment=("sentiment_score", "mean"),
        negative_share=("polarity", lambda s: float((s == "negative").mean())),
        positive_share=("polarity", lambda s: float((s == "positive").mean())),
    )
    out = grouped.reset_index().merge(items.reset_index(), on="period")
    out["share"] = out["mentions"] / out["items"]
    out["period"] = out["period"].astype(str)
    return out[TREND_COLUMNS]


def flag_changes(
    feedback: pd.DataFrame, period: str = "M", baseline_periods: int = 3, fdr: float = 0.05
) -> pd.DataFrame:
    """Emerging (share up) and worsening (negative share up) themes in the latest period vs the ones before.

    Columns: theme, kind (emerging | worsening), latest, baseline, z, p_value, q_value, flagged.
    """
    long, items = _long(feedback, period)
    columns = ["theme", "kind", "period", "latest", "baseline", "z", "p_value", "q_value", "flagged"]
    periods = sorted(items.index)
    if len(periods) < 2 or long.empty:
        return pd.DataFrame(columns=columns)
    latest, base = periods[-1], periods[-1 - baseline_periods : -1]
    n1, n0 = float(items[latest]), float(items[base].sum())
    rows = []
    for theme, group in long.groupby("theme"):
        now, before = group[group["period"] == latest], group[group["period"].isin(base)]
        z, p = two_proportion_greater(len(now), n1, len(before), n0)
        rows.append([theme, "emerging", str(latest), len(now) / n1, len(before) / n0 if n0 else np.nan, z, p])
        neg_now, neg_before = (
            float((now["polarity"] == "negative").sum()),
            float((before["polarity"] == "negative").sum()),
        )
        z, p = two_proportion_greater(neg_now, len(now), neg_before, len(before))
        rows.append([
            theme, "worsening", str(latest),
            neg_now / len(now) if len(now) else np.nan,
            neg_before / len(before) if len(before) else np.nan, z, p,
        ])  # fmt: skip
    out = pd.DataFrame(rows, columns=columns[:-2])
    out["q_value"] = benjamini_hochberg(out["p_value"].to_numpy())
    out["flagged"] = out["q_value"] < fdr
    return out.sort_values(["flagged", "q_value"], ascending=[False, True]).reset_index(drop=True)


@dataclass(frozen=True)
class CompetitorMention:
    competitor: str
    mentions: int
    share_negative: float
    mean_sentiment: float
    quotes: list[str]


def competitor_mentions(
    feedback: pd.DataFrame, competitors: Sequence[str], text_column: str = "text", max_quotes: int = 3
) -> list[CompetitorMention]:
    """How often each competitor is named, how customers feel in those items, and the sentences naming it."""
    out = []
    texts = feedback[text_column].fillna("").astype(str)
    for name in competitors:
        pattern = re.compile(rf"\b{re.escape(name)}\b", re.I)
        hits = feedback[texts.str.contains(pattern)]
        sentiment = hits["sentiment"] if "sentiment" in hits else pd.Series(dtype=str)
        scores = hits["sentiment_score"] if "sentiment_score" in hits else pd.Series(dtype=float)
        quotes = [s for t in hits[text_column].head(50) for s in split_sentences(str(t)) if pattern.search(s)]
        out.append(
            CompetitorMention(
                competitor=name,
                mentions=len(hits),
                share_negative=float((sentiment == "negative").mean()) if len(hits) else 0.0,
                mean_sentiment=float(scores.mean()) if len(hits) else 0.0,
                quotes=quotes[:max_quotes],
            )
        )
    return out
