"""BG/NBD: the beta-geometric / negative-binomial model of repeat buying (Fader, Hardie & Lee 2005).

Purchases while alive are Poisson(λ), λ ~ Gamma(r, α); after each purchase the customer drops out
with probability p, p ~ Beta(a, b).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.special import betaln, digamma, gammaln, hyp2f1, polygamma

from heedful.value._compute import Array, Codes, as_array, sum_blocks, unique_inverse, weighted_sum
from heedful.value.base import FitData
from heedful.value.btyd import TransactionModel, simulate_geometric_dropout


class BetaGeo(TransactionModel):
    """BG/NBD model; parameters `r, alpha` (purchase rate) and `a, b` (drop-out)."""

    param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ((1.0, 1.0, 1.0, 1.0), (0.5, 5.0, 0.5, 3.0))

    def _prior_centres(self, data: FitData) -> dict[str, float]:
        # drop-out p ~ Beta(a, b) centred on Beta(1, 3): a quarter of customers leave after a purchase, on average
        return {"a": 1.0, "b": 3.0}

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
        """Total log-likelihood and gradient in one pass.

        Terms of x alone are summed per distinct x, terms of T alone per distinct T (T and t_x take few
        values: days). What needs every row — the two-branch "tail" of the likelihood — runs block by
        block (cache-sized blocks, shared out over threads, added in block order: the result does not
        depend on the number of threads).

        Per row, with d = c2 − c1 = log(a/(b+x−1)) + (r+x)·log((α+T)/(α+t_x)) (−∞ without repeats):
        tail = log(e^c1 + e^c2) = c1 + softplus(d), c1 = −(r+x)·log(α+T), and the share of the
        "dropped out after the last purchase" branch is sigmoid(d).
        """
        r, alpha, a, b = params
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers
        T_u, T_i, t_u, t_i, w_T, wx_T = _time_index(d)
        log_bx_u = np.log(np.where(xu > 0, b + xu - 1, 1.0))
        odds_u = np.where(xu > 0, np.log(a) - log_bx_u, -np.inf)  # log a − log(b + x − 1); −∞: no such branch
        inv_bx_u = np.exp(-log_bx_u)
        log_T_u, log_t_u = np.log(alpha + T_u), np.log(alpha + t_u)
        inv_T_u, inv_t_u = 1.0 / (alpha + T_u), 1.0 / (alpha + t_u)

        def block(rows: slice) -> Array:
            w, xi, Ti, ti = d.weight[rows], d.x_index[rows], T_i[rows], t_i[rows]
            rx = r + d["x"][rows]
            log_ratio = log_T_u[Ti]
            log_ratio -= log_t_u[ti]  # log((α+T)/(α+t_x)) >= 0
            diff = rx * log_ratio
            diff += odds_u[xi]
            # softplus and sigmoid written out (np.logaddexp is a scalar loop, ~13 ns a row): e = exp(−|d|)
            e = np.abs(diff)
            np.negative(e, out=e)
            np.exp(e, out=e)
            softplus = np.maximum(diff, 0.0)
            softplus += np.log1p(e)
            w2 = np.minimum(diff, 0.0)  # exp(min(d, 0)) / (1 + e) = sigmoid(d), weighted below
            np.exp(w2, out=w2)
            e += 1.0
            w2 /= e
            w2 *= w
            rate_gap = inv_T_u[Ti]
            rate_gap -= inv_t_u[ti]  # 1/(α+T) − 1/(α+t_x)
            rate_gap *= rx
            return np.array(
                [
                    weighted_sum(w, softplus),
                    weighted_sum(w2, log_ratio),
                    weighted_sum(w2, rate_gap),
                    w2.sum(),
                    weighted_sum(w2, inv_bx_u[xi]),
                ]
            )

        softplus_sum, w2_log_ratio, w2_rate_gap, w2_sum, w2_inv_bx = sum_blocks(block, d.blocks)
        # Σ w·(r+x)·log(α+T) and Σ w·(r+x)/(α+T), over the distinct T
        rx_log_T = r * weighted_sum(w_T, log_T_u) + weighted_sum(wx_T, log_T_u)
        rx_rate_T = r * weighted_sum(w_T, inv_T_u) + weighted_sum(wx_T, inv_T_u)
        head = weighted_sum(wx, (gammaln(r + xu) + betaln(a, b + xu))) + n * (
            r * np.log(alpha) - gammaln(r) - betaln(a, b)
        )
        psi_ab, psi_abx = digamma(a + b), digamma(a + b + xu)
        grad = np.array(
            [
                weighted_sum(wx, digamma(r + xu))
                - n * digamma(r)
                + n * np.log(alpha)
                - weighted_sum(w_T, log_T_u)
                + w2_log_ratio,
                n * r / alpha - rx_rate_T + w2_rate_gap,
                weighted_sum(wx, (psi_ab - psi_abx)) + w2_sum / a,
                weighted_sum(wx, (digamma(b + xu) - digamma(b) + psi_ab - psi_abx)) - w2_inv_bx,
            ]
        )
        return float(head - rx_log_T + softplus_sum), grad

    def _hessian(self, params: Array, d: FitData) -> Array | None:
        """Second derivatives in closed form, in one block-wise pass (the same d, softplus and sigmoid).

        Per row the tail is c1 + softplus(d): its Hessian is σ(1−σ)·∇d∇dᵀ + σ·∇²d, with
        ∇d = (λ, (r+x)γ, 1/a, −1/(b+x−1)), λ = log((α+T)/(α+t_x)), γ = 1/(α+T) − 1/(α+t_x).
        """
        r, alpha, a, b = params
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers
        T_u, T_i, t_u, t_i, w_T, wx_T = _time_index(d)
        log_bx_u = np.log(np.where(xu > 0, b + xu - 1, 1.0))
        odds_u = np.where(xu > 0, np.log(a) - log_bx_u, -np.inf)
        inv_bx_u = np.exp(-log_bx_u)
        log_T_u, log_t_u = np.log(alpha + T_u), np.log(alpha + t_u)
        inv_T_u, inv_t_u = 1.0 / (alpha + T_u), 1.0 / (alpha + t_u)
        inv2_T_u, inv2_t_u = inv_T_u * inv_T_u, inv_t_u * inv_t_u

        def block(rows: slice) -> Array:
            w, xi, Ti, ti = d.weight[rows], d.x_index[rows], T_i[rows], t_i[rows]
            rx = r + d["x"][rows]
            lam = log_T_u[Ti] - log_t_u[ti]
            gam = inv_T_u[Ti] - inv_t_u[ti]
            g = rx * gam
            diff = rx * lam + odds_u[xi]
            e = np.exp(-np.abs(diff))
            w2 = np.exp(np.minimum(diff, 0.0)) / (1.0 + e) * w  # w·σ(d)
            u = w * e / ((1.0 + e) * (1.0 + e))  # w·σ(d)·(1 − σ(d))
            ib = inv_bx_u[xi]
            ul, ug, uib = u * lam, u * g, u * ib
            return np.array(
                [
                    u.sum(),
                    ul.sum(),
                    weighted_sum(ul, lam),
                    ug.sum(),
                    weighted_sum(ug, g),
                    weighted_sum(ul, g),
                    uib.sum(),
                    weighted_sum(ul, ib),
                    weighted_sum(ug, ib),
                    weighted_sum(uib, ib),
                    weighted_sum(w2, gam),
                    weighted_sum(w2 * rx, inv2_t_u[ti] - inv2_T_u[Ti]),
                    w2.sum(),
                    weighted_sum(w2 * ib, ib),
                ]
            )

        (u, u_l, u_ll, u_g, u_gg, u_lg, u_b, u_lb, u_gb, u_bb, w2_gam, w2_delta, w2, w2_bb) = sum_blocks(
            block, d.blocks
        )
        tri_ab = polygamma(1, a + b) - polygamma(1, a + b + xu)
        h = np.empty((4, 4))
        h[0, 0] = weighted_sum(wx, polygamma(1, r + xu)) - n * polygamma(1, r) + u_ll
        h[0, 1] = n / alpha - weighted_sum(w_T, inv_T_u) + u_lg + w2_gam
        h[1, 1] = -n * r / alpha**2 + r * weighted_sum(w_T, inv2_T_u) + weighted_sum(wx_T, inv2_T_u) + u_gg + w2_delta
        h[0, 2], h[0, 3] = u_l / a, -u_lb
        h[1, 2], h[1, 3] = u_g / a, -u_gb
        h[2, 2] = weighted_sum(wx, tri_ab) + (u - w2) / a**2
        h[2, 3] = weighted_sum(wx, tri_ab) - u_b / a
        h[3, 3] = weighted_sum(wx, polygamma(1, b + xu) - polygamma(1, b) + tri_ab) + u_bb + w2_bb
        for i in range(4):
            for j in range(i):
                h[i, j] = h[j, i]
        return h

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

    def _simulate_future(self, x: Array, t_x: Array, T: Array, t: float, rng: np.random.Generator) -> Array:
        # alive at T: λ | x ~ Gamma(r + x, α + T), p | x ~ Beta(a, b + x) (survived x drop-out chances)
        r, alpha, a, b = self._p()
        alive = rng.random(len(x)) < self._p_alive(x, t_x, T)
        lam = rng.gamma(r + x, 1.0 / (alpha + T))
        return simulate_geometric_dropout(alive, lam, rng.beta(a, b + x), t, rng)


def _time_index(d: FitData) -> tuple[Array, Codes, Array, Codes, Array, Array]:
    """Distinct T and t_x with each row's index into them, and customers (w) and purchases (w·x) per T."""
    if "time_index" not in d.extra:
        T_u, T_i = unique_inverse(d["T"])
        t_u, t_i = unique_inverse(d["t_x"])
        w_T = np.bincount(T_i, weights=d.weight, minlength=len(T_u)).astype(np.float64)
        wx_T = np.bincount(T_i, weights=d.weight * d["x"], minlength=len(T_u)).astype(np.float64)
        d.extra["time_index"] = (T_u, T_i, t_u, t_i, w_T, wx_T)
    cached: tuple[Array, Codes, Array, Codes, Array, Array] = d.extra["time_index"]
    return cached


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
