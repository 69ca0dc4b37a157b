"""AUC, bootstrap interval, Brier and reliability agree with their definitions."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from heedful.retain.metrics import auc, bootstrap_auc_ci, brier, expected_calibration_error, reliability_table


def test_auc_matches_scikit_learn_with_ties_and_weights() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 500)
    scores = np.round(rng.normal(size=500) + y, 1)  # rounding makes many ties
    w = rng.poisson(1.0, 500).astype(float)
    assert auc(scores, y) == np.float64(roc_auc_score(y, scores))
    assert abs(auc(scores, y, w) - roc_auc_score(y, scores, sample_weight=w)) < 1e-12


def test_auc_is_nan_when_one_class_is_missing() -> None:
    assert np.isnan(auc(np.arange(5.0), np.zeros(5)))


def test_bootstrap_interval_brackets_the_auc_and_narrows_with_more_customers() -> None:
    rng = np.random.default_rng(1)
    widths = []
    for n in (300, 3000):
        y = rng.integers(0, 2, n)
        s = rng.normal(size=n) + 0.8 * y
        lo, hi = bootstrap_auc_ci(s, y, 300, seed=0)
        assert lo < auc(s, y) < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2


def test_reliability_and_ece_of_perfectly_calibrated_probabilities_are_small() -> None:
    rng = np.random.default_rng(2)
    p = rng.uniform(size=50000)
    y = (rng.uniform(size=50000) < p).astype(int)
    table = reliability_table(p, y, bins=10)
    assert len(table) == 10 and table["n"].sum() == 50000
    assert (table["mean_predicted"] - table["observed_rate"]).abs().max() < 0.03
    assert expected_calibration_error(p, y) < 0.01
    assert expected_calibration_error(np.clip(p + 0.2, 0, 1), y) > 0.15
    assert brier(p, y) < brier(np.full(50000, 0.5), y)
