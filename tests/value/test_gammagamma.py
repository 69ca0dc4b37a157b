"""Gamma-Gamma spend model against Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves for
Customer Base Analysis", Journal of Marketing Research 42(4), and Fader & Hardie (2013), "The Gamma-Gamma
Model of Monetary Value": on the 946 CDNOW sample customers with repeat purchases, p = 6.25, q = 3.74,
gamma (our v) = 15.44."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.value import GammaGamma

PUBLISHED = {"p": 6.25, "q": 3.74, "v": 15.44}


def test_fit_on_cdnow_reproduces_the_published_estimates(cdnow_spend: pd.DataFrame) -> None:
    model = GammaGamma().fit(cdnow_spend)
    assert model.converged_, model.convergence_reason_
    assert model.n_customers_ == 946
    for name, value in PUBLISHED.items():
        # published to 2 decimals; zbar in the file is rounded to cents, which moves v by 0.004
        assert model.params_[name] == pytest.approx(value, abs=0.01)


def test_analytic_gradient_agrees_with_finite_differences(cdnow_spend: pd.DataFrame) -> None:
    model = GammaGamma()
    data = model._prepare(cdnow_spend)
    theta = np.array([4.0, 3.0, 20.0])
    np.testing.assert_allclose(model._total_gradient(theta, data), model._fd_gradient(theta, data), rtol=1e-5)


def test_expected_spend_shrinks_towards_the_population_mean() -> None:
    model = GammaGamma.from_params(**PUBLISHED)
    frame = pd.DataFrame({"frequency": [1.0, 20.0, 0.0], "monetary_value": [100.0, 100.0, 0.0]})
    spend = model.expected_spend(frame)
    mean = model.population_mean_spend
    assert mean < spend.iloc[0] < spend.iloc[1] < 100  # more purchases -> more trust in the own mean
    assert spend.iloc[2] == pytest.approx(mean)


def test_identical_spend_for_everyone_is_reported_as_not_converged() -> None:
    frame = pd.DataFrame({"frequency": [1.0, 2.0, 3.0] * 10, "monetary_value": [20.0] * 30})
    model = GammaGamma().fit(frame)
    assert model.converged_ is False
    assert "spend" in model.convergence_reason_


def test_recovers_known_parameters_from_simulated_spend() -> None:
    rng = np.random.default_rng(11)
    p, q, v = 4.0, 3.5, 20.0
    n = 5000
    x = rng.integers(1, 12, n)
    nu = rng.gamma(q, 1 / v, n)  # per-customer rate of the Gamma spend distribution
    means = np.array([rng.gamma(p, 1 / nu_i, k).mean() for nu_i, k in zip(nu, x, strict=True)])
    model = GammaGamma().fit(pd.DataFrame({"frequency": x.astype(float), "monetary_value": means}))
    assert model.converged_
    ci = model.confidence_intervals_
    for name, value in {"p": p, "q": q, "v": v}.items():
        lower, upper = ci.loc[name, "lower 95%"], ci.loc[name, "upper 95%"]
        widen = (upper / lower) ** (3.29 / 3.92 / 2)  # 99.9% interval
        assert lower / widen < value < upper * widen, (name, value, lower, upper)


def test_block_wise_likelihood_equals_the_per_customer_sum(cdnow_spend: pd.DataFrame) -> None:
    model = GammaGamma()
    data = model._prepare(cdnow_spend)
    data.block_rows = 100
    assert len(data.blocks) > 4
    theta = np.array([4.0, 3.0, 20.0])
    ll, grad = model._value_and_gradient(theta, data)
    assert ll == pytest.approx(float(np.dot(data.weight, model._loglik_rows(theta, data))), rel=1e-12)
    np.testing.assert_allclose(grad, model._gradient_rows(theta, data) @ data.weight, rtol=1e-10)


def test_a_newton_step_finishes_a_fit_the_optimizer_left_short(cdnow_spend: pd.DataFrame) -> None:
    """L-BFGS-B can stop on its relative-reduction test before the gradient vanishes (q and v are
    strongly correlated); one Newton step from such a point lands on the optimum."""
    from scipy import optimize

    model = GammaGamma().fit(cdnow_spend)
    data = model._prepare(cdnow_spend)
    optimum = np.log(model.params_.to_numpy())
    short = optimum + np.array([2e-4, -3e-4, 4e-4])
    res = optimize.OptimizeResult(x=short, fun=model._mean_negloglik(short, data), nit=5, message="stopped")
    polished = model._newton_polish(res, data)
    assert polished is not res
    np.testing.assert_allclose(polished.x, optimum, atol=1e-5)
    gradient = model._total_gradient(np.exp(polished.x), data) * np.exp(polished.x)
    assert np.max(np.abs(gradient)) < 1e-3


def test_a_newton_step_is_not_taken_at_the_edge_of_the_parameter_space(cdnow_spend: pd.DataFrame) -> None:
    from scipy import optimize

    model = GammaGamma()
    data = model._prepare(cdnow_spend)
    edge = np.array([11.5, 1.0, 2.0])
    res = optimize.OptimizeResult(x=edge, fun=model._mean_negloglik(edge, data), nit=5, message="stopped")
    assert model._newton_polish(res, data) is res


def simulated_spend(n: int, p: float, q: float, v: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 12, n)
    nu = rng.gamma(q, 1 / v, n)
    means = rng.gamma(p * x, 1 / (nu * x))  # the mean of x Gamma(p, nu) spends
    return pd.DataFrame({"frequency": x.astype(float), "monetary_value": means})


def test_a_fit_from_the_moment_start_equals_one_from_the_usual_start() -> None:
    from heedful.value.gammagamma import _moment_start

    frame = simulated_spend(20_000, p=4.0, q=3.5, v=20.0, seed=8)
    model = GammaGamma()
    data = model._prepare(frame)
    start = _moment_start(data)
    assert start is not None
    fitted = model.fit(frame)
    assert fitted.n_starts_tried_ == 1 and fitted.converged_
    p, q, v = start
    assert p * v / (q - 1) == pytest.approx(frame["monetary_value"].mean())  # the start has the sample's mean spend
    from_old_start = GammaGamma()
    from_old_start._starts = lambda data: [(2.0, 3.0, float(np.mean(data["m"])))]  # type: ignore[method-assign]
    np.testing.assert_allclose(from_old_start.fit(frame).params_, fitted.params_, rtol=1e-4)


def test_no_moment_start_where_the_moments_do_not_give_one(cdnow_spend: pd.DataFrame) -> None:
    """CDNOW's spends are heavy-tailed: the least-squares slope is negative, the usual start is used."""
    from heedful.value.gammagamma import _moment_start

    assert _moment_start(GammaGamma()._prepare(cdnow_spend)) is None
    same = pd.DataFrame({"frequency": [2.0, 2.0, 2.0], "monetary_value": [10.0, 20.0, 30.0]})
    assert _moment_start(GammaGamma()._prepare(same)) is None


def test_closed_form_hessian_equals_the_differenced_gradient(cdnow_spend: pd.DataFrame) -> None:
    model = GammaGamma()
    data = model._prepare(cdnow_spend)
    data.block_rows = 100
    for theta in (np.array([4.0, 3.0, 20.0]), np.array([6.25, 3.74, 15.44])):
        log_theta = np.log(theta)
        closed = model._log_hessian(log_theta, data)
        model._hessian = lambda params, d: None  # type: ignore[method-assign]
        differenced = model._log_hessian(log_theta, data)
        del model._hessian
        np.testing.assert_allclose(closed, differenced, rtol=1e-6)
