"""Van Westendorp price sensitivity meter against a published table and a hand-worked example."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.surveys.vanwestendorp import VanWestendorp, crossing, price_points

# Published cumulative percentages (Linescale, "Van Westendorp Pricing Analysis Total Sample",
# http://linescale.com/llsgraphics/ReportAuto/Van%20Westendorp%20Table%20and%20graph%20TOTAL.html):
# price, "begins to get cheap", "so cheap you question quality", "begins to get expensive",
# "so expensive you wouldn't use it" — the first rows of the table.
PUBLISHED = pd.DataFrame(
    [
        (0.00, 99, 98, 3, 3),
        (0.99, 96, 93, 3, 4),
        (1.99, 83, 46, 4, 4),
        (2.99, 58, 26, 7, 6),
        (3.99, 30, 19, 22, 8),
        (4.99, 20, 16, 41, 13),
        (5.99, 12, 14, 61, 27),
        (6.99, 8, 12, 72, 40),
        (7.99, 6, 11, 80, 52),
        (8.99, 4, 10, 85, 56),
        (9.99, 4, 9, 90, 64),
    ],
    columns=["price", "cheap", "too_cheap", "expensive", "too_expensive"],
)


def test_price_points_from_the_published_curves() -> None:
    curves = PUBLISHED.assign(**{c: PUBLISHED[c] / 100 for c in ["cheap", "too_cheap", "expensive", "too_expensive"]})
    points = price_points(curves)
    # crossings read off the published table by linear interpolation between its rows:
    # OPP: too cheap 16 -> 14 meets too expensive 13 -> 27 between 4.99 and 5.99: 4.99 + 3/16
    assert points["opp"] == pytest.approx(4.99 + 3 / 16)
    # IPP: cheap 30 -> 20 meets expensive 22 -> 41 between 3.99 and 4.99: 3.99 + 8/29
    assert points["ipp"] == pytest.approx(3.99 + 8 / 29)
    # PMC: too cheap 26 -> 19 meets expensive 7 -> 22 between 2.99 and 3.99: 2.99 + 19/22
    assert points["pmc"] == pytest.approx(2.99 + 19 / 22)
    # PME: cheap 20 -> 12 meets too expensive 13 -> 27 between 4.99 and 5.99: 4.99 + 7/22
    assert points["pme"] == pytest.approx(4.99 + 7 / 22)
    assert points["pmc"] < points["opp"] and points["ipp"] < points["pme"]


def test_fit_on_raw_answers_matches_hand_calculation() -> None:
    answers = pd.DataFrame(
        {
            "too_cheap": [5, 5, 10, 10],
            "cheap": [10, 15, 15, 20],
            "expensive": [20, 20, 25, 30],
            "too_expensive": [25, 30, 30, 40],
        }
    )
    model = VanWestendorp().fit(answers)
    curves = model.curves_.set_index("price")
    assert curves.loc[15, "cheap"] == pytest.approx(0.75)  # three of four say 15 or more is a bargain
    assert curves.loc[25, "expensive"] == pytest.approx(0.75)
    # too cheap falls to 0 after 10 while too expensive is 0 until 25: they meet at 0 from 10 up
    assert model.params_["opp"] == pytest.approx(15.0)
    # cheap 0.25 at 20 -> 0 at 25; expensive 0.5 at 20: crossing exactly at 20? cheap(20)=.25 < .5, so earlier:
    # cheap(15)=.75 > expensive(15)=0 and cheap(20)=.25 < expensive(20)=.5 -> 15 + 5 * .75 / 1.0
    assert model.params_["ipp"] == pytest.approx(18.75)
    low, high = model.acceptable_range_
    assert low <= model.params_["opp"] <= high
    fig = model.figure()
    assert len(fig.data) == 4


def test_inconsistent_respondents_are_left_out() -> None:
    answers = pd.DataFrame(
        {"too_cheap": [5, 30, 6], "cheap": [10, 10, 11], "expensive": [20, 20, 21], "too_expensive": [25, 25, 26]}
    )
    model = VanWestendorp().fit(answers)
    assert model.n_inconsistent_ == 1 and model.n_ == 2


def test_crossing_is_nan_when_curves_never_meet() -> None:
    assert crossing([1.0, 2.0], [0.5, 0.6], [0.1, 0.2]) != crossing([1.0, 2.0], [0.5, 0.6], [0.1, 0.2])
