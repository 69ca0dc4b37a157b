"""ChurnModel: recovers planted drivers, refuses leaks, calibrates, explains every score."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.retain.churn import ChurnModel, binary_target, cv_folds
from heedful.retain.leakage import single_feature_auc
from heedful.retain.metrics import auc, expected_calibration_error

from .conftest import FAST, make_churn_data

DRIVERS = {"support_calls", "plan", "tenure"}


@pytest.fixture(scope="module")
def fitted() -> tuple[ChurnModel, pd.DataFrame, np.ndarray]:
    frame, y, _ = make_churn_data(3000, seed=3)
    X = frame.drop(columns=["customer_id"])
    return ChurnModel(**FAST).fit(X, y), X, y


def test_model_recovers_the_planted_drivers_as_top_features(
    fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray],
) -> None:
    model, _, _ = fitted
    top3_shap = set(model.top_features_["feature"].head(3))
    top3_gain = set(model.top_features_.sort_values("gain", ascending=False)["feature"].head(3))
    assert top3_shap == DRIVERS
    assert top3_gain == DRIVERS


def test_report_has_the_contract_keys_and_an_interval_around_the_auc(
    fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray],
) -> None:
    model, _, _ = fitted
    report = model.report()
    for key in ("cv_auc", "cv_auc_ci95", "cv_brier", "calibration", "top_features", "baseline_auc"):
        assert key in report
    lo, hi = report["cv_auc_ci95"]
    assert lo < report["cv_auc"] < hi
    assert 0.7 < report["cv_auc"] < 0.95
    assert len(report["calibration"]) == 10
    assert sum(b["n"] for b in report["calibration"]) == 3000


def test_cross_validated_auc_interval_covers_the_auc_on_fresh_customers(
    fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray],
) -> None:
    model, _, _ = fitted
    fresh, y_fresh, _ = make_churn_data(20000, seed=99)
    fresh_auc = auc(model.predict_raw(fresh.drop(columns=["customer_id"])), y_fresh)
    lo, hi = model.report()["cv_auc_ci95"]
    assert lo - 0.01 <= fresh_auc <= hi + 0.01


def test_calibrated_risk_matches_observed_rates_on_held_out_customers(
    fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray],
) -> None:
    model, _, _ = fitted
    fresh, y_fresh, p_true = make_churn_data(20000, seed=7)
    risk = model.predict_proba(fresh.drop(columns=["customer_id"]))
    assert expected_calibration_error(risk, y_fresh) < 0.03
    assert abs(risk.mean() - y_fresh.mean()) < 0.02
    assert np.corrcoef(risk, p_true)[0, 1] > 0.9


def test_contributions_add_up_to_the_raw_score(fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray]) -> None:
    model, X, _ = fitted
    contrib = model.contributions(X.head(200))
    logit = contrib.sum(axis=1).to_numpy()
    raw = model.predict_raw(X.head(200))
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), raw, rtol=1e-6, atol=1e-9)


def test_reasons_name_the_planted_driver_with_the_right_direction(
    fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray],
) -> None:
    model, X, _ = fitted
    many_calls = X[(X["support_calls"] >= 6) & (X["plan"] != "monthly")].head(20)
    reasons = model.reasons(many_calls)
    assert (reasons["reason_1_feature"] == "support_calls").mean() >= 0.9
    assert (reasons["reason_1_effect"] > 0).all()
    assert reasons["reason_1"].iloc[0] == f"Support calls = {many_calls['support_calls'].iloc[0]:.4g} → risk up"
    assert reasons["reason_1_value"].iloc[0] == f"{many_calls['support_calls'].iloc[0]:.4g}"
    monthly_new = X[(X["plan"] == "monthly") & (X["support_calls"] <= 2) & (X["tenure"] > 20)].head(20)
    top = model.reasons(monthly_new)["reason_1"]
    assert (top == "Plan = monthly → risk up").mean() >= 0.9
    # A loyal customer's biggest contributions lower the risk: effects come out negative.
    loyal = X[(X["plan"] == "two-year") & (X["support_calls"] == 0) & (X["tenure"] > 60)].head(10)
    assert (model.contributions(loyal)[["plan", "tenure", "support_calls"]] < 0).all().all()


def test_scores_are_sorted_by_risk_and_carry_three_reasons(fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray]) -> None:
    model, X, _ = fitted
    scores = model.score(X.head(100), [f"id{i}" for i in range(100)])
    assert list(scores["churn_risk"]) == sorted(scores["churn_risk"], reverse=True)
    assert {"reason_1", "reason_2", "reason_3"} <= set(scores.columns)
    assert scores["churn_risk"].between(0, 1).all()


@pytest.mark.parametrize("policy", ["refuse", "drop", "flag"])
def test_a_planted_leaking_column_is_refused_dropped_or_flagged(policy: str) -> None:
    frame, y, _ = make_churn_data(1000, seed=5)
    X = frame.drop(columns=["customer_id"])
    rng = np.random.default_rng(0)
    X["cancellation_fee"] = np.where(y == 1, rng.uniform(20, 50, len(y)), 0.0)  # only churners pay it
    params = {**FAST, "leakage": policy, "n_estimators": 50}
    if policy == "refuse":
        with pytest.raises(InputError, match="cancellation_fee"):
            ChurnModel(**params).fit(X, y)
        return
    model = ChurnModel(**params).fit(X, y)
    flagged = [lk["feature"] for lk in model.report()["leakage"]]
    assert flagged == ["cancellation_fee"]
    if policy == "drop":
        assert "cancellation_fee" not in model.feature_names_
        assert model.report()["dropped_features"] == ["cancellation_fee"]
    else:
        assert "cancellation_fee" in model.feature_names_


def test_a_column_filled_only_for_churners_counts_as_leaking() -> None:
    frame, y, _ = make_churn_data(1000, seed=6)
    X = frame.drop(columns=["customer_id"])
    X["churn_survey_score"] = np.where(y == 1, 3.0, np.nan)
    model = ChurnModel(**{**FAST, "leakage": "drop", "n_estimators": 30}).fit(X, y)
    assert "churn_survey_score" in model.dropped_features_


def test_an_identifier_column_is_flagged_and_post_cutoff_dates_too() -> None:
    frame, y, _ = make_churn_data(600, seed=8)
    X = frame.copy()  # keeps customer_id, which identifies every row
    X["last_contact"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(600) % 90, unit="D")
    model = ChurnModel(**{**FAST, "leakage": "flag", "n_estimators": 30}).fit(X, y, cutoff="2024-02-01")
    reasons = {lk["feature"]: lk["reason"] for lk in model.report()["leakage"]}
    assert "identifier" in reasons["customer_id"]
    assert "cut-off" in reasons["last_contact"]
    assert {"support_calls", "tenure"}.isdisjoint(reasons)


def test_honest_features_are_not_flagged_as_leaks(churn_data: tuple[pd.DataFrame, np.ndarray, np.ndarray]) -> None:
    frame, y, _ = churn_data
    X = frame.drop(columns=["customer_id"])
    for col in X.columns:
        values = pd.Categorical(X[col]).codes.astype(float) if X[col].dtype == object else X[col].to_numpy(float)
        assert single_feature_auc(values, y, X[col].dtype == object) < 0.9
    model = ChurnModel(**{**FAST, "n_estimators": 30}).fit(X, y)  # default policy refuses leaks: none here
    assert model.report()["leakage"] == []


def test_time_folds_never_train_on_the_future() -> None:
    rng = np.random.default_rng(0)
    time = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, 500), unit="D")
    y = rng.integers(0, 2, 500)
    folds = cv_folds(y, 4, np.asarray(time))
    assert len(folds) == 4
    t = np.asarray(time)
    for train, test in folds:
        assert t[train].max() < t[test].min()


def test_time_grouped_training_reports_forward_chaining() -> None:
    frame, y, _ = make_churn_data(1200, seed=9)
    time = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(1200) // 10, unit="D")
    model = ChurnModel(**{**FAST, "n_folds": 3}).fit(frame.drop(columns=["customer_id"]), y, time=np.asarray(time))
    report = model.report()
    assert report["cv_scheme"] == "forward-chaining time folds"
    assert report["n_evaluated"] == 900  # the first quarter is only ever trained on
    assert report["cv_auc"] > 0.7


def test_saved_model_loads_and_scores_the_same(
    tmp_path: Path, fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray]
) -> None:
    model, X, _ = fitted
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "lightgbm.txt").read_text().startswith("tree")
    loaded = ChurnModel.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(X.head(50)), model.predict_proba(X.head(50)))
    assert loaded.report()["cv_auc"] == pytest.approx(model.report()["cv_auc"])


def test_unseen_category_and_text_numbers_are_handled(fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray]) -> None:
    model, X, _ = fitted
    odd = X.head(3).copy()
    odd["plan"] = ["weekly", "monthly", None]
    odd["tenure"] = odd["tenure"].astype(str)
    risk = model.predict_proba(odd)
    assert np.isfinite(risk).all()
    assert model.reasons(odd.iloc[[0]])["reason_1"].str.contains("Plan: not known").sum() in (0, 1)


def test_target_values_are_understood_or_refused_with_advice() -> None:
    assert list(binary_target(["Yes", "No", "yes"])) == [1, 0, 1]
    assert list(binary_target([1, 0, 0])) == [1, 0, 0]
    assert list(binary_target(["active", "gone"], positive="gone")) == [0, 1]
    with pytest.raises(InputError, match="--positive"):
        binary_target(["active", "gone"])
    with pytest.raises(InputError, match="two values"):
        binary_target(["a", "b", "c"], positive="a")


def test_reasons_for_explains_only_the_riskiest(fitted: tuple[ChurnModel, pd.DataFrame, np.ndarray]) -> None:
    model, X, _ = fitted
    full = model.score(X.head(300))
    some = model.score(X.head(300), reasons_for=30)
    np.testing.assert_allclose(some["churn_risk"], full["churn_risk"])
    explained = some["reason_1"].notna()
    assert explained.sum() == 30
    assert explained.head(30).all()  # the 30 riskiest come first
    pd.testing.assert_series_equal(some.loc[explained, "reason_1"], full.loc[explained, "reason_1"])


def test_cross_validation_on_a_sample_still_trains_on_every_row() -> None:
    frame, y, _ = make_churn_data(3000, seed=12)
    model = ChurnModel(**{**FAST, "cv_sample": 1000}).fit(frame.drop(columns=["customer_id"]), y)
    report = model.report()
    assert report["n_evaluated"] == 1000 and report["cv_sampled"]
    assert sum(b["n"] for b in report["calibration"]) == 1000


def _risk_along(model: ChurnModel, X: pd.DataFrame, feature: str) -> np.ndarray:
    """Each customer's risk as `feature` sweeps its range (rows: customers, columns: values)."""
    grid = np.linspace(X[feature].min(), X[feature].max(), 12)
    return np.column_stack([model.predict_proba(X.assign(**{feature: v})) for v in grid])


def test_a_feature_with_a_known_direction_never_moves_risk_the_other_way() -> None:
    # tenure lowers churn, but in a small sample the trees also learn bumps the other way
    frame, y, _ = make_churn_data(600, seed=21)
    X = frame.drop(columns=["customer_id"]).head(200)
    free = ChurnModel(**FAST).fit(frame.drop(columns=["customer_id"]), y)
    assert (np.diff(_risk_along(free, X, "tenure"), axis=1) > 1e-9).any()  # the bumps the constraint removes
    bound = ChurnModel(**FAST, monotone={"tenure": -1, "support_calls": 1, "not_a_feature": 1}).fit(
        frame.drop(columns=["customer_id"]), y
    )
    assert (np.diff(_risk_along(bound, X, "tenure"), axis=1) <= 1e-9).all()
    assert (np.diff(_risk_along(bound, X, "support_calls"), axis=1) >= -1e-9).all()
    assert bound.report()["cv_auc"] > 0.7


def test_a_feature_with_no_effect_on_a_customer_is_not_listed_as_a_reason() -> None:
    from heedful.retain.reasons import NO_EFFECT

    frame, y, _ = make_churn_data(800, seed=22)
    X = frame.drop(columns=["customer_id"]).assign(same_for_all=1.0)
    model = ChurnModel(**FAST).fit(X, y)
    k = X.shape[1]  # ask for every feature: the constant one has no effect on anyone
    scores = model.score(X.head(100), k=k)
    features = scores[[f"reason_{r}_feature" for r in range(2, k + 1)]].to_numpy()
    assert "same_for_all" not in set(features.ravel())
    assert scores["reason_1"].map(lambda t: isinstance(t, str)).all()  # each customer keeps one reason
    texts = scores[[f"reason_{r}" for r in range(2, k + 1)]].to_numpy().ravel()
    assert not [t for t in texts if isinstance(t, str) and t.endswith(NO_EFFECT)]
    empty = pd.isna(features)
    assert empty.any() and np.isnan(scores[[f"reason_{r}_effect" for r in range(2, k + 1)]].to_numpy()[empty]).all()
