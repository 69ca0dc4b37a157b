"""The one themes codec: what is written is read back, in order, and empty means no theme."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.themes import decode_themes, encode_themes, explode_themes, main_theme, mention_polarity, theme_filter_sql


def test_round_trip_keeps_order_and_drops_blanks_and_repeats() -> None:
    text = encode_themes(["delivery", " ", "price", "delivery"])
    assert text == "delivery;price"
    assert decode_themes(text) == ["delivery", "price"]


@pytest.mark.parametrize("empty", [None, float("nan"), "", ";;"])
def test_no_theme_reads_as_an_empty_list(empty: object) -> None:
    assert decode_themes(empty) == []


def test_a_theme_id_with_the_separator_is_refused() -> None:
    with pytest.raises(ValueError, match="may not contain"):
        encode_themes(["a;b"])


def test_columns_decode_to_main_theme_and_one_row_per_theme() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "themes": ["fit;price", None, "price"]})
    assert main_theme(frame["themes"]).tolist() == ["fit", "", "price"]
    exploded = explode_themes(frame)
    assert list(zip(exploded["id"], exploded["theme"], strict=True)) == [(1, "fit"), (1, "price"), (3, "price")]


def test_the_sql_theme_filter_matches_whole_ids_with_literal_wildcards() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE TABLE t (themes TEXT)")
    con.execute("INSERT INTO t VALUES ('fit;price'), ('fit_size'), ('fitXsize'), (NULL)")
    for theme, expected in (("fit", ["fit;price"]), ("fit_size", ["fit_size"]), ("price", ["fit;price"])):
        condition, param = theme_filter_sql("themes", theme)
        assert [r[0] for r in con.execute(f"SELECT themes FROM t WHERE {condition}", [param]).fetchall()] == expected


def test_a_mention_takes_its_themes_own_polarity_else_the_items_else_neutral() -> None:
    polarity = mention_polarity(
        ["fit_size", "look_style", "fit_size", "billing", "look_style", "staff"],
        [
            '{"fit_size": "negative", "look_style": "positive"}',
            '{"fit_size": "negative", "look_style": "positive"}',
            "{}",  # classified before themes had their own polarity
            None,
            "not json",
            '{"staff_extra": "negative"}',  # another theme whose id starts the same
        ],
        ["mixed", "mixed", "positive", "negative", "neutral", None],
    )
    assert polarity.tolist() == ["negative", "positive", "positive", "negative", "neutral", "neutral"]
    assert mention_polarity([], [], []).tolist() == []
