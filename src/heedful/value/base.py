"""Shared maximum-likelihood machinery for the customer-value models (fit, standard errors, intervals, summary).

A model declares its parameter names, a vectorised per-row log-likelihood and (optionally) its
per-row gradient; everything else — compressing identical customers, multi-start optimisation on
log-parameters, Hessian standard errors, delta-method intervals and the `converged` verdict — is here.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import optimize

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.value._compute import (
    BLOCK_ROWS,
    Codes,
    as_array,
    block_slices,
    distinct_rows,
    one_blas_thread,
    unique_inverse,
)

Array = np.ndarray[Any, np.dtype[np.float64]]

Z95 = 1.959963984540054
SINGULAR = 1e-6  # smallest / largest eigenvalue of the information below this: numerically singular
LOG_BOUND = 12.0  # log-parameters live in [-12, 12]: a parameter reaching it is not identified by the data
WIDE_INTERVAL = 1000.0  # a 95% interval whose upper end is over 1,000× its lower end: the data barely inform it


@dataclass
class FitData:
    """Model inputs with identical rows merged; `weight` counts how many customers each row stands for.

    `x_unique` / `x_index` let models evaluate special functions that depend on x alone once per
    distinct x instead of once per customer (the expensive part of every BTYD likelihood).
    `row_codes` maps each input row to its merged row (so predictions can reuse the grouping).
    """

    columns: dict[str, Array]
    weight: Array
    x_unique: Array = field(default_factory=lambda: np.zeros(0))
    x_index: Codes = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    x_weight: Array = field(default_factory=lambda: np.zeros(0))  # customers per distinct x
    stats: dict[str, float] = field(default_factory=dict)  # model-specific sufficient statistics
    row_codes: Codes | None = None
    block_rows: int = BLOCK_ROWS  # rows per block in block-wise evaluation (smaller in tests)
    extra: dict[str, Any] = field(default_factory=dict)  # model-specific precomputed arrays

    def __getitem__(self, name: str) -> Array:
        return self.columns[name]

    @property
    def n_rows(self) -> int:
        return len(self.weight)

    @property
    def n_customers(self) -> float:
        return float(self.weight.sum())

    @property
    def blocks(self) -> list[slice]:
        """Row blocks for block-wise (cache-sized, multi-threaded) evaluation of a likelihood."""
        return block_slices(self.n_rows, self.block_rows)

    @classmethod
    def from_arrays(
        cls, columns: dict[str, Array], weight: Array | None = None, x_name: str = "x", merge: bool = True
    ) -> FitData:
        """Merge identical rows (exact float equality) and index the distinct values of `x_name`.

        `merge=False` skips the merging where rows are known to be nearly all distinct (a
        continuous column such as mean spend): hashing them would cost more than it saves.
        Merged rows keep the order of their first appearance.
        """
        names = list(columns)
        row_codes: Codes | None = None
        if merge:
            row_codes, distinct = distinct_rows(*(columns[n] for n in names))
            cols = {n: np.ascontiguousarray(v, dtype=np.float64) for n, v in zip(names, distinct, strict=True)}
            w = None if weight is None else np.asarray(weight, dtype=np.float64)
            weights = np.bincount(row_codes, weights=w, minlength=len(distinct[0])).astype(np.float64)
        else:
            cols = {n: np.ascontiguousarray(columns[n], dtype=np.float64) for n in names}
            n_rows = len(cols[x_name])
            weights = np.ones(n_rows) if weight is None else np.asarray(weight, dtype=np.float64)
        x_unique, x_index = unique_inverse(cols[x_name])
        x_weight = np.bincount(x_index.ravel(), weights=weights, minlength=len(x_unique)).astype(np.float64)
        return cls(cols, weights, x_unique.astype(np.float64), x_index.ravel(), x_weight, row_codes=row_codes)

    def per_x(self, values_on_unique_x: Array) -> Array:
        """Spread values computed on `x_unique` back to the rows."""
        return values_on_unique_x[self.x_index]


@dataclass(frozen=True)
class FitDiagnostics:
    converged: bool
    reason: str
    n_starts: int
    iterations: int
    gradient_norm: float


class ValueModel(BaseEstimator):
    """Base class: subclasses set `param_names`, `data_columns`, and implement `_loglik_rows` (+ `_gradient_rows`).

    A scikit-learn estimator: `__init__` holds the optimizer settings only, `fit` sets `params_` and the rest.
    """

    param_names: ClassVar[tuple[str, ...]] = ()
    #: summary columns the model reads, in the order `_prepare` expects them
    data_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")
    #: starting points (natural scale) tried in addition to the data-driven one
    default_starts: ClassVar[tuple[tuple[float, ...], ...]] = ()

    params_: pd.Series
    log_likelihood_: float
    converged_: bool
    convergence_reason_: str
    n_customers_: int
    covariance_: pd.DataFrame  # of the log-parameters

    def __init__(
        self, max_iter: int = 500, tol: float = 1e-9, n_starts: int = 3, prior_sd: float | None = None
    ) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.n_starts = n_starts
        #: None: maximum likelihood. A number: maximum a posteriori with weakly informative priors —
        #: log θ ~ Normal(log centre, prior_sd²) on the parameters `_prior_centres` names (the ones the
        #: data may leave unidentified, e.g. BG/NBD's drop-out a and b); the others stay flat.
        self.prior_sd = prior_sd

    # ------------------------------------------------------------------ model-specific
    def _prepare(self, summary: pd.DataFrame) -> FitData:
        cols = {k: as_array(summary[c]) for k, c in (("x", "frequency"), ("t_x", "recency"), ("T", "T"))}
        for name, values in cols.items():
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise InputError(f"The summary's {name} column has missing, infinite or negative values.")
        return FitData.from_arrays(cols)

    def _check_data(self, data: FitData) -> str | None:
        """A reason the model cannot be identified from this data, or None."""
        return None

    def _prior_centres(self, data: FitData) -> dict[str, float]:
        """Natural-scale centres of the weakly informative priors (used when `prior_sd` is set); none by default."""
        return {}

    def _prior(self, data: FitData) -> tuple[Array, Array] | None:
        """(log centre, 1/sd²) per parameter (0 where flat), or None for maximum likelihood."""
        if self.prior_sd is None:
            return None
        if not self.prior_sd > 0:
            raise InputError("prior_sd must be a positive number (or None for maximum likelihood).")
        centres = self._prior_centres(data)
        names = list(self.param_names)
        mean = np.array([math.log(centres[n]) if n in centres else 0.0 for n in names])
        precision = np.array([1.0 / self.prior_sd**2 if n in centres else 0.0 for n in names])
        return mean, precision

    def _loglik_rows(self, params: Array, data: FitData) -> Array:
        raise NotImplementedError

    def _gradient_rows(self, params: Array, data: FitData) -> Array | None:
        """d loglik_row / d param, shape (n_params, n_rows); None means finite differences."""
        return None

    def _data_start(self, data: FitData) -> tuple[float, ...] | None:
        return None

    def _hessian(self, params: Array, data: FitData) -> Array | None:
        """Hessian of the total log-likelihood in the natural parameters; None: difference the gradient."""
        return None

    def _value_and_gradient(self, params: Array, data: FitData) -> tuple[float, Array | None]:
        """Total log-likelihood and its gradient (natural parameters); models may override for speed."""
        ll = float(np.dot(data.weight, self._loglik_rows(params, data)))
        rows = self._gradient_rows(params, data)
        return ll, None if rows is None else np.asarray(rows @ data.weight, dtype=np.float64)

    # ------------------------------------------------------------------ fitting
    def fit(self, summary: pd.DataFrame) -> Self:
        """Maximum-likelihood fit on a customer summary (`transaction_summary` output or alike)."""
        missing = [c for c in self.data_columns if c not in summary.columns]
        if missing:
            raise InputError(f"The summary lacks column(s) {missing}; build it with heedful.value.transaction_summary.")
        if len(summary) == 0:
            raise InputError("No customers to fit the model on.")
        data = self._prepare(summary)
        self._memo: dict[bytes, tuple[float, Array | None]] = {}
        self._prior_now = self._prior(data)
        try:
            with one_blas_thread():
                self._fit_data(data)
        finally:
            del self._memo
            self._prior_now = None
        self._fitted_on(summary, data)
        return self

    def _fitted_on(self, summary: pd.DataFrame, data: FitData) -> None:
        """Hook: keep what predictions can reuse from the fit's data."""

    def _fit_data(self, data: FitData) -> None:
        self.n_customers_ = round(data.n_customers)
        degenerate = self._check_data(data)
        starts = self._starts(data)
        best: optimize.OptimizeResult | None = None
        tried = 0
        for start in starts[: max(1, self.n_starts)]:
            res = self._optimise(np.log(np.asarray(start, dtype=np.float64)), data)
            tried += 1
            if degenerate is None and not self._clean_optimum(res, data):
                res = self._newton_polish(res, data)
            if best is None or (np.isfinite(res.fun) and res.fun < best.fun):
                best = res
            if degenerate is None and self._clean_optimum(best, data):
                break  # the likelihoods here are unimodal in practice; further starts are for hard cases
        assert best is not None
        self.n_starts_tried_ = tried
        log_theta = np.asarray(best.x, dtype=np.float64)
        theta = np.exp(log_theta)
        self.params_ = pd.Series(theta, index=list(self.param_names), dtype=np.float64)
        self.log_likelihood_ = float(-best.fun * data.n_customers)
        if self._prior_now is not None:  # the data's likelihood, without the prior
            dev = log_theta - self._prior_now[0]
            self.log_likelihood_ += 0.5 * float(np.sum(self._prior_now[1] * dev * dev))
        self.estimation_ = "maximum likelihood" if self._prior_now is None else "MAP, weakly informative priors"
        cov = self._log_covariance(log_theta, data)
        self.covariance_ = pd.DataFrame(cov, index=list(self.param_names), columns=list(self.param_names))
        grad = self._total_gradient(theta, data) * theta
        diag = self._verdict(best, log_theta, cov, grad, degenerate)
        self.converged_ = diag.converged
        self.convergence_reason_ = diag.reason
        self.diagnostics_ = diag
        self.identified_, self.identification_ = self._identification(diag, cov)

    def _identification(self, diag: FitDiagnostics, cov: Array) -> tuple[bool, str]:
        """Whether the data pin the parameters down, in words: converged, interior, and every interval narrow.

        Convergence alone is not enough: a likelihood that keeps rising towards an edge, or is flat along a
        parameter, "converges" to a point the data do not choose. Such a fit's predictions (P(alive) = 100% for
        everyone) are the optimizer's, not the data's.
        """
        if not diag.converged:
            return False, diag.reason
        se_log = np.sqrt(np.diag(cov))
        ratio = np.exp(2 * Z95 * se_log)  # upper / lower end of the log-scale 95% interval
        wide = [name for name, r in zip(self.param_names, ratio, strict=True) if r > WIDE_INTERVAL]
        if wide:
            ci = self.confidence_intervals_
            spans = "; ".join(f"{n} from {ci.loc[n, 'lower 95%']:.3g} to {ci.loc[n, 'upper 95%']:.3g}" for n in wide)
            return (
                False,
                f"the 95% interval of {spans} spans more than three orders of magnitude: the data barely inform it",
            )
        return True, "identified: the fit converged inside the parameter space and every 95% interval is narrow"

    def _clean_optimum(self, res: optimize.OptimizeResult, data: FitData) -> bool:
        """Interior point with a vanishing gradient: no need to try other starts."""
        x = np.asarray(res.x)
        if not np.isfinite(res.fun) or np.any(np.abs(x) > LOG_BOUND - 1e-3):
            return False
        theta = np.exp(x)
        grad = self._total_gradient(theta, data) * theta
        return bool(np.all(np.isfinite(grad)) and np.max(np.abs(grad)) < 1e-4 * max(1.0, math.sqrt(data.n_customers)))

    def _starts(self, data: FitData) -> list[tuple[float, ...]]:
        starts: list[tuple[float, ...]] = []
        data_start = self._data_start(data)
        if data_start is not None and all(np.isfinite(data_start)) and all(v > 0 for v in data_start):
            starts.append(tuple(float(v) for v in data_start))
        starts.extend(self.default_starts)
        return starts or [tuple(1.0 for _ in self.param_names)]

    def _evaluate(self, theta: Array, data: FitData) -> tuple[float, Array | None]:
        """`_value_and_gradient`, remembered during a fit: the optimum is asked for again (clean? verdict)."""
        memo = getattr(self, "_memo", None)
        key = id(data).to_bytes(8, "little") + theta.tobytes()  # keyed by the data too
        if memo is not None and key in memo:
            ll, grad = memo[key]
            return ll, None if grad is None else grad.copy()
        with np.errstate(all="ignore"):
            ll, grad = self._value_and_gradient(theta, data)
        prior = getattr(self, "_prior_now", None)
        if prior is not None:  # log posterior: + Σ −(log θ − m)²·prec/2; d/dθ = −(log θ − m)·prec/θ
            dev = np.log(theta) - prior[0]
            ll = ll - 0.5 * float(np.sum(prior[1] * dev * dev))
            if grad is not None:
                grad = grad - prior[1] * dev / theta
        if memo is not None:
            if len(memo) >= 32:
                del memo[next(iter(memo))]
            memo[key] = (ll, None if grad is None else grad.copy())
        return ll, grad

    def _mean_negloglik(self, log_theta: Array, data: FitData) -> float:
        theta = np.exp(log_theta)
        value = -self._evaluate(theta, data)[0] / data.n_customers
        return value if math.isfinite(value) else 1e300

    def _total_gradient(self, theta: Array, data: FitData) -> Array:
        """Gradient of the total log-likelihood with respect to the natural parameters."""
        grad = self._evaluate(theta, data)[1]
        return grad if grad is not None else self._fd_gradient(theta, data)

    def _fd_gradient(self, theta: Array, data: FitData) -> Array:
        """Central differences in log-parameter space (relative steps keep them scale-free)."""
        log_theta = np.log(theta)
        grad = np.empty(len(theta))
        for i in range(len(theta)):
            h = 1e-5
            up, down = log_theta.copy(), log_theta.copy()
            up[i] += h
            down[i] -= h
            f_up = -self._mean_negloglik(up, data) * data.n_customers
            f_down = -self._mean_negloglik(down, data) * data.n_customers
            grad[i] = (f_up - f_down) / (2 * h) / theta[i]
        return grad

    def _optimise(self, log_start: Array, data: FitData) -> optimize.OptimizeResult:
        n = data.n_customers

        def objective(log_theta: Array) -> tuple[float, Array]:
            theta = np.exp(log_theta)
            ll, total_grad = self._evaluate(theta, data)
            value = -ll / n if math.isfinite(ll) else 1e300
            if total_grad is None:
                total_grad = self._fd_gradient(theta, data)
            grad = -total_grad * theta / n
            if not np.all(np.isfinite(grad)):
                grad = np.zeros_like(grad)
            return value, grad

        bounds = [(-LOG_BOUND, LOG_BOUND)] * len(log_start)
        start = np.clip(log_start, -LOG_BOUND + 1, LOG_BOUND - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optimize.minimize(
                objective,
                start,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": self.max_iter, "ftol": 1e-14, "gtol": self.tol},
            )

    def _log_hessian(self, log_theta: Array, data: FitData) -> Array:
        """Hessian of the total log-likelihood in the log-parameters: the model's own where it has one,
        else by central differences of the gradient."""
        k = len(log_theta)
        theta = np.exp(log_theta)
        with np.errstate(all="ignore"):
            natural = self._hessian(theta, data)
        prior = getattr(self, "_prior_now", None)
        if natural is not None and prior is not None:  # d²/dθ² of the log prior: −(1 − (log θ − m))·prec/θ²
            natural = natural - np.diag(prior[1] * (1.0 - (log_theta - prior[0])) / (theta * theta))
        if natural is not None:
            # d²ℓ/dlogθi dlogθj = θi θj d²ℓ/dθi dθj + [i = j] θi dℓ/dθi
            return np.asarray(natural * np.outer(theta, theta) + np.diag(theta * self._total_gradient(theta, data)))

        def grad_log(lt: Array) -> Array:
            theta = np.exp(lt)
            return self._total_gradient(theta, data) * theta

        hess = np.empty((k, k))
        for i in range(k):
            h = 1e-4
            up, down = log_theta.copy(), log_theta.copy()
            up[i] += h
            down[i] -= h
            hess[:, i] = (grad_log(up) - grad_log(down)) / (2 * h)
        return np.asarray((hess + hess.T) / 2, dtype=np.float64)

    def _log_covariance(self, log_theta: Array, data: FitData) -> Array:
        """Inverse of the observed information of the log-parameters (NaN where it is not positive definite)."""
        k = len(log_theta)
        info = -self._log_hessian(log_theta, data)
        try:
            eig = np.linalg.eigvalsh(info)
            # an eigenvalue within the differencing noise of zero (relative to the largest) is a flat direction:
            # its sign is rounding luck, and the data do not identify that combination of parameters
            if not np.all(np.isfinite(eig)) or eig.min() <= SINGULAR * max(eig.max(), 0.0):
                return np.full((k, k), np.nan)
            return np.asarray(np.linalg.inv(info), dtype=np.float64)
        except np.linalg.LinAlgError:
            return np.full((k, k), np.nan)

    def _newton_polish(self, res: optimize.OptimizeResult, data: FitData) -> optimize.OptimizeResult:
        """One Newton step from an interior point where L-BFGS-B stopped with the gradient not yet small.

        On ill-conditioned likelihoods (Gamma-Gamma's q and v move together) L-BFGS-B's relative-reduction
        test can stop it before the gradient vanishes, and then another start from scratch was tried.
        A Newton step with the Hessian (the one the standard errors use) brings the gradient down by
        orders of magnitude for a fraction of that. The step is kept only if it does not lower the
        likelihood beyond its rounding noise and cuts the gradient tenfold; otherwise the result is
        returned unchanged.
        """
        x = np.asarray(res.x, dtype=np.float64)
        if not np.isfinite(res.fun) or res.fun >= 1e299 or np.any(np.abs(x) > LOG_BOUND - 1):
            return res
        grad = self._total_gradient(np.exp(x), data) * np.exp(x)
        info = -self._log_hessian(x, data)
        if not (np.all(np.isfinite(grad)) and np.all(np.isfinite(info))):
            return res
        try:
            if np.linalg.eigvalsh(info).min() <= 0:
                return res
            new = x + np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            return res
        if not np.all(np.isfinite(new)) or np.any(np.abs(new) > LOG_BOUND - 1):
            return res
        value = self._mean_negloglik(new, data)
        new_grad = self._total_gradient(np.exp(new), data) * np.exp(new)
        # near the optimum the likelihood changes by less than its rounding noise (sums over millions of
        # customers): accept a step that does not lower it beyond that noise and cuts the gradient tenfold
        noise = 1e-12 * max(1.0, abs(float(res.fun)))
        if not (
            value <= res.fun + noise
            and np.all(np.isfinite(new_grad))
            and np.max(np.abs(new_grad)) <= 0.1 * np.max(np.abs(grad))
        ):
            return res
        polished = optimize.OptimizeResult(dict(res))
        polished.x, polished.fun, polished.jac = new, value, -new_grad / data.n_customers
        return polished

    def _verdict(
        self,
        res: optimize.OptimizeResult,
        log_theta: Array,
        cov: Array,
        grad_log: Array,
        degenerate: str | None,
    ) -> FitDiagnostics:
        gnorm = float(np.max(np.abs(grad_log))) if np.all(np.isfinite(grad_log)) else math.inf
        iters = int(getattr(res, "nit", 0))
        starts = getattr(self, "n_starts_tried_", max(1, self.n_starts))
        if degenerate:
            return FitDiagnostics(False, degenerate, starts, iters, gnorm)
        at_bound = [name for name, v in zip(self.param_names, log_theta, strict=True) if abs(v) > LOG_BOUND - 1e-3]
        if at_bound:
            return FitDiagnostics(
                False,
                f"parameter(s) {', '.join(at_bound)} ran to the edge of the parameter space (towards 0 or "
                "infinity): the data do not identify them — too few repeat purchases, or no sign of customers "
                "dropping out in the observation window",
                starts,
                iters,
                gnorm,
            )
        if not np.isfinite(res.fun) or res.fun >= 1e299:
            return FitDiagnostics(False, "the log-likelihood is not finite at the estimate", starts, iters, gnorm)
        # the gradient of the total log-likelihood must vanish relative to the sample size
        if gnorm > 1e-3 * max(1.0, math.sqrt(self.n_customers_)):
            return FitDiagnostics(
                False, f"optimizer stopped with gradient {gnorm:.3g} ({res.message})", starts, iters, gnorm
            )
        if not np.all(np.isfinite(cov)):
            drifting = [name for name, v in zip(self.param_names, log_theta, strict=True) if abs(v) > 7]
            hint = (
                f" ({', '.join(drifting)} drift towards 0 or infinity: e.g. no sign of customers dropping out)"
                if drifting
                else ""
            )
            return FitDiagnostics(
                False,
                f"the Hessian at the estimate is not negative definite: the maximum is not unique{hint}",
                starts,
                iters,
                gnorm,
            )
        return FitDiagnostics(True, "ok", starts, iters, gnorm)

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        check_fitted(self, "params_", how="call .fit(summary) first")

    @property
    def standard_errors_(self) -> pd.Series:
        """Delta method: se(theta) = theta * se(log theta)."""
        self._check_fitted()
        se_log = np.sqrt(np.diag(self.covariance_.to_numpy()))
        return pd.Series(self.params_.to_numpy() * se_log, index=self.params_.index)

    @property
    def confidence_intervals_(self) -> pd.DataFrame:
        """95% intervals built on the log scale (so they stay positive), mapped back by exp."""
        self._check_fitted()
        se_log = np.sqrt(np.diag(self.covariance_.to_numpy()))
        theta = self.params_.to_numpy()
        return pd.DataFrame(
            {"lower 95%": theta * np.exp(-Z95 * se_log), "upper 95%": theta * np.exp(Z95 * se_log)},
            index=self.params_.index,
        )

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates, standard errors and 95% intervals, one row per parameter."""
        self._check_fitted()
        out = pd.DataFrame({"coef": self.params_, "se(coef)": self.standard_errors_})
        return out.join(self.confidence_intervals_)

    def to_dict(self) -> dict[str, Any]:
        """The fit as plain values (the CLI `--json` shape, minus model-independent fields)."""
        self._check_fitted()
        ci = self.confidence_intervals_
        return {
            "n_customers": self.n_customers_,
            "params": {k: float(v) for k, v in self.params_.items()},
            "stderr": {k: float(v) for k, v in self.standard_errors_.items()},
            "ci95": {k: [float(ci.loc[k, "lower 95%"]), float(ci.loc[k, "upper 95%"])] for k in self.param_names},
            "log_likelihood": self.log_likelihood_,
            "converged": self.converged_,
            "convergence_reason": self.convergence_reason_,
            "identified": bool(getattr(self, "identified_", self.converged_)),
            "identification": getattr(self, "identification_", self.convergence_reason_),
            "estimation": getattr(self, "estimation_", "given"),
        }

    @classmethod
    def from_params(cls, **params: float) -> Self:
        """A model with given parameters (e.g. published estimates), ready to predict."""
        missing = set(cls.param_names) - set(params)
        if missing:
            raise InputError(f"{cls.__name__} needs parameter(s) {sorted(missing)}.")
        model = cls()
        model.params_ = pd.Series([float(params[n]) for n in cls.param_names], index=list(cls.param_names))
        k = len(cls.param_names)
        model.covariance_ = pd.DataFrame(
            np.full((k, k), np.nan), index=model.params_.index, columns=model.params_.index
        )
        model.log_likelihood_ = math.nan
        model.converged_ = True
        model.convergence_reason_ = "parameters given, not fitted"
        model.identified_, model.identification_ = True, "parameters given, not fitted"
        model.estimation_ = "given"
        model.n_customers_ = 0
        return model

    def log_likelihood(self, summary: pd.DataFrame) -> float:
        """Total log-likelihood of `summary` at the model's parameters."""
        self._check_fitted()
        data = self._prepare(summary)
        with np.errstate(all="ignore"):
            return float(np.dot(data.weight, self._loglik_rows(self.params_.to_numpy(), data)))

    def _p(self) -> tuple[float, ...]:
        self._check_fitted()
        return tuple(float(v) for v in self.params_.to_numpy())

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<heedful.value.{type(self).__name__}: not fitted>"
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<heedful.value.{type(self).__name__}: {params}, fitted on {self.n_customers_} customers>"
