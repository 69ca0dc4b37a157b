"""Satisfaction metrics with 95% intervals: Net Promoter Score, CSAT and Customer Effort Score.

NPS interval: `heedful.stats.nps_interval`, the adjusted Wald interval of Rocks (2016, "Interval
Estimation for the Net Promoter Score", The American Statistician 70(4)) that every page shows.
Shares (CSAT top-2-box, CES agreement) use Wilson score intervals; means use Student t.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from heedful.stats import nps_interval, nps_interval_se, wilson_interval
from heedful.surveys._base import Estimator, numeric_answers, z_value


class NetPromoterScore(Estimator):
    """NPS from 0-10 likelihood-to-recommend answers: % promoters (9-10) minus % detractors (0-6).

    `fit(scores)` -> self; `params_` has nps (-100..100), promoters, passives, detractors (shares), n;
    `summary` has estimate, se, low and high for each.
    """

    def __init__(self, confidence: float = 0.95) -> None:
        self.confidence = confidence

    def fit(self, scores: Any) -> NetPromoterScore:
        arr = numeric_answers(scores, 0, 10, "NPS")
        n = float(arr.size)
        promoters = float(np.sum(arr >= 9))
        detractors = float(np.sum(arr <= 6))
        passives = n - promoters - detractors
        self.counts_ = {"promoters": int(promoters), "passives": int(passives), "detractors": int(detractors)}
        self.distribution_ = pd.Series(np.bincount(arr.astype(int), minlength=11), index=range(11), name="count")
        z_value(self.confidence)  # a confidence level outside (0, 1) is the user's mistake
        low, high = nps_interval(promoters, passives, detractors, self.confidence)
        se = nps_interval_se(promoters, passives, detractors)
        self.params_ = pd.Series(
            {
                "nps": 100 * (promoters - detractors) / n,
                "promoters": promoters / n,
                "passives": passives / n,
                "detractors": detractors / n,
                "n": n,
            }
        )
        rows = [{"metric": "nps", "estimate": self.params_["nps"], "se": se, "low": low, "high": high}]
        for name, count in (("promoters", promoters), ("passives", passives), ("detractors", detractors)):
            lo, hi = wilson_interval(count, n, self.confidence)
            p = count / n
            rows.append({"metric": name, "estimate": p, "se": float(np.sqrt(p * (1 - p) / n)), "low": lo, "high": hi})
        self._summary = pd.DataFrame(rows).set_index("metric")
        return self

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        return self._summary

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        nps = self._summary.loc["nps"]
        return {
            "nps": float(nps["estimate"]),
            "low": float(nps["low"]),
            "high": float(nps["high"]),
            "n": int(self.params_["n"]),
            **self.counts_,
        }


class _RatingScale(Estimator):
    """Mean (t interval) and top-box share (Wilson interval) of answers on a 1..scale rating."""

    metric = "rating"

    def __init__(self, scale: int, top_box_from: int, confidence: float = 0.95) -> None:
        self.scale = scale
        self.top_box_from = top_box_from
        self.confidence = confidence

    def fit(self, scores: Any) -> _RatingScale:
        arr = numeric_answers(scores, 1, self.scale, self.metric.upper())
        n = arr.size
        mean = float(arr.mean())
        sd = float(arr.std(ddof=1)) if n > 1 else float("nan")
        se_mean = sd / np.sqrt(n) if n > 1 else float("nan")
        t = float(stats.t.ppf(0.5 + self.confidence / 2, max(n - 1, 1)))
        top = float(np.sum(arr >= self.top_box_from))
        lo, hi = wilson_interval(top, n, self.confidence)
        p = top / n
        self.distribution_ = pd.Series(
            [int(np.sum(arr == k)) for k in range(1, self.scale + 1)], index=range(1, self.scale + 1), name="count"
        )
        self.params_ = pd.Series({"mean": mean, "top_box": p, "n": float(n)})
        self._summary = pd.DataFrame(
            [
                {
                    "metric": "mean",
                    "estimate": mean,
                    "se": se_mean,
                    "low": mean - t * se_mean,
                    "high": mean + t * se_mean,
                },
                {"metric": "top_box", "estimate": p, "se": float(np.sqrt(p * (1 - p) / n)), "low": lo, "high": hi},
            ]
        ).set_index("metric")
        return self

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        return self._summary

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        s = self._summary
        return {
            "mean": float(s.loc["mean", "estimate"]),
            "mean_low": float(s.loc["mean", "low"]),
            "mean_high": float(s.loc["mean", "high"]),
            "top_box": float(s.loc["top_box", "estimate"]),
            "top_box_low": float(s.loc["top_box", "low"]),
            "top_box_high": float(s.loc["top_box", "high"]),
            "n": int(self.params_["n"]),
            "distribution": {str(k): int(v) for k, v in self.distribution_.items()},
        }


class CustomerSatisfaction(_RatingScale):
    """CSAT on a 1-5 scale: share satisfied (4-5, "top-2-box") and mean, with 95% intervals."""

    metric = "csat"

    def __init__(self, scale: int = 5, top_box_from: int = 4, confidence: float = 0.95) -> None:
        super().__init__(scale, top_box_from, confidence)


class CustomerEffortScore(_RatingScale):
    """CES on a 1-7 agreement scale ("it was easy…"): mean and share agreeing (5-7), with 95% intervals."""

    metric = "ces"

    def __init__(self, scale: int = 7, top_box_from: int = 5, confidence: float = 0.95) -> None:
        super().__init__(scale, top_box_from, confidence)


def nps_by_segment(scores: pd.Series, segments: pd.Series, min_n: int = 1) -> pd.DataFrame:
    """Cross-tab: NPS with its interval per segment (segments with fewer than `min_n` answers left out)."""
    frame = pd.DataFrame({"score": pd.to_numeric(scores, errors="coerce"), "segment": segments}).dropna()
    rows = []
    for segment, group in frame.groupby("segment", sort=True):
        if len(group) < min_n:
            continue
        rows.append({"segment": segment, **NetPromoterScore().fit(group["score"]).to_dict()})
    return pd.DataFrame(rows, columns=["segment", "nps", "low", "high", "n", "promoters", "passives", "detractors"])
