"""Look-alike prospects: how much each prospect resembles the best customers, and which traits say so.

A regularised logistic regression learns best customers versus the rest from traits prospects also
have (country, industry, size…). Its per-feature contributions, coefficient × (value − average
customer), are exact SHAP values for a linear model, so every score comes with the traits that drive it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.retain.encoding import FeatureEncoder

NOT_TRAITS = {"customer_id", "prospect_id", "id", "name", "email", "phone", "kind", "created_at", "first_seen_at"}


def best_customers(
    values: pd.DataFrame, quantile: float = 0.8, value_col: str = "clv", segments: Sequence[str] | None = None
) -> pd.Series:
    """True for the best customers: in one of `segments` if given, else in the top (1 − quantile) by value."""
    if segments:
        if "segment" not in values.columns:
            raise InputError("Best customers by segment need a `segment` column (run `heedful value rfm`).")
        return values["segment"].astype(str).isin(set(segments))
    if value_col not in values.columns:
        raise InputError(f"Best customers by value need a {value_col!r} column.")
    v = pd.to_numeric(values[value_col], errors="coerce")
    return (v >= v.quantile(quantile)).fillna(False)


def trait_columns(customers: pd.DataFrame, prospects: pd.DataFrame) -> list[str]:
    """Columns both tables have that describe a person or company, not identify it."""
    common = [c for c in prospects.columns if c in customers.columns and c.lower() not in NOT_TRAITS]
    return [c for c in common if customers[c].nunique(dropna=True) > 1]


class LookalikeModel(BaseEstimator):
    """Best-vs-rest classifier over shared traits; `score` gives similarity and its drivers per prospect."""

    def __init__(self, C: float = 1.0, max_levels: int = 30) -> None:
        self.C = C
        self.max_levels = max_levels

    def fit(self, customers: pd.DataFrame, best: pd.Series | np.ndarray, traits: Sequence[str]) -> LookalikeModel:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(best, dtype=int)
        if y.sum() < 2 or (len(y) - y.sum()) < 2:
            raise InputError("Need at least two best customers and two others to learn what sets them apart.")
        if not traits:
            raise InputError("The prospects share no trait column with the customers (e.g. country, industry).")
        self.traits_ = list(traits)
        self.encoder_ = FeatureEncoder().fit(customers[self.traits_])
        self.medians_: dict[str, float] = {}
        design = self._design(customers[self.traits_])
        self.mean_ = design.mean(axis=0)
        self.scale_ = design.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0
        z = (design - self.mean_) / self.scale_
        self.model_ = LogisticRegression(C=self.C, max_iter=1000).fit(z, y)
        self.base_rate_ = float(y.mean())
        return self

    def _design(self, frame: pd.DataFrame) -> np.ndarray:
        """Numbers (missing → training median) and one column per kept category level."""
        cols: list[np.ndarray] = []
        names: list[tuple[str, str | None]] = []
        for spec in self.encoder_.specs_:
            values = FeatureEncoder._column(frame[spec.name], spec)
            if spec.kind == "categorical":
                assert spec.levels is not None
                for code, level in enumerate(spec.levels[: self.max_levels]):
                    cols.append((values == code).astype(float))
                    names.append((spec.name, level))
            else:
                median = self.medians_.setdefault(
                    spec.name, float(np.nanmedian(values)) if np.isfinite(values).any() else 0.0
                )
                cols.append(np.where(np.isnan(values), median, values))
                names.append((spec.name, None))
        self.columns_ = names
        return np.column_stack(cols) if cols else np.empty((len(frame), 0))

    def score(self, prospects: pd.DataFrame, ids: Sequence[Any] | None = None, k: int = 3) -> pd.DataFrame:
        """Similarity to the best customers (probability of being one, and lift over the base rate), with drivers."""
        check_fitted(self, "model_", how="fit the look-alike model on customers first")
        missing = [t for t in self.traits_ if t not in prospects.columns]
        if missing:
            raise InputError(f"The prospects lack the trait columns {missing}.")
        design = self._design(prospects[self.traits_])
        z = (design - self.mean_) / self.scale_
        contrib = z * self.model_.coef_[0]
        # Sum the one-hot pieces back into one contribution per trait.
        trait_of = np.array([self.traits_.index(t) for t, _ in self.columns_])
        per_trait = np.zeros((len(prospects), len(self.traits_)))
        for j, t in enumerate(trait_of):
            per_trait[:, t] += contrib[:, j]
        similarity = self.model_.predict_proba(z)[:, 1]
        frame = pd.DataFrame(
            {
                "prospect_id": list(ids) if ids is not None else list(prospects.index),
                "similarity": similarity,
                "lift": similarity / max(self.base_rate_, 1e-12),
            }
        )
        order = np.argsort(-per_trait, axis=1, kind="stable")[:, : min(k, len(self.traits_))]
        raw = prospects[self.traits_].reset_index(drop=True)
        for r in range(order.shape[1]):
            frame[f"driver_{r + 1}"] = [f"{self.traits_[j]} = {raw.iat[i, j]}" for i, j in enumerate(order[:, r])]
            frame[f"driver_{r + 1}_effect"] = np.round(per_trait[np.arange(len(frame)), order[:, r]], 4)
        return frame.sort_values("similarity", ascending=False, ignore_index=True)

    def trait_importance(self) -> pd.DataFrame:
        """Coefficient per trait level (standardised): which traits mark the best customers."""
        check_fitted(self, "model_", how="fit the look-alike model on customers first")
        return pd.DataFrame(
            {
                "trait": [t for t, _ in self.columns_],
                "level": [lv for _, lv in self.columns_],
                "coefficient": self.model_.coef_[0],
            }
        ).sort_values("coefficient", ascending=False, ignore_index=True)
