"""NPS, CSAT and CES: values on known answers and interval coverage by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from heedful.errors import InputError, NotFittedError
from heedful.stats import nps_interval
from heedful.surveys.nps import (
    CustomerEffortScore,
    CustomerSatisfaction,
    NetPromoterScore,
    nps_by_segment,
)


def test_nps_counts_promoters_minus_detractors() -> None:
    scores = [10, 9, 9, 8, 7, 6, 0, 10, 5, 9]  # 5 promoters, 2 passives, 3 detractors
    model = NetPromoterScore().fit(scores)
    assert model.params_["nps"] == pytest.approx(20.0)
    assert model.counts_ == {"promoters": 5, "passives": 2, "detractors": 3}
    row = model.summary.loc["nps"]
    assert row["low"] < 20 < row["high"]


def test_nps_rejects_answers_off_the_scale() -> None:
    with pytest.raises(InputError, match="between 0 and 10"):
        NetPromoterScore().fit([3, 11])


def test_summary_before_fit_says_to_fit() -> None:
    with pytest.raises(NotFittedError):
        _ = NetPromoterScore().summary


@pytest.mark.parametrize(("n", "probs"), [(40, (0.3, 0.3, 0.4)), (150, (0.5, 0.3, 0.2)), (400, (0.15, 0.25, 0.6))])
def test_nps_interval_covers_the_true_score_about_95_percent_of_the_time(
    n: int, probs: tuple[float, float, float]
) -> None:
    rng = np.random.default_rng(7)
    p_det, _, p_pro = probs
    true_nps = 100 * (p_pro - p_det)
    samples = rng.multinomial(n, probs, size=4000)
    covered = 0
    for det, _, pro in samples:
        low, high = nps_interval(pro, n - pro - det, det)
        covered += low <= true_nps <= high
    coverage = covered / len(samples)
    assert 0.93 <= coverage <= 0.975, coverage


def test_csat_top_two_box_and_mean() -> None:
    model = CustomerSatisfaction().fit([5, 4, 4, 3, 1, 5, 2, 4])
    assert model.params_["top_box"] == pytest.approx(5 / 8)
    assert model.params_["mean"] == pytest.approx(28 / 8)
    assert model.to_dict()["distribution"] == {"1": 1, "2": 1, "3": 1, "4": 3, "5": 2}


def test_csat_share_interval_covers_about_95_percent() -> None:
    rng = np.random.default_rng(3)
    p = np.array([0.05, 0.1, 0.2, 0.4, 0.25])
    true_top = 0.65
    hits = 0
    for _ in range(1500):
        answers = rng.choice(np.arange(1, 6), size=60, p=p)
        s = CustomerSatisfaction().fit(answers).summary.loc["top_box"]
        hits += s["low"] <= true_top <= s["high"]
    assert 0.93 <= hits / 1500 <= 0.975


def test_ces_uses_a_seven_point_scale() -> None:
    model = CustomerEffortScore().fit([7, 6, 5, 2, 1])
    assert model.params_["top_box"] == pytest.approx(3 / 5)
    with pytest.raises(InputError):
        CustomerEffortScore().fit([8])


def test_nps_by_segment_gives_one_row_per_segment() -> None:
    import pandas as pd

    table = nps_by_segment(pd.Series([10, 10, 0, 0, 9]), pd.Series(["a", "a", "b", "b", "a"]))
    assert table.set_index("segment")["nps"].to_dict() == {"a": 100.0, "b": -100.0}
