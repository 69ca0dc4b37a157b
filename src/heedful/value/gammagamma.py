"""Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV"; Fader & Hardie 2013 note).

A customer's transaction values are Gamma(p, ν) around their mean, ν ~ Gamma(q, v) across customers.
Fitted on customers with at least one repeat transaction, from (x, mean repeat spend).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln, polygamma

from heedful.errors import InputError
from heedful.value._compute import Array, as_array, sum_blocks, weighted_sum
from heedful.value.base import FitData, ValueModel


class GammaGamma(ValueModel):
    """Gamma-Gamma spend model; parameters `p, q, v` (v is the γ of the literature)."""

    param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")
    data_columns: ClassVar[tuple[str, ...]] = ("frequency", "monetary_value")
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ((1.0, 1.0, 1.0), (5.0, 3.0, 10.0))

    def _prepare(self, summary: pd.DataFrame) -> FitData:
        x = as_array(summary["frequency"])
        m = as_array(summary["monetary_value"])
        keep = (x > 0) & (m > 0) & np.isfinite(m)
        if not keep.any():
            raise InputError("Gamma-Gamma needs customers with repeat purchases of positive value; none found.")
        return FitData.from_arrays({"x": x[keep], "m": m[keep]}, merge=False)  # mean spends rarely repeat

    def _check_data(self, data: FitData) -> str | None:
        if data.n_rows < 2 or np.ptp(data["m"]) == 0:
            return "all customers have the same mean spend: the spread of spend cannot be estimated"
        return None

    def _loglik_rows(self, params: Array, data: FitData) -> Array:
        p, q, v = params
        x, m = data["x"], data["m"]
        px = p * x
        return as_array(
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(m)
            + px * np.log(x)
            - (px + q) * np.log(v + x * m)
        )

    def _gradient_rows(self, params: Array, data: FitData) -> Array:
        p, q, v = params
        x, m = data["x"], data["m"]
        px = p * x
        psi = digamma(px + q)
        log_vxm = np.log(v + x * m)
        d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - log_vxm)
        d_q = psi - digamma(q) + np.log(v) - log_vxm
        d_v = q / v - (px + q) / (v + x * m)
        return np.vstack([d_p, d_q, d_v])

    def _data_start(self, data: FitData) -> tuple[float, ...] | None:
        return (2.0, 3.0, float(np.average(data["m"], weights=data.weight)))

    def _starts(self, data: FitData) -> list[tuple[float, ...]]:
        """The method-of-moments estimate first where the moments give one: far fewer iterations from there."""
        starts = super()._starts(data)
        moments = _moment_start(data)
        return starts if moments is None else [moments, *starts]

    def _value_and_gradient(self, params: Array, d: FitData) -> tuple[float, Array | None]:
        """Sufficient statistics: only log(v + x·m) needs a pass over the customers."""
        p, q, v = params
        w = d.weight
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers
        st = _fixed_terms(d)
        # the only per-customer work: log(v + x·m) and 1/(v + x·m), then four dot products, block by block
        xm, wx_rows = d["xm"], d["wx"]

        def block(rows: slice) -> Array:
            vxm = v + xm[rows]
            log_vxm = np.log(vxm)
            inv_vxm = 1.0 / vxm
            w_rows, wx_block = w[rows], wx_rows[rows]
            return np.array(
                [
                    weighted_sum(wx_block, log_vxm),
                    weighted_sum(w_rows, log_vxm),
                    weighted_sum(wx_block, inv_vxm),
                    weighted_sum(w_rows, inv_vxm),
                ]
            )

        wx_log, w_log, wx_inv, w_inv = sum_blocks(block, d.blocks)
        pxu = p * xu
        ll = (
            weighted_sum(wx, (gammaln(pxu + q) - gammaln(pxu)))
            + n * (q * np.log(v) - gammaln(q))
            + p * st["xlogm"]
            - st["logm"]
            + p * st["xlogx"]
            - p * wx_log
            - q * w_log
        )
        psi = digamma(pxu + q)
        grad = np.array(
            [
                weighted_sum((wx * xu), (psi - digamma(pxu))) + st["xlogm"] + st["xlogx"] - wx_log,
                weighted_sum(wx, psi) - n * digamma(q) + n * np.log(v) - w_log,
                n * q / v - p * wx_inv - q * w_inv,
            ]
        )
        return float(ll), grad

    def _hessian(self, params: Array, d: FitData) -> Array | None:
        """Second derivatives in closed form: one pass for Σ w·x^k/(v + x·m)² (k = 0, 1) and x-only sums."""
        p, q, v = params
        _fixed_terms(d)
        xm, wx_rows, w = d["xm"], d["wx"], d.weight
        xu, wx, n = d.x_unique, d.x_weight, d.n_customers

        def block(rows: slice) -> Array:
            inv_vxm = 1.0 / (v + xm[rows])
            inv_sq = inv_vxm * inv_vxm
            return np.array(
                [
                    weighted_sum(wx_rows[rows], inv_vxm),
                    weighted_sum(w[rows], inv_vxm),
                    weighted_sum(wx_rows[rows], inv_sq),
                    weighted_sum(w[rows], inv_sq),
                ]
            )

        wx_inv, w_inv, wx_inv_sq, w_inv_sq = sum_blocks(block, d.blocks)
        pxu = p * xu
        tri_pxq = polygamma(1, pxu + q)
        h_pp = weighted_sum(wx * xu * xu, tri_pxq - polygamma(1, pxu))
        h_pq = weighted_sum(wx * xu, tri_pxq)
        h_qq = weighted_sum(wx, tri_pxq) - n * float(polygamma(1, q))
        h_pv = -wx_inv
        h_qv = n / v - w_inv
        h_vv = -n * q / v**2 + p * wx_inv_sq + q * w_inv_sq
        return np.array([[h_pp, h_pq, h_pv], [h_pq, h_qq, h_qv], [h_pv, h_qv, h_vv]], dtype=np.float64)

    # ------------------------------------------------------------------ predictions
    def expected_spend(self, summary: pd.DataFrame) -> pd.Series:
        """E[mean spend per transaction | x, mean repeat spend]; customers with no repeat get the population mean."""
        p, q, v = self._p()
        x = as_array(summary["frequency"])
        m = np.nan_to_num(as_array(summary["monetary_value"]))
        m = np.where(x > 0, m, 0.0)
        with np.errstate(all="ignore"):
            value = p * (v + x * m) / (p * x + q - 1)
        return pd.Series(value, index=summary.index, name="expected_spend")

    @property
    def population_mean_spend(self) -> float:
        p, q, v = self._p()
        return p * v / (q - 1) if q > 1 else float("inf")


def _fixed_terms(d: FitData) -> dict[str, float]:
    """Sums that do not depend on the parameters, and the columns x·m and w·x (computed once per data)."""
    if not d.stats:
        x, m, w = d["x"], d["m"], d.weight
        d.stats.update(
            xlogm=float(weighted_sum(w, (x * np.log(m)))),
            logm=float(weighted_sum(w, np.log(m))),
            xlogx=float(weighted_sum(w, (x * np.log(x)))),
        )
        d.columns["xm"], d.columns["wx"] = x * m, w * x
    return d.stats


def _moment_start(data: FitData) -> tuple[float, float, float] | None:
    """Method-of-moments (p, q, v) from the mean spends, or None where the moments do not give one.

    E[m] = p·v/(q−1) and E[m² | x] = K·(p² + p/x) with K = v²/((q−1)(q−2)): a weighted least-squares
    line of m² on 1/x gives K·p² (intercept) and K·p (slope).
    """
    x, m, w = data["x"], data["m"], data.weight
    if data.n_rows < 3 or np.ptp(x) == 0:
        return None
    # weighted least squares of m² on (1, 1/x) by its 2×2 normal equations (lstsq on the tall matrix: 30 ms)
    inv_x, m2 = 1.0 / x, m * m
    n = float(w.sum())
    s_u, s_uu, s_y, s_uy = (weighted_sum(w, a) for a in (inv_x, inv_x * inv_x, m2, m2 * inv_x))
    mean = weighted_sum(w, m) / n
    with np.errstate(all="ignore"):
        det = n * s_uu - s_u * s_u
        intercept = (s_uu * s_y - s_u * s_uy) / det
        slope = (n * s_uy - s_u * s_y) / det
        ratio = intercept / mean**2
        if not (intercept > 0 and slope > 0 and ratio > 1):
            return None
        p = intercept / slope
        q = (2 * ratio - 1) / (ratio - 1)
        v = mean * (q - 1) / p
    start = (float(p), float(q), float(v))
    return start if all(np.isfinite(start)) and all(0 < value < 1e5 for value in start) else None
