"""Synthetic data with known churn drivers and planted co-purchase patterns, for the retain tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def make_churn_data(n: int = 2000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Customers whose churn depends on `support_calls` (+), `plan` = monthly (+) and `tenure` (−) only.

    Returns features (with an id and three pure-noise columns), the 0/1 outcome and the true probability.
    """
    rng = np.random.default_rng(seed)
    support_calls = rng.poisson(2.0, n).astype(float)
    plan = rng.choice(["monthly", "yearly", "two-year"], n, p=[0.5, 0.3, 0.2])
    tenure = rng.uniform(0, 72, n)
    logit = -1.0 + 0.7 * (support_calls - 2.0) + 1.5 * (plan == "monthly") - 0.04 * (tenure - 36.0)
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i:05d}" for i in range(n)],
            "support_calls": support_calls,
            "plan": plan,
            "tenure": tenure,
            "noise_a": rng.normal(size=n),
            "noise_b": rng.uniform(size=n),
            "noise_c": rng.choice(["red", "green", "blue"], n),
        }
    )
    return frame, y, p


@pytest.fixture
def churn_data() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    return make_churn_data(2000, seed=1)


FAST = {"n_estimators": 150, "learning_rate": 0.1, "n_bootstrap": 100, "shap_sample": 1000, "n_jobs": 1}


def make_retail_orders(n_customers: int = 300, seed: int = 0, end: str = "2024-12-31") -> pd.DataFrame:
    """A year of order lines: customers buy at their own rate until they (maybe) stop.

    Products fall into five taste groups of eight (P0–P7, P8–P15, …): a customer mostly buys from one
    group, so what they buy next is predictable from what people with the same taste bought.
    """
    rng = np.random.default_rng(seed)
    stop = pd.Timestamp(end)
    start = stop - pd.Timedelta(days=365)
    rows = []
    line = 0
    for c in range(n_customers):
        rate = rng.gamma(2.0, 1 / 30.0)  # purchases per day
        first = start + pd.Timedelta(days=float(rng.uniform(0, 200)))
        death = first + pd.Timedelta(days=float(rng.exponential(250)))
        t = first
        group = rng.integers(0, 5)
        order_no = 0
        while t < min(death, stop):
            n_items = 1 + int(rng.random() < 0.4)
            for _ in range(n_items):
                item = 8 * group + rng.integers(0, 8) if rng.random() < 0.85 else rng.integers(0, 40)
                rows.append(
                    {
                        "order_line_id": f"l{line}",
                        "order_id": f"o{c}-{order_no}",
                        "customer_id": f"c{c:04d}",
                        "ordered_at": t,
                        "product_id": f"P{item}",
                        "product_name": f"Product {item}",
                        "quantity": 1.0,
                        "unit_price": 10.0 + item,
                        "amount": 10.0 + item,
                        "is_return": False,
                    }
                )
                line += 1
            order_no += 1
            t = t + pd.Timedelta(days=float(rng.exponential(1.0 / rate)))
    return pd.DataFrame(rows)


@pytest.fixture(scope="session")
def retail_orders() -> pd.DataFrame:
    return make_retail_orders(300, seed=2)
