"""The per-theme overview behind the Listening page and /api/v1/listen/themes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from heedful.listen.overview import OVERVIEW_COLUMNS, theme_overview
from heedful.listen.taxonomy import default_taxonomy


def _feedback(negative_rate_by_month: list[float], n: int = 400, seed: int = 1) -> pd.DataFrame:
    """n items a month: a quarter mention delivery_speed (negative at the month's rate), a fifth billing
    (negative 30%), and a few a theme no taxonomy lists, owned by 'kitchen' per listening."""
    rng = np.random.default_rng(seed)
    rows = []
    for month, neg_rate in enumerate(negative_rate_by_month, start=1):
        for i in range(n):
            themes, polarity = [], {}
            if rng.random() < 0.25:
                themes.append("delivery_speed")
                polarity["delivery_speed"] = "negative" if rng.random() < neg_rate else "positive"
            if rng.random() < 0.2:
                themes.append("billing")
                polarity["billing"] = "negative" if rng.random() < 0.3 else "positive"
            if i % 40 == 0:
                themes = ["cold_soup", *themes]
                polarity["cold_soup"] = "negative"
            rows.append(
                {
                    "created_at": pd.Timestamp(2024, month, 1 + i % 28),
                    "themes": ";".join(themes),
                    "theme_sentiments": json.dumps(polarity),
                    "sentiment_score": 0.0,
                    "department": "kitchen" if themes[:1] == ["cold_soup"] else "logistics",
                    "journey_stage": "use" if themes[:1] == ["cold_soup"] else "delivery",
                }
            )
    return pd.DataFrame(rows)


def test_counts_shares_and_owners_per_theme() -> None:
    feedback = _feedback([0.2] * 4)
    out = theme_overview(feedback, default_taxonomy())
    assert list(out.columns) == OVERVIEW_COLUMNS
    assert list(out["theme"][:2]) == ["delivery_speed", "billing"]  # most mentioned first
    delivery = out.set_index("theme").loc["delivery_speed"]
    truth = feedback["themes"].str.contains("delivery_speed")
    assert delivery["mentions"] == truth.sum()
    assert delivery["share"] == truth.mean()
    negatives = sum(json.loads(s).get("delivery_speed") == "negative" for s in feedback["theme_sentiments"])
    assert delivery["negative_mentions"] == negatives
    positives = sum(json.loads(s).get("delivery_speed") == "positive" for s in feedback["theme_sentiments"])
    assert delivery["positive_mentions"] == positives and positives + negatives == delivery["mentions"]
    assert delivery["negative_low"] < delivery["negative_share"] < delivery["negative_high"]
    # a listed theme's owner is the taxonomy's, whatever an older version wrote on its items ('logistics')
    assert (delivery["label"], delivery["department"], delivery["journey_stage"]) == (
        "Delivery speed",
        "delivery",
        "delivery",
    )
    # a theme the taxonomy does not list: its id as label, the owner listening wrote on its items
    soup = out.set_index("theme").loc["cold_soup"]
    assert (soup["label"], soup["department"], soup["journey_stage"]) == ("cold_soup", "kitchen", "use")


def test_small_themes_get_wide_intervals() -> None:
    out = theme_overview(_feedback([0.2] * 4), default_taxonomy()).set_index("theme")
    width = out["negative_high"] - out["negative_low"]
    assert width["cold_soup"] > width["delivery_speed"]  # 40 mentions vs about 400


def test_a_planted_worsening_theme_is_flagged_and_steady_ones_are_not() -> None:
    out = theme_overview(_feedback([0.2, 0.2, 0.2, 0.6]), default_taxonomy()).set_index("theme")
    assert out.loc["delivery_speed", "worsening"]
    assert out.loc["delivery_speed", "worsening_q"] < 0.05
    assert out.loc["delivery_speed", "latest_negative_share"] > 0.45
    assert not out.loc["billing", "worsening"] and not out.loc["billing", "emerging"]
    assert out["latest_period"].iloc[0] == "2024-04"


def test_no_classified_feedback_gives_an_empty_table_with_the_columns() -> None:
    empty = pd.DataFrame({"created_at": pd.to_datetime([]), "themes": [], "theme_sentiments": []})
    out = theme_overview(empty)
    assert out.empty and list(out.columns) == OVERVIEW_COLUMNS
