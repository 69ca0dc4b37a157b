"""Churn risk: a cross-validated, calibrated LightGBM model with per-customer reasons and a leakage guard.

`ChurnModel().fit(X, y)` runs K-fold cross-validation (stratified, or forward-chaining in time when
`time` is given), reports out-of-fold AUC with a bootstrap interval, Brier score and a reliability
table against a logistic-regression baseline on the same folds, then fits the final booster on all
rows and an isotonic (or Platt) calibrator on the out-of-fold predictions. Every score can be
explained: LightGBM's TreeSHAP contributions give each customer's top reasons.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.retain.calibration import CalibrationMethod, Calibrator
from heedful.retain.encoding import FeatureEncoder
from heedful.retain.leakage import Leak, find_leaks
from heedful.retain.metrics import (
    auc,
    bootstrap_auc_ci,
    brier,
    expected_calibration_error,
    reliability_table,
)
from heedful.retain.reasons import context_features, reason_text

__all__ = [
    "CalibrationMethod",
    "Calibrator",
    "ChurnModel",
    "FeatureEncoder",
    "Leak",
    "LeakagePolicy",
    "binary_target",
    "cv_folds",
    "find_leaks",
    "logistic_baseline_oof",
    "logistic_baseline_predict",
]

LeakagePolicy = Literal["refuse", "drop", "flag"]

POSITIVE_WORDS = {"1", "yes", "y", "true", "t", "churn", "churned", "lost", "left", "cancelled", "canceled"}


# --------------------------------------------------------------------------- target
def binary_target(values: pd.Series | Sequence[Any] | np.ndarray, positive: str | None = None) -> np.ndarray:
    """Turn a churn column (1/0, Yes/No, True/False, churned/active…) into 0/1."""
    s = pd.Series(values)
    if s.isna().any():
        raise InputError(f"The target has {int(s.isna().sum())} missing values; drop or fill those rows first.")
    text = s.astype(str).str.strip().str.lower()
    levels = sorted(text.unique())
    if positive is not None:
        pos = str(positive).strip().lower()
        if pos not in levels:
            raise InputError(f"Positive value {positive!r} does not occur in the target (values: {levels[:10]}).")
    elif len(levels) == 2 and {"0", "1"} == set(levels):
        pos = "1"
    else:
        hits = [lv for lv in levels if lv in POSITIVE_WORDS or lv in {"1.0"}]
        if len(levels) != 2 or len(hits) != 1:
            raise InputError(
                f"Cannot tell which target value means churn (values: {levels[:10]}); pass --positive VALUE."
            )
        pos = hits[0]
    if len(levels) != 2:
        raise InputError(f"The target must have exactly two values, found {len(levels)}: {levels[:10]}.")
    return (text == pos).to_numpy(dtype=np.int8)


# --------------------------------------------------------------------------- folds
def cv_folds(
    y: np.ndarray, n_folds: int, time: np.ndarray | None = None, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs: stratified K-fold, or forward chaining over time blocks.

    With `time`, rows are cut into n_folds + 1 consecutive time blocks; fold k trains on the blocks
    before block k and tests on block k, so no model ever sees the future. Equal times stay together.
    """
    if time is None:
        from sklearn.model_selection import StratifiedKFold

        skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        return [(tr, te) for tr, te in skf.split(np.zeros(len(y)), y)]
    t = pd.Series(time)
    if t.isna().any():
        raise InputError("The time column has missing values; fill or drop them first.")
    ranks = t.rank(method="min").to_numpy()  # equal times get the same rank, so the same block
    block = np.minimum((ranks - 1) * (n_folds + 1) // len(t), n_folds).astype(int)
    folds = []
    for k in range(1, n_folds + 1):
        train, test = np.flatnonzero(block < k), np.flatnonzero(block == k)
        if len(test) and len(np.unique(y[train])) == 2:
            folds.append((train, test))
    if not folds:
        raise InputError("Not enough distinct times to build forward-chaining folds.")
    return folds


# --------------------------------------------------------------------------- the model
class ChurnModel(BaseEstimator):
    """Gradient-boosted churn classifier with honest cross-validation, calibration and reasons.

    Hyper-parameters only in `__init__`; `fit` sets `booster_`, `calibrator_`, `encoder_`,
    `cv_` (the evaluation report), `oof_` (out-of-fold calibrated risk), `leaks_`.
    """

    meta_: dict[str, Any]  # free-form facts saved with the model (target, id column, cut-off…)

    def __init__(
        self,
        n_folds: int = 5,
        n_estimators: int = 300,
        learning_rate: float = 0.1,
        num_leaves: int = 15,
        min_child_samples: int = 20,
        max_depth: int = 6,
        calibration: CalibrationMethod = "isotonic",
        leakage: LeakagePolicy = "refuse",
        leak_threshold: float = 0.98,
        baseline: bool = True,
        n_bootstrap: int = 1000,
        shap_sample: int = 5000,
        cv_sample: int | None = 250_000,
        early_stopping_rounds: int = 30,
        n_jobs: int = 0,
        random_state: int = 0,
        monotone: Mapping[str, int] | None = None,
    ) -> None:
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.max_depth = max_depth
        self.calibration = calibration
        self.leakage = leakage
        self.leak_threshold = leak_threshold
        self.baseline = baseline
        self.n_bootstrap = n_bootstrap
        self.shap_sample = shap_sample
        self.cv_sample = cv_sample
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state
        #: features whose direction is known: +1, risk never falls as the feature rises; -1, never rises
        #: (LightGBM's monotone constraints). Names that are not features are ignored.
        self.monotone = monotone

    # ------------------------------------------------------------------ fitting
    def _params(self) -> dict[str, Any]:
        return {
            "objective": "binary",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.9,
            "bagging_fraction": 0.9,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "cat_smooth": 10.0,
            "verbose": -1,
            "num_threads": self.n_jobs,
            "seed": self.random_state,
            "deterministic": True,
            "force_col_wise": True,
            **self._monotone_params(),
        }

    def _monotone_params(self) -> dict[str, Any]:
        names = getattr(self, "feature_names_", None)
        if not self.monotone or names is None:
            return {}
        directions = [int(np.sign(self.monotone.get(name, 0))) for name in names]
        return {"monotone_constraints": directions} if any(directions) else {}

    def _train(self, data: lgb.Dataset, rows: np.ndarray | None, rounds: int, valid: float = 0.0) -> lgb.Booster:
        """Boost on `rows` of the binned data (all rows when None), early-stopping on a random `valid` share."""
        params = self._params()
        if rows is None:
            return lgb.train(params, data, num_boost_round=rounds)
        if valid <= 0 or self.early_stopping_rounds <= 0:
            return lgb.train(params, data.subset(np.sort(rows).tolist()), num_boost_round=rounds)
        rng = np.random.default_rng(self.random_state)
        is_valid = rng.random(len(rows)) < valid
        # Subsets reuse the bins computed once for all rows: no re-binning per fold.
        train_set = data.subset(np.sort(rows[~is_valid]).tolist())
        valid_set = data.subset(np.sort(rows[is_valid]).tolist())
        return lgb.train(
            params,
            train_set,
            num_boost_round=rounds,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
        )

    def fit(
        self,
        X: pd.DataFrame,
        y: pd.Series | Sequence[Any] | np.ndarray,
        time: pd.Series | np.ndarray | None = None,
        cutoff: pd.Timestamp | str | None = None,
    ) -> ChurnModel:
        """Cross-validate, then fit on all rows. `time` switches to forward-chaining folds;
        `cutoff` makes date columns holding values on or after it count as leaks."""
        target = binary_target(y) if not isinstance(y, np.ndarray) or y.dtype.kind not in "iub" else y.astype(np.int8)
        if len(target) != len(X):
            raise InputError("Features and target have different numbers of rows.")
        if len(np.unique(target)) < 2:
            raise InputError("The target has only one value: there is nothing to learn.")
        if target.sum() < self.n_folds or (len(target) - target.sum()) < self.n_folds:
            raise InputError(f"Need at least {self.n_folds} churners and {self.n_folds} non-churners.")
        self.encoder_ = FeatureEncoder().fit(X)
        matrix = self.encoder_.transform(X)
        # Cross-validate (and look for leaks) on a stratified sample when there are very many customers:
        # the estimate is as good, and the final model still learns from every row.
        sample = self._cv_rows(target)
        self.leaks_ = find_leaks(
            matrix[sample],
            target[sample],
            self.encoder_,
            self.leak_threshold,
            pd.Timestamp(cutoff) if cutoff is not None else None,
        )
        self.dropped_features_: list[str] = []
        if self.leaks_ and self.leakage == "refuse":
            listing = "; ".join(f"{lk.feature}: {lk.reason}" for lk in self.leaks_)
            raise InputError(
                f"Refusing to train: possible target leakage in {listing}. "
                "Drop these columns, or pass --leakage drop to drop them automatically."
            )
        if self.leaks_ and self.leakage == "drop":
            self.dropped_features_ = [lk.feature for lk in self.leaks_]
            X = X.drop(columns=self.dropped_features_)
            if X.shape[1] == 0:
                raise InputError("No features are left after dropping the leaking columns.")
            self.encoder_ = FeatureEncoder().fit(X)
            matrix = self.encoder_.transform(X)
        self.feature_names_ = self.encoder_.names
        binned = lgb.Dataset(
            matrix,
            target,
            categorical_feature=self.encoder_.categorical_indices,
            params=self._params(),
            free_raw_data=False,
        ).construct()
        time_values = None if time is None else np.asarray(time)[sample]
        local = cv_folds(target[sample], self.n_folds, time_values, self.random_state)
        folds = [(sample[tr], sample[te]) for tr, te in local]
        baseline_frame = X if len(sample) == len(X) else X.iloc[sample].reset_index(drop=True)
        self._cross_validate(binned, matrix, target, folds, (baseline_frame, sample, local), time is not None)
        self.booster_ = self._train(binned, None, self.best_rounds_)
        self.calibrator_ = Calibrator(self.calibration).fit(self.oof_raw_[self.evaluated_], target[self.evaluated_])
        self.top_features_ = self._top_features(matrix)
        self.cv_["top_features"] = self.top_features_.head(15).to_dict(orient="records")
        return self

    def _cv_rows(self, y: np.ndarray) -> np.ndarray:
        n = len(y)
        if self.cv_sample is None or n <= self.cv_sample:
            return np.arange(n)
        from sklearn.model_selection import train_test_split

        rows, _ = train_test_split(np.arange(n), train_size=self.cv_sample, stratify=y, random_state=self.random_state)
        return np.sort(rows)

    def _cross_validate(
        self,
        binned: lgb.Dataset,
        matrix: np.ndarray,
        y: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        baseline_input: tuple[pd.DataFrame, np.ndarray, list[tuple[np.ndarray, np.ndarray]]],
        timed: bool,
    ) -> None:
        oof = np.full(len(y), np.nan)
        fold_of = np.full(len(y), -1)
        rounds = []
        fold_aucs = []
        for k, (train, test) in enumerate(folds):
            booster = self._train(binned, train, self.n_estimators, valid=0.1)
            rounds.append(booster.best_iteration or self.n_estimators)
            oof[test] = booster.predict(matrix[test], num_iteration=booster.best_iteration or None)
            fold_of[test] = k
            fold_aucs.append(auc(oof[test], y[test]))
        self.best_rounds_ = max(10, int(np.mean(rounds) * 1.1))
        self.evaluated_ = fold_of >= 0
        self.oof_raw_ = oof
        ev = self.evaluated_
        # Honest calibrated out-of-fold risk: each fold is calibrated on the other folds' predictions.
        calibrated = np.full(len(y), np.nan)
        for k in range(len(folds)):
            here, others = fold_of == k, ev & (fold_of != k)
            cal = Calibrator(self.calibration).fit(oof[others], y[others])
            calibrated[here] = cal.predict(oof[here])
        self.oof_ = calibrated
        p, yy = calibrated[ev], y[ev]
        cv_auc = auc(oof[ev], yy)
        table = reliability_table(p, yy)
        self.cv_: dict[str, Any] = {
            "cv_auc": cv_auc,
            "cv_auc_ci95": list(bootstrap_auc_ci(oof[ev], yy, self.n_bootstrap, seed=self.random_state)),
            "cv_brier": brier(p, yy),
            "calibration": table.to_dict(orient="records"),
            "top_features": [],
            "baseline_auc": None,
            "cv_brier_uncalibrated": brier(oof[ev], yy),
            "cv_ece": expected_calibration_error(p, yy),
            "fold_auc": fold_aucs,
            "cv_scheme": "forward-chaining time folds" if timed else "stratified k-fold",
            "n_folds": len(folds),
            "n_rows": len(y),
            "n_evaluated": int(ev.sum()),
            "cv_sampled": bool(ev.sum() < len(y) and not timed),
            "churn_rate": float(y.mean()),
            "n_boosting_rounds": self.best_rounds_,
            "calibration_method": self.calibration,
            "leakage": [asdict(lk) for lk in self.leaks_],
            "dropped_features": self.dropped_features_,
            "features": self.encoder_.names,
        }
        if self.baseline:
            frame, sample, local = baseline_input
            base = np.full(len(y), np.nan)
            base[sample] = logistic_baseline_oof(frame, y[sample], local)
            self.baseline_oof_ = base
            self.cv_["baseline_auc"] = auc(base[ev], yy)
            self.cv_["baseline_auc_ci95"] = list(
                bootstrap_auc_ci(base[ev], yy, min(self.n_bootstrap, 500), seed=self.random_state)
            )
            self.cv_["baseline_brier"] = brier(base[ev], yy)

    def _top_features(self, matrix: np.ndarray) -> pd.DataFrame:
        gain = self.booster_.feature_importance(importance_type="gain")
        rng = np.random.default_rng(self.random_state)
        rows = rng.choice(len(matrix), size=min(self.shap_sample, len(matrix)), replace=False)
        contrib = np.asarray(self.booster_.predict(matrix[rows], pred_contrib=True))[:, :-1]
        table = pd.DataFrame(
            {
                "feature": self.feature_names_,
                "mean_abs_shap": np.abs(contrib).mean(axis=0),
                "gain": gain,
                "gain_share": gain / gain.sum() if gain.sum() > 0 else gain,
            }
        )
        return table.sort_values("mean_abs_shap", ascending=False, ignore_index=True)

    # ------------------------------------------------------------------ scoring
    def _check(self) -> None:
        check_fitted(self, "booster_", how="call fit() or load a saved model")

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated booster probabilities (use for ranking only)."""
        self._check()
        return np.asarray(self.booster_.predict(self.encoder_.transform(X)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of churn per row."""
        raw = self.predict_raw(X)
        return self.calibrator_.predict(raw)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """TreeSHAP contributions to the log-odds of churn per feature, plus `bias`; rows sum to the raw logit."""
        self._check()
        contrib = self.booster_.predict(self.encoder_.transform(X), pred_contrib=True)
        return pd.DataFrame(contrib, columns=[*self.feature_names_, "bias"], index=X.index)

    def reasons(self, X: pd.DataFrame, k: int = 3) -> pd.DataFrame:
        """The k features that raise this customer's risk most, in plain words, with the feature, value and effect.

        Columns per reason: reason_N (text, e.g. "no order for 95 days, usually every 40 days → risk up"),
        reason_N_feature, reason_N_value (as displayed) and reason_N_effect (TreeSHAP log-odds; > 0 raises risk).
        """
        self._check()
        matrix = self.encoder_.transform(X)
        contrib = np.asarray(self.booster_.predict(matrix, pred_contrib=True))[:, :-1]
        return self._reasons_from(matrix, contrib, k, X.index)

    def _reasons_from(self, matrix: np.ndarray, contrib: np.ndarray, k: int, index: pd.Index) -> pd.DataFrame:
        k = min(k, contrib.shape[1])
        top = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
        out: dict[str, Any] = {}
        rows = np.arange(len(matrix))
        numeric = {s.name: i for i, s in enumerate(self.encoder_.specs_) if s.kind == "numeric"}
        for r in range(k):
            j = top[:, r]
            names = np.array(self.feature_names_, dtype=object)[j]
            values = matrix[rows, j]
            effects = np.round(contrib[rows, j], 4)
            # a feature with no effect on this customer's risk is no reason to list ("1 order in the last 90
            # days → no effect on risk"): its slot stays empty, as for a customer not explained, except the
            # first, so that every explained customer has one
            listed = (effects != 0) | (r == 0)
            names[~listed] = None
            shown: list[str | None] = [
                self.encoder_.display_value(int(jj), float(v)) if keep else None
                for jj, v, keep in zip(j, values, listed, strict=True)
            ]
            texts: list[str | None] = []
            for i, name in enumerate(names):
                if name is None:
                    texts.append(None)
                    continue
                wanted = [c for c in (name, *context_features(name)) if c in numeric]
                context = {c: float(matrix[i, numeric[c]]) for c in wanted}
                texts.append(reason_text(name, shown[i], float(effects[i]), context))
            out[f"reason_{r + 1}"] = texts
            out[f"reason_{r + 1}_feature"] = names
            out[f"reason_{r + 1}_value"] = shown
            out[f"reason_{r + 1}_effect"] = np.where(listed, effects, np.nan)
        return pd.DataFrame(out, index=index)

    def score(
        self,
        X: pd.DataFrame,
        ids: Sequence[Any] | pd.Series | None = None,
        k: int = 3,
        reasons_for: int | None = None,
    ) -> pd.DataFrame:
        """Per-customer calibrated churn risk with the top-k reasons, highest risk first.

        `reasons_for=N` explains only the N riskiest customers (TreeSHAP costs far more than scoring);
        the others get empty reasons.
        """
        self._check()
        matrix = self.encoder_.transform(X)
        raw = np.asarray(self.booster_.predict(matrix))
        frame = pd.DataFrame(
            {
                "customer_id": list(ids) if ids is not None else list(X.index),
                "churn_risk": self.calibrator_.predict(raw),
                "raw_score": raw,
            }
        )
        if reasons_for is None or reasons_for >= len(frame):
            rows = np.arange(len(frame))
        else:
            rows = np.sort(np.argsort(-raw, kind="stable")[: max(reasons_for, 0)])
        if len(rows):
            contrib = np.asarray(self.booster_.predict(matrix[rows], pred_contrib=True))[:, :-1]
            frame = frame.join(self._reasons_from(matrix[rows], contrib, k, frame.index[rows]))
        return frame.sort_values(["churn_risk", "raw_score"], ascending=False, kind="stable", ignore_index=True)

    def report(self) -> dict[str, Any]:
        """The cross-validation report (cv_auc, cv_auc_ci95, cv_brier, calibration, top_features, baseline_auc…)."""
        self._check()
        return dict(self.cv_)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write the model as a folder: LightGBM's text model plus JSON metadata (no pickle)."""
        self._check()
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster_.save_model(str(folder / "lightgbm.txt"))
        meta = {
            "format": "heedful-churn-model/1",
            "features": self.encoder_.to_dict(),
            "calibrator": self.calibrator_.to_dict(),
            "report": _jsonable(self.cv_),
            "params": self.get_params(),
            "meta": getattr(self, "meta_", {}),
        }
        (folder / "metadata.json").write_text(json.dumps(meta, indent=2))
        return folder

    @classmethod
    def load(cls, path: str | Path) -> ChurnModel:
        folder = Path(path)
        if not (folder / "lightgbm.txt").is_file() or not (folder / "metadata.json").is_file():
            raise InputError(f"{folder} is not a saved churn model (expected lightgbm.txt and metadata.json).")
        meta = json.loads((folder / "metadata.json").read_text())
        model = cls(**meta["params"])
        model.booster_ = lgb.Booster(model_file=str(folder / "lightgbm.txt"))
        model.encoder_ = FeatureEncoder.from_dict(meta["features"])
        model.feature_names_ = model.encoder_.names
        model.calibrator_ = Calibrator.from_dict(meta["calibrator"])
        model.cv_ = meta["report"]
        model.meta_ = meta.get("meta", {})
        return model


def _baseline_data(frame: pd.DataFrame) -> tuple[pd.DataFrame, Any]:
    """Design for the logistic baseline: numbers (median-imputed with missing flags, scaled) + one-hot text."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    enc = FeatureEncoder().fit(frame)
    numeric = pd.DataFrame(
        {s.name: FeatureEncoder._column(frame[s.name], s) for s in enc.specs_ if s.kind != "categorical"},
        index=frame.index,
    ).replace([np.inf, -np.inf], np.nan)
    cats = pd.DataFrame(
        {s.name: frame[s.name].astype("string").fillna("missing") for s in enc.specs_ if s.kind == "categorical"},
        index=frame.index,
    ).astype(object)
    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                list(numeric.columns),
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=5), list(cats.columns)),
        ]
    )
    return pd.concat([numeric, cats], axis=1), make_pipeline(pre, LogisticRegression(max_iter=500, C=1.0))


def logistic_baseline_oof(frame: pd.DataFrame, y: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Out-of-fold probabilities of a regularised logistic regression (one-hot + scaled numbers)."""
    data, model = _baseline_data(frame)
    oof = np.full(len(y), np.nan)
    for train, test in folds:
        model.fit(data.iloc[train], y[train])
        oof[test] = model.predict_proba(data.iloc[test])[:, 1]
    return oof


def logistic_baseline_predict(train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame) -> np.ndarray:
    """The logistic baseline fitted on `train` and applied to `test` (e.g. a later cut-off)."""
    data, model = _baseline_data(pd.concat([train, test], ignore_index=True))
    model.fit(data.iloc[: len(train)], y)
    return np.asarray(model.predict_proba(data.iloc[len(train) :])[:, 1])


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        return f if np.isfinite(f) else None
    return value
