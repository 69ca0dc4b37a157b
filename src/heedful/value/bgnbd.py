"""BG/NBD: the beta-geometric / negative-binomial model of repeat buying (Fader, Hardie & Lee 2005).

Purchases while alive are Poisson(λ), λ ~ Gamma(r, α); after each purchase the customer drops out
with probability p, p ~ Beta(a, b).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1

from heedful.value._special import Array, as_array, sum_blocks, weighted_sum
from heedful.value.base import FitData
from heedful.value.btyd import TransactionModel


class BetaGeo(TransactionModel):
    """BG/NBD model; parameters `r, alpha` (purchase rate) and `a, b` (drop-out)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ((1.0, 1.0, 1.0, 1.0), (0.5, 5.0, 0.5, 3.0))

    def _terms(self, params: Array, d: FitData) -> tuple[Array, Array, Array, Array]:
        r, alpha, a, b = params
        x, t_x, T = d["x"], d["t_x"], d["T"]
        xu = d.x_unique
        # gamma/beta terms depend on x only: compute once per distinct x
        head_u = gammaln(r + xu) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xu) - betaln(a, b)
        head = d.per_x(head_u)
        c1 = -(r + x) * np.log(alpha + T)
        repeat = x > 0
        c2 = np.where(
            repeat, np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
        tail = np.logaddexp(c1, c2)
        w2 = np.exp(c2 - tail)  # share of the "dropped out after the last purchase" branch
        return head, tail, w2, np.asarray(repeat, dtype=np.float64)

    def _loglik_rows(self, params: Array, data: FitData) -> Array:
        head, tail, _, _ = self._terms(params, data)
        return head + tail

    def _gradient_rows(self, params: Array, data: FitData) -> Array:
        r, alpha, a, b = params
        x, t_x, T = data["x"], data["t_x"], data["T"]
        xu = data.x_unique
        _, _, w2, repeat = self._terms(params, data)
        w1 = 1.0 - w2
        la_T, la_t = np.log(alpha + T), np.log(alpha + t_x)
        d_r = data.per_x(digamma(r + xu) - digamma(r)) + np.log(alpha) - w1 * la_T - w2 * la_t
        d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 / (alpha + t_x))
        psi_ab = digamma(a + b)
        d_a = data.per_x(psi_ab - digamma(a + b + xu)) + w2 / a
        d_b = data.per_x(digamma(b + xu) - digamma(b) + psi_ab - digamma(a + b + xu)) - w2 * repeat / np.where(
            x > 0, b + x - 1, 1.0
        )
        return np.vstack([d_r, d_alpha, d_a, d_b])

    def _data_start(self, data: FitData) -> tuple[float, ...] | None:
        return (*_rate_start(data), 1.0, 2.0)

    def _value_and_gradient(self, params: Array, d: FitData) -> tuple[float, Array | None]:
        """Total log-likelihood and gradient in one pass; x-only terms are summed per distinct x.

        The per-row part runs block by block (cache-sized blocks, shared out over threads); each block
        returns its weighted sums and the blocks are added in order, so the result does not depend on
        the number of threads.
        """
        r, alpha, a, b = params
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers
        log_bx_u = np.log(np.where(xu > 0, b + xu - 1, 1.0))
        # log a - log(b + x - 1) for repeat buyers; -inf for the others (no "dropped out after the last purchase" branch)
        odds_u = np.where(xu > 0, np.log(a) - log_bx_u, -np.inf)
        inv_bx_u = np.exp(-log_bx_u)

        def block(rows: slice) -> Array:
            x, t_x, T, w, xi = d["x"][rows], d["t_x"][rows], d["T"][rows], d.weight[rows], d.x_index[rows]
            rx = r + x
            alpha_T, alpha_t = alpha + T, alpha + t_x
            log_T, log_t = np.log(alpha_T), np.log(alpha_t)
            c1 = -rx * log_T
            c2 = odds_u[xi] - rx * log_t
            # tail = logaddexp(c1, c2) and w2 = exp(c2 - tail), written out: np.logaddexp is a scalar loop
            # (~13 ns a row), this is vectorised; the same formula, max + log1p(exp(-|c2 - c1|))
            diff = c2 - c1
            e = np.exp(-np.abs(diff))
            tail = np.maximum(c1, c2) + np.log1p(e)
            # weighted share of "dropped out after the last purchase": exp(min(diff, 0)) is e where diff <= 0, else 1
            w2 = np.exp(np.minimum(diff, 0.0)) / (1.0 + e) * w
            w1 = w - w2
            return np.array(
                [
                    weighted_sum(w, tail),
                    weighted_sum(w1, log_T),
                    weighted_sum(w2, log_t),
                    weighted_sum((w1 * rx), (1 / alpha_T)),
                    weighted_sum((w2 * rx), (1 / alpha_t)),
                    w2.sum(),
                    weighted_sum(w2, inv_bx_u[xi]),
                ]
            )

        tail_sum, w1_log_T, w2_log_t, w1_rate_T, w2_rate_t, w2_sum, w2_inv_bx = sum_blocks(block, d.blocks)
        head = weighted_sum(wx, (gammaln(r + xu) + betaln(a, b + xu))) + n * (
            r * np.log(alpha) - gammaln(r) - betaln(a, b)
        )
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + xu)
        grad = np.array(
            [
                weighted_sum(wx, digamma(r + xu)) - n * digamma(r) + n * np.log(alpha) - w1_log_T - w2_log_t,
                n * r / alpha - w1_rate_T - w2_rate_t,
                weighted_sum(wx, (psi_ab - psi_abx)) + w2_sum / a,
                weighted_sum(wx, (digamma(b + xu) - digamma(b) + psi_ab - psi_abx)) - w2_inv_bx,
            ]
        )
        return float(head + tail_sum), grad

    # ------------------------------------------------------------------ predictions
    def expected_purchases_new_customer(self, t: Array | float) -> Array:
        """E[X(t)]: expected repeat purchases in (0, t] of a customer just acquired."""
        r, alpha, a, b = self._p()
        t = as_array(t)
        z = t / (alpha + t)
        return as_array((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * _hyp(r, b, a + b - 1, z)))

    def _p_alive(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, a, b = self._p()
        with np.errstate(all="ignore"):
            odds = np.where(
                x > 0,
                a / np.where(x > 0, b + x - 1, 1.0) * np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + t_x))),
                0.0,
            )
        return 1.0 / (1.0 + odds)

    def _purchases_if_alive(self, t: float | Array, x: Array, T: Array) -> Array:
        r, alpha, a, b = self._p()
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
        with np.errstate(all="ignore"):
            ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
            return as_array((a + b + x - 1) / (a - 1) * (1 - ratio * hyp))


def _hyp(a: float, b: float, c: float, z: Array) -> Array:
    from scipy.special import hyp2f1

    return as_array(hyp2f1(a, b, c, z))


def _rate_start(data: FitData) -> tuple[float, float]:
    """Method-of-moments start for the Gamma(r, alpha) purchase rate from repeat purchases per unit time."""
    w = data.weight
    rate = data["x"] / np.maximum(data["T"], 1e-9)
    mean = float(np.dot(w, rate) / w.sum())
    var = float(np.dot(w, (rate - mean) ** 2) / w.sum())
    if mean <= 0 or var <= 0:
        return (1.0, 1.0)
    r = float(np.clip(mean**2 / var, 0.05, 20))
    return (r, float(np.clip(r / mean, 0.05, 1e4)))
