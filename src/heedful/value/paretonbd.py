"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987) in the closed form of Fader & Hardie (2005),
"A Note on Deriving the Pareto/NBD Model and Related Expressions".

Purchases while alive are Poisson(λ), λ ~ Gamma(r, α); lifetimes are exponential(μ), μ ~ Gamma(s, β).
The hypergeometric terms are Euler-transformed to 2F1(1, ·; ·; z) with 0 <= z < 1, whose series has
only positive terms, and combined in log space, so the likelihood stays finite and accurate.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import expit, gammaln, hyp2f1

from heedful.value._compute import Array, as_array
from heedful.value.base import FitData
from heedful.value.bgnbd import _rate_start
from heedful.value.btyd import TransactionModel


def _log_a0(r: float, alpha: float, s: float, beta: float, x: Array, t_x: Array, T: Array) -> Array:
    """log A0 = log ∫_{t_x}^{T} (α+y)^-(r+x) (β+y)^-(s+1) dy · (r+s+x)   (Fader & Hardie 2005, eq. 19-20)."""

    def log_h(t: Array) -> Array:
        if alpha >= beta:
            z = (alpha - beta) / (alpha + t)
            return -s * np.log(beta + t) - (r + x) * np.log(alpha + t) + np.log(hyp2f1(1.0, r + x, r + s + x + 1, z))
        z = (beta - alpha) / (beta + t)
        return (
            (1 - r - x) * np.log(alpha + t) - (s + 1) * np.log(beta + t) + np.log(hyp2f1(1.0, s + 1, r + s + x + 1, z))
        )

    upper, lower = log_h(t_x), log_h(T)
    with np.errstate(divide="ignore"):
        return as_array(upper + np.log1p(-np.exp(np.minimum(lower - upper, 0.0))))


class ParetoNBD(TransactionModel):
    """Pareto/NBD model; parameters `r, alpha` (purchase rate) and `s, beta` (lifetime)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "s", "beta")
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ((1.0, 1.0, 1.0, 1.0), (0.5, 10.0, 0.5, 10.0))

    def _prior_centres(self, data: FitData) -> dict[str, float]:
        # lifetime rate μ ~ Gamma(s, β) centred on s = 1 and a mean lifetime of twice the mean observation window
        window = float(np.clip(np.average(data["T"], weights=data.weight), 0.1, 1e4))
        return {"s": 1.0, "beta": 2.0 * window}

    def _loglik_rows(self, params: Array, data: FitData) -> Array:
        r, alpha, s, beta = params
        x, t_x, T = data["x"], data["t_x"], data["T"]
        xu = data.x_unique
        head = data.per_x(gammaln(r + xu) - gammaln(r)) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        died = np.log(s / (r + s + x)) + _log_a0(r, alpha, s, beta, x, t_x, T)
        return as_array(head + np.logaddexp(alive, died))

    def _data_start(self, data: FitData) -> tuple[float, ...] | None:
        r, alpha = _rate_start(data)
        return (r, alpha, 1.0, float(np.clip(np.average(data["T"], weights=data.weight), 0.1, 1e4)))

    # ------------------------------------------------------------------ predictions
    def expected_purchases_new_customer(self, t: Array | float) -> Array:
        r, alpha, s, beta = self._p()
        t = as_array(t)
        return as_array(r * beta / alpha * _lifetime_integral(s, np.log(beta / (beta + t))))

    def _p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, s, beta = self._p()
        with np.errstate(all="ignore"):
            log_odds = (
                np.log(s / (r + s + x))
                + (r + x) * np.log(alpha + T)
                + s * np.log(beta + T)
                + _log_a0(r, alpha, s, beta, x, t_x, T)
            )
        return as_array(expit(-log_odds))

    def _purchases_if_alive(self, t: float | Array, x: Array, T: Array) -> Array:
        r, alpha, s, beta = self._p()
        rate = (r + x) * (beta + T) / (alpha + T)
        return as_array(rate * _lifetime_integral(s, np.log((beta + T) / (beta + T + t))))

    def _simulate_future(self, x: Array, t_x: Array, T: Array, t: float, rng: np.random.Generator) -> Array:
        # alive at T: λ ~ Gamma(r + x, α + T), μ ~ Gamma(s, β + T); the rest of life is Exponential(μ)
        r, alpha, s, beta = self._p()
        alive = rng.random(len(x)) < self._p_alive(x, t_x, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        mu = np.maximum(rng.gamma(s, 1.0 / (beta + T)), 1e-300)  # s → 0: lifetimes beyond any horizon
        life = rng.exponential(np.minimum(1.0 / mu, 1e300))
        return np.where(alive, rng.poisson(lam * np.minimum(life, t)), 0).astype(np.float64)


def _lifetime_integral(s: float, log_ratio: Array) -> Array:
    """[1 - ratio^(s-1)] / (s-1), with its limit -log(ratio) at s = 1."""
    if abs(s - 1) < 1e-8:
        return as_array(-log_ratio)
    return as_array(-np.expm1((s - 1) * log_ratio) / (s - 1))
