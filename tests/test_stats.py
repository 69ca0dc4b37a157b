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
