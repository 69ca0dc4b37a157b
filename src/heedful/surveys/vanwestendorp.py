"""Van Westendorp price sensitivity meter: acceptable price range, optimal and indifference price points.

Each respondent gives four prices: too cheap (quality doubted), cheap (a bargain), expensive (but
still considered) and too expensive (not considered). Over a grid of all prices given, the curves
are the share of respondents for whom a price is too cheap (too_cheap >= p), cheap (cheap >= p),
expensive (expensive <= p) and too expensive (too_expensive <= p). Crossings are found by linear
interpolation between grid prices:

- OPP, optimal price point: too cheap = too expensive;
- IPP, indifference price point: cheap = expensive;
- PMC / PME, the ends of the acceptable range. Two conventions are in use:
  "common" (most practitioners and survey tools): PMC = too cheap x expensive, PME = too expensive x cheap;
  "original" (van Westendorp 1976, as in the R package pricesensitivitymeter): PMC = too cheap x
  not cheap, PME = too expensive x not expensive.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.surveys._base import Estimator

QUESTIONS = ("too_cheap", "cheap", "expensive", "too_expensive")


def crossing(prices: np.ndarray, falling: np.ndarray, rising: np.ndarray) -> float:
    """First price where a falling curve meets a rising one, interpolating linearly between grid points."""
    diff = np.asarray(falling, float) - np.asarray(rising, float)
    for i in range(len(diff)):
        if diff[i] == 0:
            return float(prices[i])
        if i + 1 < len(diff) and diff[i] > 0 > diff[i + 1]:
            t = diff[i] / (diff[i] - diff[i + 1])
            return float(prices[i] + t * (prices[i + 1] - prices[i]))
    return float("nan")


def price_points(curves: pd.DataFrame, convention: str = "common") -> dict[str, float]:
    """PMC, OPP, IPP, PME from curves with columns price, too_cheap, cheap, expensive, too_expensive."""
    p = curves["price"].to_numpy(float)
    tc, ch, ex, te = (curves[c].to_numpy(float) for c in QUESTIONS)
    if convention == "common":
        pmc, pme = crossing(p, tc, ex), crossing(p, ch, te)
    elif convention == "original":
        pmc, pme = crossing(p, tc, 1 - ch), crossing(p, 1 - ex, te)
    else:
        raise InputError(f"Unknown convention {convention!r}; use 'common' or 'original'.")
    return {"pmc": pmc, "opp": crossing(p, tc, te), "ipp": crossing(p, ch, ex), "pme": pme}


class VanWestendorp(Estimator):
    """Price sensitivity meter.

    `fit(frame)` with one row per respondent and columns too_cheap, cheap, expensive, too_expensive
    -> self. `params_`: pmc, opp, ipp, pme; `acceptable_range_` (pmc, pme); `curves_`; `figure()`.
    Respondents whose four prices are not in increasing order are left out (`n_inconsistent_`).
    """

    def __init__(self, convention: str = "common", drop_inconsistent: bool = True) -> None:
        self.convention = convention
        self.drop_inconsistent = drop_inconsistent

    def fit(
        self,
        frame: pd.DataFrame,
        too_cheap: str = "too_cheap",
        cheap: str = "cheap",
        expensive: str = "expensive",
        too_expensive: str = "too_expensive",
    ) -> VanWestendorp:
        cols = [too_cheap, cheap, expensive, too_expensive]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputError(f"Van Westendorp data needs columns {missing}; found {list(frame.columns)}.")
        data = frame[cols].apply(pd.to_numeric, errors="coerce").dropna()
        data.columns = list(QUESTIONS)
        ordered = (
            (data["too_cheap"] <= data["cheap"])
            & (data["cheap"] <= data["expensive"])
            & (data["expensive"] <= data["too_expensive"])
        )
        self.n_inconsistent_ = int((~ordered).sum())
        if self.drop_inconsistent:
            data = data[ordered]
        if len(data) < 2:
            raise InputError("Van Westendorp needs at least two respondents with four prices in increasing order.")
        grid = np.unique(data.to_numpy().ravel())
        n = len(data)
        self.curves_ = pd.DataFrame(
            {
                "price": grid,
                "too_cheap": [(data["too_cheap"] >= p).sum() / n for p in grid],
                "cheap": [(data["cheap"] >= p).sum() / n for p in grid],
                "expensive": [(data["expensive"] <= p).sum() / n for p in grid],
                "too_expensive": [(data["too_expensive"] <= p).sum() / n for p in grid],
            }
        )
        self.curves_["not_cheap"] = 1 - self.curves_["cheap"]
        self.curves_["not_expensive"] = 1 - self.curves_["expensive"]
        self.n_ = n
        self.params_ = pd.Series(price_points(self.curves_, self.convention))
        self.acceptable_range_ = (float(self.params_["pmc"]), float(self.params_["pme"]))
        return self

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        labels = {
            "pmc": "point of marginal cheapness (lower end of acceptable range)",
            "opp": "optimal price point",
            "ipp": "indifference price point",
            "pme": "point of marginal expensiveness (upper end of acceptable range)",
        }
        return pd.DataFrame({"price": self.params_, "meaning": pd.Series(labels)})

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            **{k: float(v) for k, v in self.params_.items()},
            "acceptable_range": list(self.acceptable_range_),
            "convention": self.convention,
            "n": self.n_,
            "n_inconsistent": self.n_inconsistent_,
        }

    def figure(self) -> Any:
        """Plotly figure of the four curves with the price points marked."""
        import plotly.graph_objects as go

        self._check_fitted()
        fig = go.Figure()
        names = {"too_cheap": "Too cheap", "cheap": "Cheap", "expensive": "Expensive", "too_expensive": "Too expensive"}
        for col, label in names.items():
            fig.add_trace(go.Scatter(x=self.curves_["price"], y=100 * self.curves_[col], mode="lines", name=label))
        for key, value in self.params_.items():
            if np.isfinite(value):
                fig.add_vline(x=float(value), line_dash="dot", annotation_text=f"{str(key).upper()} {value:,.2f}")
        fig.update_layout(
            title="Price sensitivity (Van Westendorp)",
            xaxis_title="Price",
            yaxis_title="% of respondents",
            template="plotly_white",
        )
        return fig
