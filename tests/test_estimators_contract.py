"""Every heedful model honours the scikit-learn estimator contract in fact, not only in its docstring.

For each estimator: `clone` gives an unfitted copy with the same hyper-parameters (of a fresh model and
of a fitted one), `get_params` / `set_params` round-trip, its parameter names are the ones scikit-learn's
own `BaseEstimator` finds, and using the model before `fit` raises the one shared `NotFittedError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sklearn.base
from sklearn.base import clone
from tests.surveys.simulate import simulate_conjoint, simulate_maxdiff

from heedful.errors import NotFittedError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.listen.discover import ThemeDiscovery
from heedful.listen.sentiment import SentimentHead
from heedful.listen.themes import ThemeClassifier
from heedful.retain.calibration import Calibrator
from heedful.retain.churn import ChurnModel
from heedful.retain.encoding import FeatureEncoder
from heedful.retain.lookalike import LookalikeModel
from heedful.retain.offers import ItemItemRecommender, PopularityRecommender, PurchaseHistory, SVDRecommender
from heedful.surveys.conjoint import Conjoint
from heedful.surveys.drivers import KeyDrivers
from heedful.surveys.maxdiff import MaxDiff
from heedful.surveys.nps import CustomerEffortScore, CustomerSatisfaction, NetPromoterScore
from heedful.surveys.vanwestendorp import VanWestendorp
from heedful.value import BetaGeo, GammaGamma, ModifiedBetaGeo, ParetoNBD
from heedful.value.simulate import simulate_bgnbd

RNG = np.random.default_rng(0)


# --------------------------------------------------------------------------- small data per model
def _summary() -> pd.DataFrame:
    summary = simulate_bgnbd(400, r=0.5, alpha=6.0, a=0.8, b=2.5, T=np.linspace(20, 52, 400), seed=3)
    spend = 10 + (summary.index.to_numpy() % 17) + RNG.gamma(2.0, 3.0, len(summary))
    summary["monetary_value"] = np.where(summary["frequency"] > 0, spend, 0.0)
    return summary


def _churn_frame(n: int = 400) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(1)
    calls = rng.poisson(2.0, n).astype(float)
    plan = rng.choice(["monthly", "yearly"], n)
    logit = -0.5 + 0.8 * (calls - 2.0) + 1.2 * (plan == "monthly")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"support_calls": calls, "plan": plan, "tenure": rng.uniform(0, 72, n)}), y


def _orders() -> pd.DataFrame:
    rows = [(f"c{c}", f"P{(c + k) % 6}") for c in range(30) for k in range(3)]
    return pd.DataFrame(rows, columns=["customer_id", "product_id"])


def _embeddings(n: int, dim: int = 8, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _ratings() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    delivery, support = rng.normal(size=200), rng.normal(size=200)
    return pd.DataFrame(
        {"nps": 2 * delivery + support + rng.normal(size=200), "delivery": delivery, "support": support}
    )


def _prices() -> pd.DataFrame:
    base = np.random.default_rng(5).uniform(5, 20, 60)
    return pd.DataFrame({"too_cheap": base, "cheap": base + 3, "expensive": base + 8, "too_expensive": base + 12})


def _conjoint() -> pd.DataFrame:
    attrs = {"brand": ["A", "B"], "speed": ["fast", "slow"]}
    truth = {"brand": np.array([0.5, -0.5]), "speed": np.array([1.0, -1.0])}
    return simulate_conjoint(attrs, truth, [10, 20, 30], -0.05, 60, 6, 3, 0.0, 6)


def _texts(n: int) -> list[str]:
    words = ["late delivery", "rude support", "great price", "broken box", "fast refund"]
    return [f"{words[i % 5]} again {i}" for i in range(n)]


@dataclass
class Case:
    """An estimator with changed hyper-parameters, how to fit it, and a method that needs the fit."""

    make: Callable[[], BaseEstimator]
    fit: Callable[[Any], Any]
    use: Callable[[Any], Any]


CHURN_X, CHURN_Y = _churn_frame()
SUMMARY = _summary()
FAST_CHURN = {"n_folds": 3, "n_estimators": 30, "n_bootstrap": 20, "shap_sample": 100, "baseline": False, "n_jobs": 1}
LABELS = [["delivery"] if i % 2 else ["support"] for i in range(40)]

CASES: dict[str, Case] = {
    "BetaGeo": Case(lambda: BetaGeo(max_iter=300), lambda m: m.fit(SUMMARY), lambda m: m.p_alive(SUMMARY)),
    "ModifiedBetaGeo": Case(
        lambda: ModifiedBetaGeo(n_starts=2), lambda m: m.fit(SUMMARY), lambda m: m.predict_purchases(4, SUMMARY)
    ),
    "ParetoNBD": Case(lambda: ParetoNBD(tol=1e-8), lambda m: m.fit(SUMMARY), lambda m: m.p_alive(SUMMARY)),
    "GammaGamma": Case(lambda: GammaGamma(max_iter=400), lambda m: m.fit(SUMMARY), lambda m: m.expected_spend(SUMMARY)),
    "ChurnModel": Case(
        lambda: ChurnModel(**FAST_CHURN), lambda m: m.fit(CHURN_X, CHURN_Y), lambda m: m.predict_proba(CHURN_X)
    ),
    "FeatureEncoder": Case(FeatureEncoder, lambda m: m.fit(CHURN_X), lambda m: m.transform(CHURN_X)),
    "Calibrator": Case(
        lambda: Calibrator("platt"),
        lambda m: m.fit(RNG.uniform(size=50), RNG.integers(0, 2, 50)),
        lambda m: m.predict([0.3]),
    ),
    "LookalikeModel": Case(
        lambda: LookalikeModel(C=0.5, max_levels=10),
        lambda m: m.fit(CHURN_X, CHURN_Y, ["support_calls", "plan"]),
        lambda m: m.score(CHURN_X.head(5)),
    ),
    "PopularityRecommender": Case(
        lambda: PopularityRecommender(chunk_size=7),
        lambda m: m.fit(PurchaseHistory.from_orders(_orders())),
        lambda m: m.recommend(k=2),
    ),
    "ItemItemRecommender": Case(
        lambda: ItemItemRecommender(neighbours=3, shrinkage=1.0),
        lambda m: m.fit(PurchaseHistory.from_orders(_orders())),
        lambda m: m.recommend(k=2),
    ),
    "SVDRecommender": Case(
        lambda: SVDRecommender(factors=2, random_state=1),
        lambda m: m.fit(PurchaseHistory.from_orders(_orders())),
        lambda m: m.recommend(k=2),
    ),
    "NetPromoterScore": Case(
        lambda: NetPromoterScore(confidence=0.9), lambda m: m.fit([0, 6, 7, 9, 10, 10]), lambda m: m.to_dict()
    ),
    "CustomerSatisfaction": Case(
        lambda: CustomerSatisfaction(top_box_from=5), lambda m: m.fit([1, 3, 4, 5, 5]), lambda m: m.summary
    ),
    "CustomerEffortScore": Case(
        lambda: CustomerEffortScore(confidence=0.8), lambda m: m.fit([2, 5, 6, 7]), lambda m: m.to_dict()
    ),
    "KeyDrivers": Case(
        lambda: KeyDrivers(n_bootstrap=20, seed=3), lambda m: m.fit(_ratings(), outcome="nps"), lambda m: m.summary
    ),
    "MaxDiff": Case(
        lambda: MaxDiff(method="mnl", seed=2),
        lambda m: m.fit(simulate_maxdiff(np.array([1.0, 0.5, 0.0, -0.5, -1.0]), 30, 5, 3, 0.0, 3)[0]),
        lambda m: m.summary,
    ),
    "Conjoint": Case(
        lambda: Conjoint(method="mnl", price_col="price"), lambda m: m.fit(_conjoint()), lambda m: m.importance_
    ),
    "VanWestendorp": Case(
        lambda: VanWestendorp(convention="original"), lambda m: m.fit(_prices()), lambda m: m.summary
    ),
    "ThemeClassifier": Case(
        lambda: ThemeClassifier(mode="few_shot", top_k=2),
        lambda m: m.fit(_embeddings(40), LABELS),
        lambda m: m.predict(_embeddings(3, seed=9)),
    ),
    "SentimentHead": Case(
        lambda: SentimentHead(C=1.0, word_features=False),
        lambda m: m.fit(_embeddings(30), ["negative", "neutral", "positive"] * 10),
        lambda m: m.predict(_embeddings(3, seed=9)),
    ),
    "ThemeDiscovery": Case(
        lambda: ThemeDiscovery(min_cluster_size=5, n_neighbors=5, reducer="pca", n_components=3),
        lambda m: m.fit(_texts(60), np.repeat(np.eye(3, 8, dtype=np.float32), 20, axis=0) + _embeddings(60) * 0.01),
        lambda m: m.topic(0),
    ),
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Case:
    return CASES[request.param]


def _same_params(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == b[key] or (a[key] != a[key] and b[key] != b[key]), key


def test_it_is_a_scikit_learn_estimator(case: Case) -> None:
    assert isinstance(case.make(), BaseEstimator)


def test_clone_of_a_fresh_model_has_the_same_hyper_parameters(case: Case) -> None:
    model = case.make()
    copy = clone(model)
    assert copy is not model and type(copy) is type(model)
    _same_params(copy.get_params(), model.get_params())


def test_the_parameters_are_those_scikit_learn_finds(case: Case) -> None:
    """heedful's base class writes out scikit-learn's protocol (so the value models need not import it):
    the same names, and the same values as scikit-learn's own `get_params` gives for the same model."""
    model = case.make()
    names = sklearn.base.BaseEstimator._get_param_names.__func__(type(model))  # type: ignore[attr-defined]
    assert model._get_param_names() == names
    _same_params(model.get_params(deep=False), sklearn.base.BaseEstimator.get_params(model, deep=False))  # type: ignore[arg-type]


def test_get_params_round_trips_through_the_constructor_and_set_params(case: Case) -> None:
    model = case.make()
    params = model.get_params()
    assert params or isinstance(model, FeatureEncoder)  # the encoder alone has no hyper-parameters
    rebuilt = type(model)(**params)
    _same_params(rebuilt.get_params(), params)
    assert rebuilt.set_params(**params) is rebuilt
    _same_params(rebuilt.get_params(), params)


def test_using_the_model_before_fit_raises_the_shared_error(case: Case) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        case.use(case.make())


def test_clone_of_a_fitted_model_is_unfitted_with_the_same_hyper_parameters(case: Case) -> None:
    model = case.make()
    assert case.fit(model) is model
    case.use(model)  # fitted: works
    copy = clone(model)
    _same_params(copy.get_params(), model.get_params())
    assert not [name for name in vars(copy) if name.endswith("_")]
    with pytest.raises(NotFittedError):
        case.use(copy)
    case.use(model)  # cloning left the original fitted


def test_check_fitted_names_the_model_and_what_to_do() -> None:
    model = BetaGeo()
    with pytest.raises(NotFittedError, match=r"BetaGeo is not fitted yet; load it first\."):
        check_fitted(model, "params_", how="load it first")
    model.params_ = pd.Series(dtype=float)
    check_fitted(model, "params_")
    with pytest.raises(ValueError):
        check_fitted(model)


class _Inner(BaseEstimator):
    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha


class _Outer(BaseEstimator):
    def __init__(self, inner: _Inner | None = None, steps: int = 3) -> None:
        self.inner = inner
        self.steps = steps


def test_nested_parameters_are_read_and_set_by_name_as_in_scikit_learn() -> None:
    model = _Outer(_Inner(2.0), steps=5)
    assert model.get_params() == {"inner": model.inner, "inner__alpha": 2.0, "steps": 5}
    assert model.get_params() == sklearn.base.BaseEstimator.get_params(model)  # type: ignore[arg-type]
    assert model.set_params(inner__alpha=0.5, steps=7) is model
    assert model.inner is not None and (model.inner.alpha, model.steps) == (0.5, 7)
    copy = clone(model)
    assert copy.inner is not model.inner and copy.get_params(deep=False)["steps"] == 7
    with pytest.raises(ValueError, match=r"Invalid parameter 'step' for _Outer; valid parameters: inner, steps"):
        model.set_params(step=1)


def test_the_repr_shows_the_changed_parameters() -> None:
    assert repr(_Outer()) == "_Outer()"
    assert repr(_Outer(steps=5)) == "_Outer(steps=5)"
    assert repr(_Outer(_Inner(2.0))) == "_Outer(inner=_Inner(alpha=2.0))"
