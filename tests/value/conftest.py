"""Fixtures for the customer-value tests: the CDNOW sample (Fader & Hardie) from ../shared/data."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import require_shared_data


def read_cdnow_sample() -> pd.DataFrame:
    path = require_shared_data("cdnow", "CDNOW_sample.txt")
    tx = pd.read_csv(
        path,
        sep=r"\s+",
        header=None,
        names=["master_id", "customer_id", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    tx["ordered_at"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """The published 39-week calibration summary (x, t_x, T) of the 2,357 sample customers."""
    return pd.read_csv(require_shared_data("cdnow", "cdnow_customers_summary.csv"), index_col="ID")


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """The published summary with zbar, the mean value of repeat transactions."""
    frame = pd.read_csv(require_shared_data("cdnow", "cdnow_customers_summary_with_transactions.csv"), index_col="ID")
    return frame.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="session")
def cdnow_transactions() -> pd.DataFrame:
    return read_cdnow_sample()
