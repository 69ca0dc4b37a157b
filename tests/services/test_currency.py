"""Money has a currency: detected from the orders, configurable (HEEDFUL_CURRENCY / heedful.toml), and named
beside money figures on the pages."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from heedful.services.customers import business_currency
from heedful.store import Store


def _orders(currencies: list[str | None]) -> pd.DataFrame:
    n = len(currencies)
    return pd.DataFrame(
        {
            "order_line_id": [f"l{i}" for i in range(n)],
            "order_id": [f"o{i}" for i in range(n)],
            "customer_id": ["c1"] * n,
            "ordered_at": pd.date_range("2025-01-01", periods=n, freq="D"),
            "quantity": 1.0,
            "unit_price": 10.0,
            "amount": 10.0,
            "currency": currencies,
            "is_return": False,
        }
    )


def test_the_currency_is_the_one_most_orders_are_in_unless_configured(
    store: Store, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HEEDFUL_CURRENCY", raising=False)
    monkeypatch.chdir(tmp_path)  # no heedful.toml here
    assert business_currency(store) is None  # no orders: the data do not say
    store.insert_new("orders", _orders(["EUR", "EUR", "USD", None]))
    assert business_currency(store) == "EUR"
    (tmp_path / "heedful.toml").write_text('currency = "gbp"\n')
    assert business_currency(store) == "GBP"
    monkeypatch.setenv("HEEDFUL_CURRENCY", "chf")  # the environment wins over the file
    assert business_currency(store) == "CHF"
