"""Pareto/NBD against the published CDNOW estimates: Fader, Hardie & Lee (2005), Marketing Science 24(2)
(the Pareto/NBD benchmark of the BG/NBD paper) and Fader & Hardie (2005), "A Note on Deriving the
Pareto/NBD Model and Related Expressions": r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669, LL = -9595.0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from heedful.value import ParetoNBD
from heedful.value.paretonbd import _log_a0
from heedful.value.simulate import simulate_pareto_nbd

PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_LL = -9595.0


def test_fit_on_cdnow_reproduces_the_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    model = ParetoNBD().fit(cdnow_summary)
    assert model.converged_, model.convergence_reason_
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, rel=1.5e-3)
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_LL, abs=0.05)


@pytest.mark.parametrize(("alpha", "beta"), [(10.6, 11.7), (11.7, 10.6), (1.0, 20.0)])
@pytest.mark.parametrize(("x", "t_x", "T"), [(0, 0.0, 38.0), (3, 20.0, 38.0), (60, 37.9, 38.0)])
def test_hypergeometric_term_equals_the_integral_it_stands_for(
    alpha: float, beta: float, x: int, t_x: float, T: float
) -> None:
    r, s = 0.55, 0.6
    direct, _ = integrate.quad(
        lambda y: (alpha + y) ** -(r + x) * (beta + y) ** -(s + 1), t_x, T, epsabs=0, epsrel=1e-12
    )
    got = _log_a0(r, alpha, s, beta, np.array([x], float), np.array([t_x]), np.array([T]))[0]
    assert got == pytest.approx(np.log((r + s + x) * direct), abs=1e-8)


def test_likelihood_stays_finite_for_heavy_buyers() -> None:
    """The case that overflows naive implementations (pinned in lifetimes' tests)."""
    model = ParetoNBD.from_params(r=10.465, alpha=7.98565181e-03, s=3.0516, beta=2.820)
    frame = pd.DataFrame({"frequency": [400.0, 500.0, 500.0], "recency": [5.0, 1.0, 4.0], "T": [6.0, 37.0, 37.0]})
    assert np.isfinite(model.log_likelihood(frame))
    assert ((model.p_alive(frame) >= 0) & (model.p_alive(frame) <= 1)).all()


def test_recovers_known_parameters_from_simulated_customers() -> None:
    truth = {"r": 0.6, "alpha": 8.0, "s": 0.8, "beta": 12.0}
    summary = simulate_pareto_nbd(6000, **truth, T=np.linspace(26, 52, 6000), seed=3)
    model = ParetoNBD().fit(summary)
    assert model.converged_
    ci = model.confidence_intervals_
    for name, value in truth.items():
        lower, upper = ci.loc[name, "lower 95%"], ci.loc[name, "upper 95%"]
        widen = (upper / lower) ** (3.29 / 3.92 / 2)  # 99.9% interval
        assert lower / widen < value < upper * widen, (name, value, lower, upper)


def test_expected_purchases_grow_with_the_horizon(cdnow_summary: pd.DataFrame) -> None:
    model = ParetoNBD.from_params(**PUBLISHED)
    short, long = model.predict_purchases(10, cdnow_summary), model.predict_purchases(50, cdnow_summary)
    assert (long >= short).all() and (short >= 0).all()
    assert model.expected_purchases_new_customer(np.array([1.0, 39.0, 78.0])).tolist() == sorted(
        model.expected_purchases_new_customer(np.array([1.0, 39.0, 78.0])).tolist()
    )
