"""The transaction -> summary query: the published CDNOW summary, per-day transactions, returns, store backends."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from tests.conftest import require_shared_data

from heedful.store import Store
from heedful.value import BetaGeo, GammaGamma, transaction_summary


def test_cdnow_summary_from_transactions_matches_the_published_one(
    cdnow_transactions: pd.DataFrame, cdnow_spend: pd.DataFrame
) -> None:
    summary = transaction_summary(cdnow_transactions, calibration_end="1997-09-30", time_unit="W")
    published = cdnow_spend.set_axis([f"{i:04d}" for i in cdnow_spend.index])
    joined = summary.join(published, rsuffix="_published", how="inner")
    assert len(summary) == len(joined) == 2357
    assert (joined["frequency"] == joined["frequency_published"]).all()
    # the published file rounds weeks and dollars to 2 decimals
    assert np.abs(joined["recency"] - joined["recency_published"]).max() <= 0.005
    assert np.abs(joined["T"] - joined["T_published"]).max() <= 0.005
    assert np.abs(joined["monetary_value"] - joined["monetary_value_published"]).max() <= 0.0051


def test_models_fitted_on_our_summary_give_the_published_estimates(cdnow_transactions: pd.DataFrame) -> None:
    summary = transaction_summary(cdnow_transactions, calibration_end="1997-09-30")
    bg = BetaGeo().fit(summary)
    assert bg.params_.round(3).to_dict() == {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    gg = GammaGamma().fit(summary)  # FHL 2005 "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44
    assert gg.n_customers_ == 946
    assert gg.params_.round(2).to_dict() == {"p": 6.25, "q": 3.74, "v": 15.44}


def test_several_orders_on_one_day_are_one_transaction() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "ordered_at": pd.to_datetime(
                ["2024-01-01 09:00", "2024-01-01 17:00", "2024-01-08 10:00", "2024-01-08 11:00", "2024-01-03 00:00"]
            ),
            "amount": [10.0, 5.0, 20.0, 10.0, 7.0],
        }
    )
    summary = transaction_summary(orders, time_unit="D", observation_end="2024-01-15")
    a, b = summary.loc["a"], summary.loc["b"]
    assert (a["frequency"], a["recency"], a["T"], a["monetary_value"]) == (1, 7, 14, 30)
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 12, 0)


def test_returns_are_not_transactions_and_refunds_reduce_value() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-05", "2024-01-09", "2024-01-12"]),
            "amount": [50.0, 40.0, 60.0, -25.0],
            "is_return": [False, False, False, True],
        }
    )
    summary = transaction_summary(orders, time_unit="D", observation_end="2024-01-20")
    row = summary.loc["a"]
    assert row["frequency"] == 2  # the return on the 12th is not a purchase
    assert row["recency"] == 8
    # repeat purchases average 50; 25 of the 150 bought was refunded
    assert row["monetary_value"] == pytest.approx(50 * (1 - 25 / 150))


def test_holdout_counts_purchases_after_the_calibration_end_only() -> None:
    orders = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "c"],
            "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-10", "2024-02-05", "2024-01-15", "2024-02-10"]),
            "amount": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    summary = transaction_summary(orders, time_unit="D", calibration_end="2024-01-31", observation_end="2024-02-29")
    assert list(summary.index) == ["a", "b"]  # c arrived after the calibration period
    assert summary.loc["a", "frequency"] == 1 and summary.loc["a", "frequency_holdout"] == 1
    assert summary.loc["a", "monetary_value_holdout"] == 3.0
    assert summary.loc["a", "T"] == 30 and summary.loc["b", "T"] == 16
    assert (summary["duration_holdout"] == 29).all()


def test_summary_runs_as_a_query_on_the_store(store: Store) -> None:
    rows = pd.DataFrame(
        {
            "order_line_id": ["1", "2", "3", "4", "5"],
            "order_id": ["o1", "o1", "o2", "o3", "o4"],
            "customer_id": ["a", "a", "a", "b", "a"],
            "ordered_at": pd.to_datetime(
                ["2024-01-01 08:00", "2024-01-01 09:00", "2024-01-15 00:00", "2024-01-02 00:00", "2024-01-20 00:00"]
            ),
            "quantity": [1.0, 1.0, 2.0, 1.0, -1.0],
            "unit_price": [10.0, 5.0, 10.0, 3.0, 10.0],
            "amount": [10.0, 5.0, 20.0, 3.0, -10.0],
            "is_return": [False, False, False, False, True],
        }
    )
    store.insert_new("orders", rows)
    summary = transaction_summary(store.table("orders"), time_unit="W", observation_end="2024-01-29")
    assert summary.loc["a", "frequency"] == 1
    assert summary.loc["a", "recency"] == pytest.approx(2.0)
    assert summary.loc["a", "T"] == pytest.approx(4.0)
    assert summary.loc["a", "monetary_value"] == pytest.approx(20 * (1 - 10 / 35))
    assert summary.loc["b", "frequency"] == 0


def _online_retail() -> pd.DataFrame:
    path = require_shared_data("uci_online_retail", "online_retail.csv.gz")
    columns = ["InvoiceNo", "Quantity", "UnitPrice", "CustomerID", "InvoiceDate"]
    with gzip.open(path, "rt") as fh:
        frame = pd.read_csv(fh, usecols=columns, dtype={"InvoiceNo": str, "CustomerID": "Int64"})
    frame["InvoiceDate"] = pd.to_datetime(frame["InvoiceDate"])
    frame["amount"] = frame["Quantity"] * frame["UnitPrice"]
    frame["is_return"] = frame["InvoiceNo"].str.startswith("C")
    return frame


def test_online_retail_returns_are_excluded_and_models_fit() -> None:
    """The whole year is needed: on a few months no drop-out is visible and BG/NBD rightly reports no convergence."""
    frame = _online_retail()
    summary = transaction_summary(
        frame, customer_col="CustomerID", date_col="InvoiceDate", time_unit="W", return_col="is_return"
    )
    purchase_days = (
        frame[~frame["is_return"] & (frame["amount"] >= 0) & frame["CustomerID"].notna()]
        .assign(day=frame["InvoiceDate"].dt.date)
        .groupby("CustomerID")["day"]
        .nunique()
    )
    purchase_days.index = purchase_days.index.astype(str)
    assert (summary["frequency"] == purchase_days.reindex(summary.index) - 1).all()
    assert (summary["monetary_value"] >= 0).all()
    assert (summary["recency"] <= summary["T"]).all()
    assert BetaGeo().fit(summary).converged_
    assert GammaGamma().fit(summary).converged_


def _random_orders(seed: int, customers: int = 300) -> pd.DataFrame:
    """Orders with what the summary must get right: several lines on one day (the first day too), returns,
    purchases after a calibration end, customers who only returned things."""
    rng = np.random.default_rng(seed)
    n = customers * 6
    day = rng.integers(0, 120, n)
    first_day_repeat = rng.random(n) < 0.15  # pile lines onto each customer's earliest days
    customer = rng.integers(0, customers, n)
    day = np.where(first_day_repeat, day % 7, day)
    amount = np.round(rng.gamma(2.0, 20.0, n), 2)
    is_return = rng.random(n) < 0.08
    amount = np.where(is_return & (rng.random(n) < 0.5), -amount, amount)  # some returns only flagged
    return pd.DataFrame(
        {
            "customer_id": [f"c{c}" for c in customer],
            "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(day * 24 + rng.integers(0, 24, n), unit="h"),
            "amount": amount,
            "is_return": is_return,
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "periods",
    [{}, {"calibration_end": "2024-03-15"}, {"calibration_end": "2024-02-20", "observation_end": "2024-03-31"}],
)
def test_duckdb_day_bitmaps_give_the_same_summary_as_the_portable_query(
    seed: int, periods: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On DuckDB purchase days are counted with per-customer day bitmaps; elsewhere (and where the bitmaps
    would not fit the memory budget) by grouping lines per (customer, day). Both must agree exactly."""
    from heedful.value import summary as summary_module

    orders = _random_orders(seed)
    fast = transaction_summary(orders, time_unit="D", net_spend=True, **periods)
    monkeypatch.setattr(summary_module, "BITMAP_BUDGET_BYTES", 0)  # forces the portable query
    portable = transaction_summary(orders, time_unit="D", net_spend=True, **periods)
    assert len(fast) > 250
    assert fast.index.equals(portable.index)
    pd.testing.assert_frame_equal(fast, portable, check_exact=False, rtol=1e-12, atol=1e-9)
    # and against a plain pandas count of purchase days in the calibration period
    bought = orders[~orders["is_return"] & (orders["amount"] >= 0)]
    end = pd.Timestamp(periods.get("calibration_end", orders["ordered_at"].max().normalize()))
    days = bought[bought["ordered_at"].dt.normalize() <= end].groupby("customer_id")["ordered_at"]
    expected = days.agg(lambda s: s.dt.normalize().nunique())
    assert (fast["frequency"] == expected.reindex(fast.index) - 1).all()
