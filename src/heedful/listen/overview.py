"""What customers are telling us, theme by theme: how often, how they feel, who owns it, what changed.

Input is classified feedback (created_at, themes, theme_sentiments, sentiment_score; see
`heedful.listen.trends`); output is one row per theme, most mentioned first, with the share of
negative mentions and its 95% Wilson interval (so a small theme's 100% negative reads as the
uncertain figure it is) and the emerging / worsening flags of `flag_changes` (Benjamini-Hochberg).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from heedful.listen.taxonomy import Taxonomy
from heedful.listen.trends import flag_changes, theme_trends
from heedful.stats import wilson_interval
from heedful.themes import main_theme

OVERVIEW_COLUMNS = [
    "theme",
    "label",
    "department",
    "journey_stage",
    "mentions",
    "share",
    "negative_mentions",
    "positive_mentions",
    "negative_share",
    "negative_low",
    "negative_high",
    "latest_period",
    "latest_share",
    "latest_negative_share",
    "emerging",
    "emerging_q",
    "worsening",
    "worsening_q",
]


def theme_overview(
    feedback: pd.DataFrame,
    taxonomy: Taxonomy | None = None,
    *,
    period: str = "M",
    baseline_periods: int = 3,
    fdr: float = 0.05,
    trends: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per theme mentioned in `feedback` (columns: OVERVIEW_COLUMNS), most mentioned first.

    `share` is mentions over all feedback items; `latest_*` are the last period's figures; label,
    department and stage come from `taxonomy` when it knows the theme (else the id, and blanks).
    `trends`: `theme_trends(feedback, period)` where the caller already has it."""
    trends = theme_trends(feedback, period) if trends is None else trends
    if trends.empty:
        return pd.DataFrame(columns=OVERVIEW_COLUMNS)
    items_per_period = trends.drop_duplicates("period").set_index("period")["items"]
    total_items = float(items_per_period.sum())
    trends = trends.assign(
        negative_mentions=trends["negative_share"] * trends["mentions"],
        positive_mentions=trends["positive_share"] * trends["mentions"],
    )
    out = trends.groupby("theme").agg(
        mentions=("mentions", "sum"),
        negative_mentions=("negative_mentions", "sum"),
        positive_mentions=("positive_mentions", "sum"),
    )
    for kind in ("negative", "positive"):
        out[f"{kind}_mentions"] = out[f"{kind}_mentions"].round().astype(int)
    out["share"] = out["mentions"] / total_items
    out["negative_share"] = out["negative_mentions"] / out["mentions"]
    low, high = wilson_interval(out["negative_mentions"].to_numpy(), out["mentions"].to_numpy())
    out["negative_low"], out["negative_high"] = low, high

    latest = str(max(items_per_period.index))
    last = trends[trends["period"] == latest].set_index("theme")
    out["latest_period"] = latest
    out["latest_share"] = last["share"].reindex(out.index).fillna(0.0)
    out["latest_negative_share"] = last["negative_share"].reindex(out.index)

    changes = flag_changes(feedback, period, baseline_periods, fdr)
    for kind in ("emerging", "worsening"):
        rows = changes[changes["kind"] == kind].set_index("theme") if len(changes) else pd.DataFrame()
        flagged = rows["flagged"].reindex(out.index) if len(rows) else pd.Series(np.nan, index=out.index)
        out[kind] = flagged.eq(True).to_numpy()  # themes without a test (NaN) are not flagged
        out[f"{kind}_q"] = rows["q_value"].reindex(out.index) if len(rows) else np.nan

    known = {t.id: t for t in taxonomy.themes} if taxonomy is not None else {}
    seen = _owners_seen(feedback)
    out["label"] = [known[t].label if t in known else t for t in out.index]
    out["department"] = [known[t].department if t in known else seen.get(t, (None, None))[0] for t in out.index]
    out["journey_stage"] = [known[t].journey_stage if t in known else seen.get(t, (None, None))[1] for t in out.index]
    out = out.reset_index().sort_values(["mentions", "theme"], ascending=[False, True])
    return out[OVERVIEW_COLUMNS].reset_index(drop=True)


def _owners_seen(feedback: pd.DataFrame) -> dict[str, tuple[str | None, str | None]]:
    """For themes the taxonomy does not know: the department and stage listening wrote most often on
    items whose main (first) theme it is."""
    if not {"department", "journey_stage", "themes"} <= set(feedback.columns):
        return {}
    main = main_theme(feedback["themes"])
    frame = pd.DataFrame({"theme": main, "department": feedback["department"], "stage": feedback["journey_stage"]})
    frame = frame[frame["theme"] != ""].dropna(subset=["department"])
    if frame.empty:
        return {}
    top = frame.value_counts(["theme", "department", "stage"], dropna=False).reset_index().drop_duplicates("theme")
    return {str(r.theme): (str(r.department), None if pd.isna(r.stage) else str(r.stage)) for r in top.itertuples()}
