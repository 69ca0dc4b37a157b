"""Joined two-opinion texts: what training learns from and `listen evaluate` scores as its larger multi-aspect proxy."""

from __future__ import annotations

import random

from heedful.listen.evaluation import CONNECTORS, join_two_opinions, main_theme_labelled, main_theme_scores


def _record(text: str, **categories: str) -> dict[str, object]:
    return {"text": text, "categories": categories}


def test_joins_two_sentences_about_different_themes_with_different_polarities() -> None:
    records = [
        _record("The pasta was great.", food="positive"),
        _record("I've waited an hour for the check.", service="negative"),
        _record("Nice pizza!", food="positive"),
        _record("Both were fine.", food="positive", service="positive"),  # two categories: never joined
        _record("Mixed feelings about the price.", price="conflict"),  # conflict: never joined
    ]
    joined = join_two_opinions(records, 50, random.Random(3))
    assert len(joined) == 50
    for j in joined:
        categories = j["categories"]
        assert set(categories) == {"food", "service"} and set(categories.values()) == {"positive", "negative"}
        text = str(j["text"])
        assert any(c in text for c in CONNECTORS)
        assert "Both were fine" not in text and "price" not in text
        first, joint, second = next(text.partition(c) for c in CONNECTORS if c in text)
        assert first in {"The pasta was great", "I've waited an hour for the check", "Nice pizza"}  # end mark dropped
        # the second sentence is lower-cased after a connector, but not after a full stop, nor "I" and its contractions
        if joint == ". " or second.startswith("I've"):
            assert second in {"The pasta was great.", "I've waited an hour for the check.", "Nice pizza!"}
        else:
            assert second in {"the pasta was great.", "nice pizza!"}


def test_is_empty_when_no_two_records_differ_in_theme_and_polarity() -> None:
    same_polarity = [_record("The pasta was great.", food="positive"), _record("Kind staff.", service="positive")]
    same_theme = [_record("The pasta was great.", food="positive"), _record("Cold soup.", food="negative")]
    assert join_two_opinions(same_polarity, 10, random.Random(0)) == []
    assert join_two_opinions(same_theme, 10, random.Random(0)) == []
    assert join_two_opinions([], 10, random.Random(0)) == []


def test_main_theme_is_scored_where_the_verdict_could_pick_the_wrong_theme() -> None:
    truth = [
        {"food": "positive", "service": "negative"},  # complaint: main must be service
        {"food": "positive", "service": "negative"},  # complaint routed to the food it praised: wrong
        {"food": "negative"},  # one theme, criticised: nothing to get wrong, not counted
        {"food": "positive", "price": "neutral"},  # praise: main must be food
        {"food": "positive", "service": "negative"},  # labelled negative, no theme found: wrong
        {"food": "negative", "price": "neutral"},  # labelled neutral: not counted
    ]
    labels = ["mixed", "negative", "negative", "positive", "negative", "neutral"]
    themes = ["service;food", "food;service", "food", "food;price", "", "food"]
    assert main_theme_scores(truth, labels, themes) == {
        "complaints": {"items": 3, "main_theme_right": round(1 / 3, 4)},
        "praise": {"items": 1, "main_theme_right": 1.0},
    }
    assert main_theme_scores([], [], []) == {
        "complaints": {"items": 0, "main_theme_right": None},
        "praise": {"items": 0, "main_theme_right": None},
    }


def test_main_theme_labelled_counts_the_first_theme_and_its_department() -> None:
    owner = {"website_app": "sales", "billing": "sales", "fit_size": "product", "delivery_speed": "delivery"}
    truth = [{"website_app"}, {"billing"}, {"fit_size"}, {"delivery_speed"}]
    themes = ["website_app;billing", "website_app", "delivery_speed;fit_size", ""]
    # first right; second a wrong theme of the right department; third wrong; fourth found nothing
    assert main_theme_labelled(truth, themes, owner) == {"main_theme_labelled": 0.25, "department_right": 0.5}
