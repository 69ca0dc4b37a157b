"""Simulated customer bases with known parameters (for property tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_pareto_nbd(
    n: int, r: float, alpha: float, s: float, beta: float, T: float | np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Summaries (frequency, recency, T) drawn from a Pareto/NBD population observed for T time units."""
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0 / mu)
    active = np.minimum(lifetime, T_arr)
    x = rng.poisson(lam * active)
    # the last of x uniform purchase times on (0, active] is active · Beta(x, 1)
    t_x = np.where(x > 0, active * rng.beta(np.maximum(x, 1), 1.0), 0.0)
    return pd.DataFrame({"frequency": x.astype(np.float64), "recency": t_x, "T": T_arr})


def simulate_bgnbd_purchases(
    n: int, r: float, alpha: float, a: float, b: float, T: float | np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Repeat-purchase times of a BG/NBD population: (customer index, time since first purchase)."""
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    clock = np.zeros(n)
    active = np.arange(n)
    who: list[np.ndarray] = []
    when: list[np.ndarray] = []
    while active.size:
        clock[active] += rng.exponential(1.0 / lam[active])
        bought = clock[active] <= T_arr[active]
        active = active[bought]
        who.append(active)
        when.append(clock[active])
        # after each purchase the customer drops out with probability p
        active = active[rng.random(active.size) >= p[active]]
    customers = np.concatenate(who) if who else np.zeros(0, dtype=np.int64)
    times = np.concatenate(when) if when else np.zeros(0)
    return customers, times


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: float | np.ndarray, seed: int = 0
) -> pd.DataFrame:
    """Summaries (frequency, recency, T) drawn from a BG/NBD population observed for T time units."""
    T_arr = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    who, when = simulate_bgnbd_purchases(n, r, alpha, a, b, T_arr, seed)
    x = np.bincount(who, minlength=n).astype(np.float64)
    t_x = np.zeros(n)
    np.maximum.at(t_x, who, when)
    return pd.DataFrame({"frequency": x, "recency": t_x, "T": T_arr})


def simulate_transactions(
    n: int,
    *,
    r: float = 0.6,
    alpha: float = 3.0,
    a: float = 0.6,
    b: float = 6.0,
    spend_p: float = 6.0,
    spend_q: float = 4.0,
    spend_v: float = 15.0,
    acquisition_weeks: int = 12,
    observation_weeks: int = 52,
    start: str = "2024-01-01",
    seed: int = 0,
) -> pd.DataFrame:
    """Transactions (customer_id, ordered_at, amount) of a BG/NBD + Gamma-Gamma population, weeks as unit.

    Customers are acquired uniformly over the first `acquisition_weeks`; times are rounded to days.
    """
    rng = np.random.default_rng(seed + 1)
    first_day = rng.integers(0, acquisition_weeks * 7, n)
    T = (observation_weeks * 7 - first_day) / 7.0
    who, when = simulate_bgnbd_purchases(n, r, alpha, a, b, T, seed)
    days = np.concatenate([first_day, first_day[who] + np.floor(when * 7).astype(np.int64)])
    customer = np.concatenate([np.arange(n), who])
    nu = rng.gamma(spend_q, 1.0 / spend_v, n)  # per-customer scale of spend
    amount = rng.gamma(spend_p, 1.0 / nu[customer])
    base = np.datetime64(start, "D")
    return pd.DataFrame(
        {
            "customer_id": customer.astype(np.int64),
            "ordered_at": (base + days.astype("timedelta64[D]")).astype("datetime64[us]"),
            "amount": np.round(amount, 2),
        }
    )
