from __future__ import annotations

import json

import numpy as np
import pandas as pd

from heedful.listen.trends import benjamini_hochberg, competitor_mentions, flag_changes, theme_trends


def _synthetic(rates_by_month: list[dict[str, float]], n: int = 300, seed: int = 0) -> pd.DataFrame:
    """n items a month; each theme appears with the month's rate, negative half of the time."""
    rng = np.random.default_rng(seed)
    rows = []
    for month, rates in enumerate(rates_by_month, start=1):
        for i in range(n):
            themes = [t for t, r in rates.items() if rng.random() < r]
            sentiments = {t: "negative" if rng.random() < 0.5 else "positive" for t in themes}
            rows.append(
                {
                    "created_at": pd.Timestamp(2024, month, 1 + i % 28),
                    "themes": ";".join(themes),
                    "theme_sentiments": json.dumps(sentiments),
                    "sentiment_score": rng.uniform(-1, 1),
                    "sentiment": "negative",
                    "text": "text",
                }
            )
    return pd.DataFrame(rows)


STABLE = {"delivery_speed": 0.2, "billing": 0.1, "fit_size": 0.3}


def test_planted_emerging_theme_is_flagged_and_stable_ones_are_not() -> None:
    months = [STABLE | {"website_app": 0.04}] * 5 + [STABLE | {"website_app": 0.15}]
    flags = flag_changes(_synthetic(months), period="M")
    flagged = flags[flags["flagged"]]
    assert list(zip(flagged["theme"], flagged["kind"], strict=True)) == [("website_app", "emerging")]
    row = flagged.iloc[0]
    assert row["latest"] > row["baseline"] and row["q_value"] < 0.05


def test_stable_data_raises_no_flag() -> None:
    for seed in range(3):
        flags = flag_changes(_synthetic([STABLE] * 6, seed=seed), period="M")
        assert not flags["flagged"].any()


def test_theme_share_per_period() -> None:
    trends = theme_trends(_synthetic([STABLE] * 2, n=1000), period="M")
    fit = trends[trends["theme"] == "fit_size"]
    assert len(fit) == 2
    assert np.allclose(fit["share"], 0.3, atol=0.05)
    assert np.allclose(fit["negative_share"], 0.5, atol=0.08)


def test_benjamini_hochberg_matches_the_textbook_example() -> None:
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
    assert np.allclose(q, [0.02, 0.04, 0.04, 0.02])


def test_competitor_mentions_quote_the_sentence_naming_them() -> None:
    feedback = pd.DataFrame(
        {
            "text": ["Shipping was slow. Zalando is much faster.", "Great dress!", "ASOS was cheaper but worse."],
            "sentiment": ["negative", "positive", "mixed"],
            "sentiment_score": [-0.5, 0.9, 0.0],
        }
    )
    mentions = {m.competitor: m for m in competitor_mentions(feedback, ["Zalando", "asos", "Shein"])}
    assert mentions["Zalando"].mentions == 1 and mentions["Zalando"].quotes == ["Zalando is much faster."]
    assert mentions["Zalando"].share_negative == 1.0
    assert mentions["asos"].mentions == 1
    assert mentions["Shein"].mentions == 0


def test_a_mention_without_its_own_polarity_takes_the_items() -> None:
    # the rule the journey scorecard and alerts read a mention by, so the Listening page agrees with them
    frame = pd.DataFrame(
        {
            "created_at": [pd.Timestamp(2024, 1, 5)] * 3,
            "themes": ["billing", "billing", "billing;fit_size"],
            "theme_sentiments": [json.dumps({"billing": "positive"}), "", json.dumps({"fit_size": "negative"})],
            "sentiment": ["negative", "negative", "mixed"],
            "sentiment_score": [0.0, -0.5, 0.0],
        }
    )
    trends = theme_trends(frame, period="M").set_index("theme")
    assert trends.loc["billing", "negative_share"] == 1 / 3  # its own "positive", the item's "negative", "mixed"
    assert trends.loc["billing", "positive_share"] == 1 / 3
    assert trends.loc["fit_size", "negative_share"] == 1.0
