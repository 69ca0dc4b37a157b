"""MBG/NBD: the modified BG/NBD of Batislam, Denizel & Filiztekin (2007), where a customer can also drop
out right after the first purchase (so customers with no repeat purchase are not assumed alive)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import digamma, gammaln, hyp2f1

from heedful.value._compute import Array, as_array, weighted_sum
from heedful.value.base import FitData
from heedful.value.bgnbd import _rate_start
from heedful.value.btyd import TransactionModel, simulate_geometric_dropout


class ModifiedBetaGeo(TransactionModel):
    """MBG/NBD model; parameters `r, alpha` (purchase rate) and `a, b` (drop-out), as in BG/NBD."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ((1.0, 1.0, 1.0, 1.0), (0.5, 5.0, 0.5, 3.0))

    def _prior_centres(self, data: FitData) -> dict[str, float]:
        # drop-out p ~ Beta(a, b) centred on Beta(1, 3): a quarter of customers leave after a purchase, on average
        return {"a": 1.0, "b": 3.0}

    def _terms(self, params: Array, d: FitData) -> tuple[Array, Array, Array]:
        r, alpha, a, b = params
        x, t_x, T = d["x"], d["t_x"], d["T"]
        xu = d.x_unique
        head_u = (
            gammaln(r + xu)
            - gammaln(r)
            + r * np.log(alpha)
            + gammaln(a + b)
            + gammaln(b + xu + 1)
            - gammaln(b)
            - gammaln(a + b + xu + 1)
        )
        c1 = -(r + x) * np.log(alpha + T)
        c2 = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
        tail = np.logaddexp(c1, c2)
        return d.per_x(head_u), tail, np.exp(c2 - tail)

    def _loglik_rows(self, params: Array, data: FitData) -> Array:
        head, tail, _ = self._terms(params, data)
        return head + tail

    def _gradient_rows(self, params: Array, data: FitData) -> Array:
        r, alpha, a, b = params
        x, t_x, T = data["x"], data["t_x"], data["T"]
        xu = data.x_unique
        _, _, w2 = self._terms(params, data)
        w1 = 1.0 - w2
        d_r = (
            data.per_x(digamma(r + xu) - digamma(r)) + np.log(alpha) - w1 * np.log(alpha + T) - w2 * np.log(alpha + t_x)
        )
        d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + xu + 1)
        d_a = data.per_x(psi_ab - psi_abx) + w2 / a
        d_b = data.per_x(psi_ab + digamma(b + xu + 1) - digamma(b) - psi_abx) - w2 / (b + x)
        return np.vstack([d_r, d_alpha, d_a, d_b])

    def _data_start(self, data: FitData) -> tuple[float, ...] | None:
        return (*_rate_start(data), 1.0, 2.0)

    def _value_and_gradient(self, params: Array, d: FitData) -> tuple[float, Array | None]:
        r, alpha, a, b = params
        x, t_x, T, w = d["x"], d["t_x"], d["T"], d.weight
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers
        rx = r + x
        log_T, log_t = np.log(alpha + T), np.log(alpha + t_x)
        log_bx = d.per_x(np.log(b + xu))
        c1 = -rx * log_T
        c2 = np.log(a) - log_bx - rx * log_t
        tail = np.logaddexp(c1, c2)
        w2 = np.exp(c2 - tail) * w
        w1 = w - w2
        head = weighted_sum(wx, (gammaln(r + xu) + gammaln(b + xu + 1) - gammaln(a + b + xu + 1))) + n * (
            r * np.log(alpha) - gammaln(r) + gammaln(a + b) - gammaln(b)
        )
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + xu + 1)
        grad = np.array(
            [
                weighted_sum(wx, digamma(r + xu))
                - n * digamma(r)
                + n * np.log(alpha)
                - weighted_sum(w1, log_T)
                - weighted_sum(w2, log_t),
                n * r / alpha
                - weighted_sum((w1 * rx), (1 / (alpha + T)))
                - weighted_sum((w2 * rx), (1 / (alpha + t_x))),
                n * psi_ab - weighted_sum(wx, psi_abx) + w2.sum() / a,
                weighted_sum(wx, (digamma(b + xu + 1) - psi_abx))
                + n * (psi_ab - digamma(b))
                - weighted_sum(w2, np.exp(-log_bx)),
            ]
        )
        return float(head + weighted_sum(w, tail)), grad

    # ------------------------------------------------------------------ predictions
    def expected_purchases_new_customer(self, t: Array | float) -> Array:
        r, alpha, a, b = self._p()
        t = as_array(t)
        return as_array(b / (a - 1) * (1 - hyp2f1(r, b + 1, a + b, t / (alpha + t)) * (alpha / (alpha + t)) ** r))

    def _p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, a, b = self._p()
        with np.errstate(all="ignore"):
            odds = a / (b + x) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return as_array(1.0 / (1.0 + odds))

    def _purchases_if_alive(self, t: float | Array, x: Array, T: Array) -> Array:
        r, alpha, a, b = self._p()
        hyp = hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t))
        with np.errstate(all="ignore"):
            ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
            return as_array((a + b + x) / (a - 1) * (1 - ratio * hyp))

    def _simulate_future(self, x: Array, t_x: Array, T: Array, t: float, rng: np.random.Generator) -> Array:
        # alive at T: λ | x ~ Gamma(r + x, α + T), p | x ~ Beta(a, b + x + 1) (the first purchase is a chance too)
        r, alpha, a, b = self._p()
        alive = rng.random(len(x)) < self._p_alive(x, t_x, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        return simulate_geometric_dropout(alive, lam, rng.beta(a, b + x + 1), t, rng)
