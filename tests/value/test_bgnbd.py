"""BG/NBD against Fader, Hardie & Lee (2005), "'Counting Your Customers' the Easy Way: An Alternative to
the Pareto/NBD Model", Marketing Science 24(2):275-284, on the CDNOW sample (2,357 customers, 39 weeks),
and against simulated customers with known parameters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.errors import NotFittedError
from heedful.value import BetaGeo
from heedful.value.simulate import simulate_bgnbd

# FHL 2005, section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_LL = -9582.4


def test_fit_on_cdnow_reproduces_the_published_estimates(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeo().fit(cdnow_summary)
    assert model.converged_, model.convergence_reason_
    for name, value in PUBLISHED.items():
        assert model.params_[name] == pytest.approx(value, abs=0.0006)
    assert model.log_likelihood_ == pytest.approx(PUBLISHED_LL, abs=0.05)
    summary = model.summary
    assert list(summary.columns) == ["coef", "se(coef)", "lower 95%", "upper 95%"]
    assert (summary["lower 95%"] < summary["coef"]).all() and (summary["coef"] < summary["upper 95%"]).all()
    assert (summary["se(coef)"] > 0).all()


def test_predictions_match_hardies_spreadsheet(cdnow_summary: pd.DataFrame) -> None:
    """Values from the Excel sheet accompanying FHL 2005 (also pinned in lifetimes' tests)."""
    model = BetaGeo().fit(cdnow_summary)  # the sheet uses unrounded estimates
    times = np.array([0.1429, 1.0, 3.0, 31.8571, 32.0, 78.0])
    expected = np.array([0.0078, 0.0532, 0.1506, 1.0405, 1.0437, 1.8576])
    np.testing.assert_allclose(model.expected_purchases_new_customer(times), expected, atol=5e-4)
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86]})
    assert model.predict_purchases(39, one).iloc[0] == pytest.approx(1.226, abs=0.001)


def test_analytic_gradient_agrees_with_finite_differences(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeo()
    data = model._prepare(cdnow_summary)
    theta = np.array([0.3, 3.0, 0.6, 2.0])
    np.testing.assert_allclose(model._total_gradient(theta, data), model._fd_gradient(theta, data), rtol=1e-5)


def test_customers_without_repeat_purchases_are_alive() -> None:
    model = BetaGeo.from_params(**PUBLISHED)
    frame = pd.DataFrame({"frequency": [0, 0, 5], "recency": [0, 0, 5.0], "T": [10, 30, 40.0]})
    p = model.p_alive(frame)
    assert p.iloc[0] == 1.0 and p.iloc[1] == 1.0
    assert 0 < p.iloc[2] < 1


def test_recovers_known_parameters_from_simulated_customers() -> None:
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    summary = simulate_bgnbd(8000, **truth, T=np.linspace(20, 52, 8000), seed=7)
    model = BetaGeo().fit(summary)
    assert model.converged_
    ci = model.confidence_intervals_
    for name, value in truth.items():
        # 99.9% interval from the 95% one, so the test fails only on real bias
        lower, upper = ci.loc[name, "lower 95%"], ci.loc[name, "upper 95%"]
        widen = (upper / lower) ** (3.29 / 3.92 / 2)
        assert lower / widen < value < upper * widen, (name, value, lower, upper)


def test_all_customers_without_repeats_is_reported_as_not_converged() -> None:
    summary = pd.DataFrame({"frequency": [0.0] * 50, "recency": [0.0] * 50, "T": np.linspace(5, 40, 50)})
    model = BetaGeo().fit(summary)
    assert model.converged_ is False
    assert "repeat purchase" in model.convergence_reason_


def test_predicting_before_fitting_says_what_to_do() -> None:
    with pytest.raises(NotFittedError, match="fit"):
        BetaGeo().p_alive(pd.DataFrame({"frequency": [1], "recency": [1], "T": [2]}))


def test_missing_values_in_the_summary_are_refused_not_dropped() -> None:
    from heedful.errors import InputError

    summary = pd.DataFrame({"frequency": [1.0, np.nan], "recency": [1.0, 0.0], "T": [5.0, 5.0]})
    with pytest.raises(InputError, match="missing"):
        BetaGeo().fit(summary)


@pytest.fixture(scope="module")
def many_histories() -> pd.DataFrame:
    """Enough distinct (x, t_x, T) histories to span several evaluation blocks."""
    return simulate_bgnbd(6000, r=0.5, alpha=6.0, a=0.8, b=2.5, T=np.linspace(20, 52, 6000), seed=3)


def test_block_wise_likelihood_equals_the_per_customer_sum(many_histories: pd.DataFrame) -> None:
    model = BetaGeo()
    data = model._prepare(many_histories)
    data.block_rows = 500  # several blocks on few customers
    assert len(data.blocks) > 4
    theta = np.array([0.4, 5.0, 0.9, 2.0])
    ll, grad = model._value_and_gradient(theta, data)
    assert ll == pytest.approx(float(np.dot(data.weight, model._loglik_rows(theta, data))), rel=1e-12)
    np.testing.assert_allclose(grad, model._gradient_rows(theta, data) @ data.weight, rtol=1e-10)


def test_threaded_evaluation_equals_single_threaded(
    many_histories: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heedful.value import _compute

    model = BetaGeo()
    data = model._prepare(many_histories)
    data.block_rows = 500
    theta = np.array([0.4, 5.0, 0.9, 2.0])
    monkeypatch.setattr(_compute, "worker_count", lambda: 1)
    single = model._value_and_gradient(theta, data)
    monkeypatch.setattr(_compute, "worker_count", lambda: 2)
    threaded = model._value_and_gradient(theta, data)
    assert threaded[0] == single[0]  # blocks are added in the same order whatever the thread count
    np.testing.assert_array_equal(threaded[1], single[1])


def test_fit_by_blocks_gives_the_same_estimates(many_histories: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    from heedful.value import base

    whole = BetaGeo().fit(many_histories)
    prepare = BetaGeo._prepare

    def small_blocks(self: BetaGeo, summary: pd.DataFrame) -> base.FitData:
        data = prepare(self, summary)
        data.block_rows = 300
        return data

    monkeypatch.setattr(BetaGeo, "_prepare", small_blocks)
    blocked = BetaGeo().fit(many_histories)
    np.testing.assert_allclose(blocked.params_, whole.params_, rtol=1e-6)
    np.testing.assert_allclose(blocked.standard_errors_, whole.standard_errors_, rtol=1e-4)
    assert blocked.converged_ and whole.converged_


def test_one_repeat_purchase_among_hundreds_is_reported_as_not_identified() -> None:
    """The information matrix has two eigenvalues ~1e-8 of its largest: flat directions whose sign is
    rounding luck. They must give `converged: false` whatever that luck."""
    rng = np.random.default_rng(0)
    n = 300
    summary = pd.DataFrame(
        {"frequency": np.r_[1.0, np.zeros(n - 1)], "recency": np.r_[5.0, np.zeros(n - 1)], "T": rng.uniform(20, 40, n)}
    )
    for order in (summary, summary.iloc[::-1]):
        model = BetaGeo().fit(order)
        assert model.converged_ is False
        assert "not unique" in model.convergence_reason_ or "edge" in model.convergence_reason_


def test_closed_form_hessian_equals_the_differenced_gradient(many_histories: pd.DataFrame) -> None:
    model = BetaGeo()
    data = model._prepare(many_histories)
    data.block_rows = 500
    for theta in (np.array([0.243, 4.414, 0.793, 2.426]), np.array([0.5, 6.0, 1.5, 0.3])):
        log_theta = np.log(theta)
        closed = model._log_hessian(log_theta, data)
        model._hessian = lambda params, d: None  # type: ignore[method-assign]
        differenced = model._log_hessian(log_theta, data)
        del model._hessian
        np.testing.assert_allclose(closed, differenced, rtol=1e-6, atol=1e-6 * np.abs(differenced).max())
