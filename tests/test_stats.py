"""heedful.stats: the shared statistics every page and alert uses."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from heedful.stats import holm


@pytest.mark.parametrize("seed", range(20))
def test_holm_gives_statsmodels_values(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.random(int(rng.integers(1, 40))) ** 3
    p[: len(p) // 3] = p[0]  # ties
    np.testing.assert_allclose(holm(p), multipletests(p, method="holm")[1], rtol=0, atol=1e-15)


def test_holm_runs_no_garbage_collection(monkeypatch: pytest.MonkeyPatch) -> None:
    """statsmodels' Holm runs gc.collect() on every call: seconds per alert check in a server's heap."""

    def refuse() -> int:
        raise AssertionError("gc.collect called")

    monkeypatch.setattr(gc, "collect", refuse)
    assert holm([0.01, 0.04, 0.03, 0.2]).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([]).size == 0


def test_a_change_in_a_share_is_tested_exactly_when_the_answers_are_few() -> None:
    from scipy.stats import fisher_exact
    from statsmodels.stats.proportion import proportions_ztest

    from heedful.stats import two_proportion_greater, two_proportion_p

    # 2 of 2 positive, then 0 of 2: the z-test says p = 0.046, as if it were news; exactly it is 1 in 3
    assert two_proportion_p(0, 2, 2, 2) == pytest.approx(1 / 3)
    assert two_proportion_p(0, 2, 2, 2, "smaller") == pytest.approx(1 / 6)
    assert two_proportion_p(0, 2, 2, 2, "larger") == 1.0
    assert two_proportion_p(2, 8, 6, 8) == pytest.approx(fisher_exact([[2, 6], [6, 2]]).pvalue)  # expected 4 < 5
    assert two_proportion_greater(2, 2, 0, 2)[1] == pytest.approx(1 / 6)
    # enough answers: the pooled z-test, as before
    import numpy as np

    z_p = proportions_ztest(np.array([30, 45]), np.array([100, 100]))[1]
    assert two_proportion_p(30, 100, 45, 100) == pytest.approx(z_p)
    assert two_proportion_p(0, 0, 3, 5) == two_proportion_p(5, 5, 5, 5) == 1.0
