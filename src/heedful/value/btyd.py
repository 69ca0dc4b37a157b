"""Shared prediction interface of the buy-till-you-die transaction models (BG/NBD, MBG/NBD, Pareto/NBD)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.value._compute import Array, Codes, as_array, distinct_rows
from heedful.value.base import FitData, ValueModel


class TransactionModel(ValueModel):
    """A fitted model of repeat purchases that can say who is alive and how much they will buy."""

    def _fitted_on(self, summary: pd.DataFrame, data: FitData) -> None:
        self.fitted_summary_ = summary[list(self.data_columns)].copy()
        # the fit grouped identical (x, t_x, T) histories: predictions for the same customers reuse that
        self.histories_: tuple[Codes, list[Array]] | None = None
        if data.row_codes is not None and {"x", "t_x", "T"} <= set(data.columns):
            self.histories_ = (data.row_codes, [data["x"], data["t_x"], data["T"]])

    def _distinct_histories(self, x: Array, t_x: Array, T: Array) -> tuple[Codes, list[Array]]:
        """`distinct_rows(x, t_x, T)`; taken from the fit when these are exactly the customers it was fitted on."""
        fitted = getattr(self, "histories_", None)
        if fitted is not None and len(fitted[0]) == len(x):
            columns = ("frequency", "recency", "T")
            if all(
                np.array_equal(a, as_array(self.fitted_summary_[c])) for a, c in zip((x, t_x, T), columns, strict=True)
            ):
                return fitted[0], list(fitted[1])
        return distinct_rows(x, t_x, T)

    def _check_data(self, data: FitData) -> str | None:
        if not np.any(data["x"] > 0):
            return "no customer made a repeat purchase: purchase and drop-out rates cannot be estimated"
        if np.any(data["t_x"] > data["T"] + 1e-9) or np.any(data["t_x"] < 0):
            return "recency must lie between 0 and T for every customer"
        return None

    # subclasses implement these three on plain arrays
    def _p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        raise NotImplementedError

    def _purchases_if_alive(self, t: float | Array, x: Array, T: Array) -> Array:
        """E[purchases in the next t | alive, x, T]; `t` may be a column of horizons (one result row each)."""
        raise NotImplementedError

    def _conditional_purchases(self, t: float | Array, x: Array, t_x: Array, T: Array) -> Array:
        """E[purchases in the next t | x, t_x, T] = purchases if alive × P(alive).

        The first factor depends on (x, T) only: it is computed once per distinct pair (the
        hypergeometric terms are the expensive part), P(alive) once per row.
        """
        codes, (ux, uT) = distinct_rows(x, T)
        return as_array(self._purchases_if_alive(t, ux, uT)[..., codes] * self._p_alive(x, t_x, T))

    def expected_purchases_new_customer(self, t: Array | float) -> Array:
        raise NotImplementedError

    def _simulate_future(self, x: Array, t_x: Array, T: Array, t: float, rng: np.random.Generator) -> Array:
        """One draw per row of the purchases in the next `t`, from the posterior given the history."""
        raise NotImplementedError

    def purchase_intervals(
        self, t: float, summary: pd.DataFrame | None = None, level: float = 0.9, draws: int = 400, seed: int = 0
    ) -> pd.DataFrame:
        """Per customer, the central `level` prediction interval of repeat purchases in the next `t` (simulated).

        Each draw takes alive/dead from P(alive), then the customer's own rates from their posterior
        given the history, then a future; the interval is the draws' quantiles (columns lower, upper).
        """
        if not 0 < level < 1:
            raise InputError("The interval level must lie between 0 and 1.")
        index, x, t_x, T = self._arrays(summary)
        codes, (ux, ut, uT) = distinct_rows(x, t_x, T)
        rng = np.random.default_rng(seed)
        rows = np.repeat(np.arange(len(ux)), draws)  # every distinct history `draws` times, simulated at once
        sims = self._simulate_future(ux[rows], ut[rows], uT[rows], float(t), rng).reshape(len(ux), draws)
        tail = (1 - level) / 2
        low, high = np.quantile(sims, [tail, 1 - tail], axis=1, method="inverted_cdf")
        return pd.DataFrame({"lower": low[codes], "upper": high[codes]}, index=index)

    # ------------------------------------------------------------------ public, per customer
    def _arrays(self, summary: pd.DataFrame | None) -> tuple[pd.Index, Array, Array, Array]:
        self._check_fitted()
        if summary is None:
            if not hasattr(self, "fitted_summary_"):
                raise InputError("Pass a customer summary: this model was not fitted on one.")
            summary = self.fitted_summary_
        for col in ("frequency", "recency", "T"):
            if col not in summary.columns:
                raise InputError(f"The summary lacks column {col!r}.")
        return (
            summary.index,
            as_array(summary["frequency"]),
            as_array(summary["recency"]),
            as_array(summary["T"]),
        )

    def p_alive(self, summary: pd.DataFrame | None = None) -> pd.Series:
        """Probability each customer is still active at the end of their observation period."""
        index, x, t_x, T = self._arrays(summary)
        return pd.Series(self._p_alive(x, t_x, T), index=index, name="p_alive")

    def predict_purchases(self, t: float, summary: pd.DataFrame | None = None) -> pd.Series:
        """Expected repeat purchases of each customer in the next `t` time units, given their history."""
        index, x, t_x, T = self._arrays(summary)
        return pd.Series(self._conditional_purchases(float(t), x, t_x, T), index=index, name="expected_purchases")

    def expected_clv(
        self,
        spend: pd.Series | float,
        summary: pd.DataFrame | None = None,
        horizon_months: int = 12,
        discount_rate: float = 0.01,
        time_unit: str = "W",
    ) -> pd.Series:
        """Discounted value over `horizon_months` given the expected spend per purchase (see `clv.py`)."""
        from heedful.value.clv import discounted_clv

        index, x, t_x, T = self._arrays(summary)
        spend_arr = np.broadcast_to(as_array(spend), x.shape)
        values = discounted_clv(self, x, t_x, T, spend_arr, horizon_months, discount_rate, time_unit)
        return pd.Series(values, index=index, name="clv")

    def _summary_params(self) -> dict[str, Any]:
        return {k: float(v) for k, v in self.params_.items()}


def simulate_geometric_dropout(
    alive: np.ndarray[Any, np.dtype[np.bool_]], lam: Array, p: Array, t: float, rng: np.random.Generator
) -> Array:
    """Purchases in the next `t` of customers alive or not, buying at rate λ and leaving with chance p after each."""
    counts = np.zeros(len(lam))
    clock = np.zeros(len(lam))
    active = np.flatnonzero(alive)
    while active.size:
        clock[active] += rng.exponential(1.0 / lam[active])
        active = active[clock[active] <= t]
        counts[active] += 1
        active = active[rng.random(active.size) >= p[active]]
    return counts


#: prior standard deviation (log scale) of the drop-out parameters when maximum likelihood is not identified
FALLBACK_PRIOR_SD = 1.0


def fit_identified(model: type[TransactionModel], summary: pd.DataFrame) -> tuple[TransactionModel, TransactionModel]:
    """(the maximum-likelihood fit, the fit whose predictions to use): the first where it is identified; else
    the same model by MAP with weakly informative priors on drop-out (`FALLBACK_PRIOR_SD`), whose `converged_`
    says whether it may be used. A fit the data do not pin down has P(alive) at the optimizer's edge —
    typically 100% for everyone — so its own predictions are not used (docs/value.md)."""
    mle = model().fit(summary)
    if mle.identified_:
        return mle, mle
    return mle, model(prior_sd=FALLBACK_PRIOR_SD).fit(summary)
