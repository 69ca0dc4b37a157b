"""Choice models shared by MaxDiff and conjoint: multinomial logit and hierarchical Bayes MNL.

Both take `ChoiceData`: for each respondent r and choice task t, a set of alternatives j with
design rows X[r, t, j, :] and the index of the alternative chosen. Arrays are padded to the largest
task, so every step is vectorised over respondents.

- `fit_mnl`: aggregate MNL by maximum likelihood with SciPy (trust-region Newton with the analytic
  gradient and Hessian); standard errors from the inverse Hessian.
- `fit_hb_mnl`: hierarchical Bayes MNL, the Allenby-Rossi / Sawtooth CBC/HB Gibbs sampler:
  beta_r ~ N(b, W); b | beta, W ~ N(mean beta, W / R); W | beta, b ~ inverse Wishart;
  beta_r | b, W by random-walk Metropolis with proposal covariance rho²·W, all respondents at once.
  No well-kept sampler library is installed (PyMC/NumPyro are heavy and absent), so this Gibbs
  sampler is hand-written in NumPy, vectorised over respondents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from heedful.errors import InputError
from heedful.surveys._base import Estimator

_MASKED = -1e10  # utility of a padded (absent) alternative: exp() of it is exactly 0


@dataclass(frozen=True)
class ChoiceData:
    """Padded choice tasks: X (R, T, J, K), available (R, T, J), chosen (R, T), observed (R, T)."""

    X: np.ndarray
    available: np.ndarray
    chosen: np.ndarray
    observed: np.ndarray
    respondents: np.ndarray
    names: list[str]

    @property
    def n_respondents(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_params(self) -> int:
        return int(self.X.shape[3])

    @property
    def n_tasks(self) -> int:
        return int(self.observed.sum())

    @classmethod
    def from_long(
        cls,
        respondent: np.ndarray,
        task: np.ndarray,
        design: np.ndarray,
        chosen: np.ndarray,
        names: list[str],
    ) -> ChoiceData:
        """Build from one row per alternative shown: respondent, task key, design row, chosen 0/1.

        Rows of one (respondent, task) must be consecutive or not; order inside a task is kept.
        Each task must have exactly one chosen alternative.
        """
        frame = pd.DataFrame({"r": respondent, "t": task, "c": np.asarray(chosen, dtype=float)})
        r_codes, r_ids = pd.factorize(frame["r"], sort=True)
        frame["r_code"] = r_codes
        frame["task_key"] = pd.factorize(pd.MultiIndex.from_arrays([frame["r_code"], frame["t"]]))[0]
        first = frame.drop_duplicates("task_key").sort_values(["r_code", "task_key"])
        task_in_resp = first.groupby("r_code").cumcount()
        t_index = frame["task_key"].map(pd.Series(task_in_resp.to_numpy(), index=first["task_key"].to_numpy()))
        j_index = frame.groupby("task_key").cumcount()
        chosen_per_task = frame.groupby("task_key")["c"].sum()
        bad = chosen_per_task[chosen_per_task != 1]
        if len(bad):
            key = int(bad.index[0])
            row = frame.index[frame["task_key"] == key][0]
            raise InputError(
                f"Each choice task needs exactly one chosen alternative; respondent {frame.loc[row, 'r']!r}, "
                f"task {frame.loc[row, 't']!r} has {bad.iloc[0]:g}."
            )
        n_r, n_t, n_j, n_k = len(r_ids), int(t_index.max()) + 1, int(j_index.max()) + 1, design.shape[1]
        x = np.zeros((n_r, n_t, n_j, n_k))
        available = np.zeros((n_r, n_t, n_j), dtype=bool)
        observed = np.zeros((n_r, n_t), dtype=bool)
        chosen_idx = np.zeros((n_r, n_t), dtype=np.int64)
        ri, ti, ji = r_codes, t_index.to_numpy(), j_index.to_numpy()
        x[ri, ti, ji] = design
        available[ri, ti, ji] = True
        observed[ri, ti] = True
        picked = frame["c"].to_numpy() == 1
        chosen_idx[ri[picked], ti[picked]] = ji[picked]
        return cls(x, available, chosen_idx, observed, np.asarray(r_ids), list(names))


# ---------------------------------------------------------------------------------------- MNL
def _flat(data: ChoiceData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mask = data.observed
    return data.X[mask], data.available[mask], data.chosen[mask]


def mnl_loglik(beta: np.ndarray, data: ChoiceData) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, gradient and Hessian of the aggregate MNL at beta."""
    x, avail, chosen = _flat(data)
    v = np.where(avail, x @ beta, _MASKED)
    vmax = v.max(axis=1, keepdims=True)
    expv = np.exp(v - vmax)
    denom = expv.sum(axis=1, keepdims=True)
    p = expv / denom
    rows = np.arange(len(chosen))
    ll = float(np.sum(v[rows, chosen] - vmax[:, 0] - np.log(denom[:, 0])))
    xbar = np.einsum("nj,njk->nk", p, x)
    grad = (x[rows, chosen] - xbar).sum(axis=0)
    hess = -(np.einsum("nj,njk,njl->kl", p, x, x) - xbar.T @ xbar)
    return ll, grad, hess


@dataclass(frozen=True)
class MNLResult:
    beta: np.ndarray
    cov: np.ndarray
    loglik: float
    loglik_null: float
    converged: bool
    identified: bool = True


# An aggregate MNL is "not identified" when its information matrix is singular or ill-conditioned
# (condition number above MAX_CONDITION), or when a coded parameter's standard error exceeds MAX_SE
# logits: the sign of separation (a respondent who always picks the same level drives the estimate to
# infinity). Its intervals and willingness to pay then mean nothing (intervals of ±10⁸ were seen with
# one respondent) and are not reported.
MAX_CONDITION = 1e8
NOT_IDENTIFIED = (
    "not identified: the answers so far cannot separate the effects (too few respondents, "
    "or some choices always went the same way), so no utilities, intervals or prices are shown"
)
MAX_SE = 10.0


def is_identified(information: np.ndarray, cov: np.ndarray) -> bool:
    """Whether an MNL's information matrix (−Hessian) and covariance identify every parameter."""
    if not (np.all(np.isfinite(information)) and np.all(np.isfinite(cov))):
        return False
    eig = np.linalg.eigvalsh((information + information.T) / 2)
    if eig.size and (eig.min() <= 0 or eig.max() / eig.min() > MAX_CONDITION):
        return False
    return bool(np.all(np.diag(cov) > 0) and np.sqrt(np.diag(cov)).max(initial=0.0) <= MAX_SE)


def fit_mnl(data: ChoiceData) -> MNLResult:
    """Maximum-likelihood aggregate MNL (trust-region Newton, analytic gradient and Hessian)."""
    k = data.n_params

    def neg(b: np.ndarray) -> tuple[float, np.ndarray]:
        ll, g, _ = mnl_loglik(b, data)
        return -ll, -g

    def neg_hess(b: np.ndarray) -> np.ndarray:
        return -mnl_loglik(b, data)[2]

    res = optimize.minimize(neg, np.zeros(k), jac=True, hess=neg_hess, method="trust-exact")
    ll, _, hess = mnl_loglik(res.x, data)
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError as exc:
        raise InputError("The choice data do not identify every parameter (singular information matrix).") from exc
    ll0 = mnl_loglik(np.zeros(k), data)[0]
    return MNLResult(res.x, cov, ll, ll0, bool(res.success), is_identified(-hess, cov))


# ---------------------------------------------------------------------------------------- HB
@dataclass(frozen=True)
class HBResult:
    """Posterior summaries of a hierarchical Bayes MNL run."""

    individual: np.ndarray  # (R, K) posterior mean of each respondent's utilities
    individual_draws: np.ndarray  # (D, R, K) thinned draws of the respondents' utilities
    mean_draws: np.ndarray  # (S, K) draws of the population mean b
    cov_mean: np.ndarray  # (K, K) posterior mean of the population covariance W
    acceptance: float  # Metropolis acceptance rate after burn-in
    rlh: np.ndarray  # (R,) root likelihood per respondent at its posterior mean


class _RespondentLoglik:
    """Per-respondent MNL log-likelihood, vectorised: ll(beta (R, K)) -> (R,)."""

    def __init__(self, data: ChoiceData) -> None:
        r, t, j, k = data.X.shape
        self.shape = (r, t, j)
        self.x = data.X.reshape(r, t * j, k)
        self.mask = (data.available & data.observed[:, :, None]).reshape(r, t * j)
        self.observed = data.observed
        rr, tt = np.nonzero(data.observed)
        chosen_rows = np.zeros((r, t, k))
        chosen_rows[rr, tt] = data.X[rr, tt, data.chosen[rr, tt]]
        self.chosen_sum = chosen_rows.sum(axis=1)  # utility of the chosen alternatives is linear in beta

    def __call__(self, beta: np.ndarray) -> np.ndarray:
        v = np.einsum("rnk,rk->rn", self.x, beta)
        v = np.where(self.mask, v, _MASKED).reshape(self.shape)
        vmax = v.max(axis=2)
        lse = vmax + np.log(np.exp(v - vmax[:, :, None]).sum(axis=2))
        return np.asarray(np.einsum("rk,rk->r", self.chosen_sum, beta) - (lse * self.observed).sum(axis=1))


def fit_hb_mnl(
    data: ChoiceData,
    n_iter: int = 4000,
    burn_in: int = 2000,
    n_keep: int = 200,
    prior_variance: float = 1.0,
    prior_df: int | None = None,
    seed: int = 0,
    progress: Callable[[int], object] | None = None,
) -> HBResult:
    """Gibbs sampler for the hierarchical Bayes MNL (see module doc). `n_iter` counts all iterations."""
    if burn_in >= n_iter:
        raise InputError("burn_in must be smaller than n_iter.")
    rng = np.random.default_rng(seed)
    loglik = _RespondentLoglik(data)
    n_r, k = data.n_respondents, data.n_params
    nu = prior_df if prior_df is not None else k + 5
    prior_scale = nu * prior_variance * np.eye(k)
    beta = np.zeros((n_r, k))
    mean = np.zeros(k)
    cov = np.eye(k)
    ll_current = loglik(beta)
    rho = 0.1
    n_post = n_iter - burn_in
    keep_every = max(1, n_post // max(1, n_keep))
    kept: list[np.ndarray] = []
    mean_draws: list[np.ndarray] = []
    beta_sum = np.zeros((n_r, k))
    cov_sum = np.zeros((k, k))
    accepted = 0
    for it in range(n_iter):
        # population mean and covariance given the respondents' utilities
        mean = rng.multivariate_normal(beta.mean(axis=0), cov / n_r)
        dev = beta - mean
        cov = stats.invwishart.rvs(df=nu + n_r, scale=prior_scale + dev.T @ dev, random_state=rng)
        cov = np.atleast_2d(cov)
        # respondents' utilities given the population: one Metropolis step each, all at once
        chol = np.linalg.cholesky(cov)
        prec = np.linalg.inv(cov)
        proposal = beta + rho * rng.standard_normal((n_r, k)) @ chol.T
        ll_prop = loglik(proposal)
        d_old, d_new = beta - mean, proposal - mean
        log_prior_ratio = -0.5 * (
            np.einsum("rk,kl,rl->r", d_new, prec, d_new) - np.einsum("rk,kl,rl->r", d_old, prec, d_old)
        )
        accept = np.log(rng.random(n_r)) < ll_prop - ll_current + log_prior_ratio
        beta[accept] = proposal[accept]
        ll_current[accept] = ll_prop[accept]
        rate = float(accept.mean())
        if it < burn_in:
            rho *= 1.1 if rate > 0.3 else 0.9  # Sawtooth's rule: aim at 30% acceptance
        else:
            accepted += int(accept.sum())
            beta_sum += beta
            cov_sum += cov
            mean_draws.append(mean)
            if (it - burn_in) % keep_every == 0:
                kept.append(beta.astype(np.float32))
        if progress is not None and (it + 1) % 100 == 0:
            progress(100)
    individual = beta_sum / n_post
    n_tasks = np.maximum(data.observed.sum(axis=1), 1)
    rlh = np.exp(loglik(individual) / n_tasks)
    return HBResult(
        individual=individual,
        individual_draws=np.stack(kept),
        mean_draws=np.stack(mean_draws),
        cov_mean=cov_sum / n_post,
        acceptance=accepted / (n_post * n_r),
        rlh=rlh,
    )


# ------------------------------------------------------------------------------ shared outputs
def draw_summary(draws: np.ndarray, names: list[str], level: float = 0.95) -> pd.DataFrame:
    """Mean, sd and percentile interval of simulation or posterior draws (D, P)."""
    alpha = (1 - level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha], axis=0)
    return pd.DataFrame(
        {"estimate": draws.mean(axis=0), "se": draws.std(axis=0, ddof=1), "low": low, "high": high},
        index=pd.Index(names),
    )


def share_of_preference(utilities: np.ndarray, method: str, rng: np.random.Generator, n_draws: int = 200) -> np.ndarray:
    """Market shares of products from utilities (R, P): averaged over respondents -> (P,).

    - "logit": share of preference, the MNL probabilities averaged over respondents;
    - "first_choice": each respondent takes the product of highest utility;
    - "randomized_first_choice": first choice under Gumbel utility error, `n_draws` times per respondent.
    """
    if method == "logit":
        u = utilities - utilities.max(axis=1, keepdims=True)
        p = np.exp(u)
        return np.asarray((p / p.sum(axis=1, keepdims=True)).mean(axis=0))
    if method == "first_choice":
        winners = utilities.argmax(axis=1)
        return np.bincount(winners, minlength=utilities.shape[1]) / utilities.shape[0]
    if method == "randomized_first_choice":
        noisy = utilities[None, :, :] + rng.gumbel(size=(n_draws, *utilities.shape))
        winners = noisy.argmax(axis=2).ravel()
        return np.bincount(winners, minlength=utilities.shape[1]) / winners.size
    raise InputError(f"Unknown simulation method {method!r}; use logit, first_choice or randomized_first_choice.")


class ChoiceEstimator(Estimator):
    """Fits MNL or HB on `ChoiceData` and keeps draws that every derived output (intervals) uses.

    Fitted attributes: `coef_` (population utilities, coded), `population_draws_` (D, K),
    `individual_` (R, K; one row for MNL), `individual_draws_` (D, R, K), `fit_stats_`.
    For MNL the draws come from the asymptotic normal N(coef, cov); for HB from the posterior.
    """

    method: str
    n_iter: int
    burn_in: int
    seed: int

    def _estimate(self, data: ChoiceData, progress: Callable[[int], object] | None = None) -> None:
        rng = np.random.default_rng(self.seed)
        if self.method == "mnl":
            res = fit_mnl(data)
            # an unidentified model's covariance may not be positive definite: draw without the warning
            draws = rng.multivariate_normal(
                res.beta, res.cov, size=1000, check_valid="warn" if res.identified else "ignore"
            )
            self.coef_ = res.beta
            self.cov_ = res.cov
            self.population_draws_ = draws
            self.individual_ = res.beta[None, :]
            self.individual_draws_ = draws[:200, None, :]
            self.fit_stats_ = {
                "method": "mnl",
                "loglik": res.loglik,
                "loglik_null": res.loglik_null,
                "mcfadden_r2": 1 - res.loglik / res.loglik_null if res.loglik_null else float("nan"),
                "converged": res.converged,
                "identified": res.identified,
            }
        elif self.method == "hb":
            hb = fit_hb_mnl(data, n_iter=self.n_iter, burn_in=self.burn_in, seed=self.seed, progress=progress)
            self.coef_ = hb.mean_draws.mean(axis=0)
            self.cov_ = np.cov(hb.mean_draws, rowvar=False)
            self.population_draws_ = hb.mean_draws
            self.individual_ = hb.individual
            self.individual_draws_ = hb.individual_draws.astype(float)
            self.population_covariance_ = hb.cov_mean
            self.fit_stats_ = {
                "method": "hb",
                "acceptance": hb.acceptance,
                "mean_rlh": float(hb.rlh.mean()),
                "n_iter": self.n_iter,
                "burn_in": self.burn_in,
            }
            self.rlh_ = hb.rlh
        else:
            raise InputError(f"Unknown estimation method {self.method!r}; use 'mnl' or 'hb'.")
        self.fit_stats_.update(
            {"n_respondents": data.n_respondents, "n_tasks": data.n_tasks, "n_parameters": data.n_params}
        )
        self.respondents_ = data.respondents
        self.params_ = pd.Series(self.coef_, index=data.names)

    @property
    def identified_(self) -> bool:
        """False when the aggregate MNL does not identify its parameters (see `is_identified`)."""
        self._check_fitted()
        return bool(self.fit_stats_.get("identified", True))

    def _not_identified(self) -> dict[str, Any]:
        """What `to_dict` gives instead of estimates when the model is not identified."""
        return {"status": "not_identified", "fit": self.fit_stats_, "reason": NOT_IDENTIFIED}
