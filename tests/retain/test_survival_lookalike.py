"""Survival curves and hazard ratios recover planted effects; look-alikes find the planted best-customer trait."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heedful.retain.lookalike import LookalikeModel, best_customers, trait_columns
from heedful.retain.survival import cox_hazard_ratios, kaplan_meier_by_segment, retail_durations


def _lifetimes(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Monthly-plan customers leave at twice the rate of yearly ones; follow-up ends at 24 months."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["monthly", "yearly"], n)
    rate = np.where(plan == "monthly", 1 / 12, 1 / 24)
    life = rng.exponential(1 / rate)
    return pd.DataFrame(
        {
            "tenure": np.minimum(life, 24.0),
            "churned": np.where(life < 24, "Yes", "No"),
            "plan": plan,
            "noise": rng.normal(size=n),
        }
    )


def test_kaplan_meier_curves_separate_the_segments_as_planted() -> None:
    km = kaplan_meier_by_segment(_lifetimes(), "tenure", "churned", "plan")
    medians = km["medians"].set_index("segment")
    assert abs(medians.loc["monthly", "median_time"] - 12 * np.log(2)) < 1.5
    assert np.isnan(medians.loc["yearly", "median_time"] or np.nan) or medians.loc["yearly", "median_time"] > 14
    assert km["logrank_p"] < 1e-6
    curves = km["curves"]
    assert ((curves["lower"] <= curves["survival"]) & (curves["survival"] <= curves["upper"])).all()


def test_cox_hazard_ratio_recovers_the_planted_ratio_with_an_interval() -> None:
    hr = cox_hazard_ratios(_lifetimes(), "tenure", "churned", ["plan", "noise"]).set_index("covariate")
    yearly = hr.loc["plan = yearly"]
    assert yearly["lower"] < 0.5 < yearly["upper"]
    assert abs(np.log(hr.loc["noise", "hazard_ratio"])) < 0.1  # an unrelated covariate stays near 1


def test_retail_durations_censor_active_customers(retail_orders: pd.DataFrame) -> None:
    d = retail_durations(retail_orders, inactive_days=90)
    end = pd.to_datetime(retail_orders["ordered_at"]).max()
    last = retail_orders.assign(t=pd.to_datetime(retail_orders["ordered_at"])).groupby("customer_id")["t"].max()
    assert ((end - last[d["churned"] == 1]) > pd.Timedelta(days=90)).all()
    assert (d["duration_days"] >= 0).all()


def _customers(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    country = rng.choice(["DE", "FR", "UK"], n)
    employees = rng.lognormal(3, 1, n)
    clv = rng.gamma(2, 50, n) * np.where(country == "DE", 4.0, 1.0)
    return pd.DataFrame(
        {"customer_id": [f"c{i}" for i in range(n)], "country": country, "employees": employees, "clv": clv}
    )


def test_lookalikes_rank_prospects_with_the_best_customers_trait_first() -> None:
    customers = _customers()
    prospects = pd.DataFrame(
        {"prospect_id": ["p1", "p2", "p3"], "country": ["FR", "DE", "UK"], "employees": [20.0] * 3}
    )
    best = best_customers(customers, 0.8)
    assert best.mean() == 0.2
    traits = trait_columns(customers, prospects)
    assert traits == ["country", "employees"]
    scores = LookalikeModel().fit(customers, best, traits).score(prospects, prospects["prospect_id"])
    assert scores["prospect_id"].iat[0] == "p2"
    assert scores["driver_1"].iat[0] == "country = DE"
    assert scores["driver_1_effect"].iat[0] > 0
    assert scores["lift"].iat[0] > 2


def test_best_customers_can_be_a_segment() -> None:
    values = pd.DataFrame({"segment": ["champions", "at risk", "champions"], "clv": [1.0, 2.0, 3.0]})
    assert list(best_customers(values, segments=["champions"])) == [True, False, True]
