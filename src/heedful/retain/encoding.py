"""Model inputs as numbers: a table's columns as a float matrix the churn and look-alike models share."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted

MAX_LEVELS = 200  # categorical levels kept per column; rarer ones are pooled as missing


@dataclass
class FeatureSpec:
    """How one input column becomes one model feature."""

    name: str
    kind: str  # numeric | categorical | datetime
    levels: list[str] | None = None


class FeatureEncoder(BaseEstimator):
    """Columns → float matrix: numbers stay, text becomes category codes, dates become days since 1970.

    No hyper-parameters; `fit` learns `specs_`, one `FeatureSpec` per column.
    """

    specs_: list[FeatureSpec]

    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        self.specs_ = [self._spec(frame[c], str(c)) for c in frame.columns]
        return self

    @staticmethod
    def _spec(col: pd.Series, name: str) -> FeatureSpec:
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            return FeatureSpec(name, "numeric")
        if pd.api.types.is_datetime64_any_dtype(col):
            return FeatureSpec(name, "datetime")
        text = col.astype("string").str.strip()
        present = text[text.notna() & (text != "")]
        numbers = pd.to_numeric(present, errors="coerce")
        if len(present) and numbers.notna().mean() >= 0.95:
            return FeatureSpec(name, "numeric")  # e.g. Telco TotalCharges: numbers with a few blanks
        counts = present.value_counts()
        return FeatureSpec(name, "categorical", [str(v) for v in counts.index[:MAX_LEVELS]])

    @property
    def names(self) -> list[str]:
        check_fitted(self, "specs_")
        return [s.name for s in self.specs_]

    @property
    def categorical_indices(self) -> list[int]:
        check_fitted(self, "specs_")
        return [i for i, s in enumerate(self.specs_) if s.kind == "categorical"]

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        check_fitted(self, "specs_")
        missing = [s.name for s in self.specs_ if s.name not in frame.columns]
        if missing:
            raise InputError(f"Columns {missing} the model was trained on are missing from the input.")
        out = np.empty((len(frame), len(self.specs_)), dtype=np.float32)
        for j, spec in enumerate(self.specs_):
            out[:, j] = self._column(frame[spec.name], spec)
        out[~np.isfinite(out)] = np.nan  # ±inf (e.g. a ratio over zero) counts as missing
        return out

    @staticmethod
    def _column(col: pd.Series, spec: FeatureSpec) -> np.ndarray:
        if spec.kind == "numeric":
            if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
                return col.to_numpy(dtype=np.float64, na_value=np.nan)
            return pd.to_numeric(col.astype("string").str.strip(), errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
        if spec.kind == "datetime":
            ts = pd.to_datetime(col, errors="coerce")
            days = (ts - pd.Timestamp("1970-01-01")).dt.total_seconds() / 86400.0
            return days.to_numpy(dtype=np.float64, na_value=np.nan)
        assert spec.levels is not None
        codes = pd.Categorical(col.astype("string").str.strip(), categories=spec.levels).codes.astype(np.float64)
        codes[codes < 0] = np.nan
        return codes

    def display_value(self, j: int, value: float) -> str:
        """A readable value of feature j for a reason: the category label, or a rounded number."""
        spec = self.specs_[j]
        if value != value:  # NaN
            return "missing"
        if spec.kind == "categorical":
            assert spec.levels is not None
            return spec.levels[int(value)]
        if spec.kind == "datetime":
            return str((pd.Timestamp("1970-01-01") + pd.Timedelta(days=float(value))).date())
        return f"{value:.4g}"

    def to_dict(self) -> list[dict[str, Any]]:
        check_fitted(self, "specs_")
        return [asdict(s) for s in self.specs_]

    @classmethod
    def from_dict(cls, specs: list[dict[str, Any]]) -> FeatureEncoder:
        enc = cls()
        enc.specs_ = [FeatureSpec(**s) for s in specs]
        return enc
