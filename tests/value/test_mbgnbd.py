"""MBG/NBD (Batislam, Denizel & Filiztekin 2007, IJRM 24(3)). No estimate on the CDNOW sample is printed in
that paper; we compare with the BTYDplus R package (Platzer) estimates r = 0.525, alpha = 6.183, a = 0.891,
b = 1.614, which lifetimes also pins in its tests (test_params_out_is_close_to_BTYDplus)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.value import ModifiedBetaGeo

BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def test_fit_on_cdnow_matches_btydplus(cdnow_summary: pd.DataFrame) -> None:
    model = ModifiedBetaGeo().fit(cdnow_summary)
    assert model.converged_, model.convergence_reason_
    for name, value in BTYDPLUS.items():
        assert model.params_[name] == pytest.approx(value, abs=0.001)


def test_analytic_gradient_agrees_with_finite_differences(cdnow_summary: pd.DataFrame) -> None:
    model = ModifiedBetaGeo()
    data = model._prepare(cdnow_summary)
    theta = np.array([0.4, 5.0, 0.7, 1.5])
    np.testing.assert_allclose(model._total_gradient(theta, data), model._fd_gradient(theta, data), rtol=1e-5)


def test_customers_without_repeats_may_have_dropped_out(cdnow_summary: pd.DataFrame) -> None:
    model = ModifiedBetaGeo().fit(cdnow_summary)
    p = model.p_alive(pd.DataFrame({"frequency": [0.0], "recency": [0.0], "T": [38.0]}))
    assert 0 < p.iloc[0] < 1
    # the expected-purchases curve is close to Hardie's BG/NBD sheet (the models nearly agree on CDNOW)
    np.testing.assert_allclose(
        model.expected_purchases_new_customer(np.array([1.0, 31.8571, 78.0])), [0.0532, 1.0405, 1.8576], rtol=0.05
    )
