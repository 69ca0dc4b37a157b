"""A CLV stored over another horizon than the default is named with its own months on every page."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from heedful.services.accounts import Role
from heedful.services.customers import value_horizon
from heedful.services.retain import value_at_risk
from heedful.web.app import create_app

from .conftest import EMAILS, seeded_store, sign_in


def test_pages_name_the_months_the_stored_clv_covers(tmp_path: Path) -> None:
    store = seeded_store(tmp_path)
    try:
        assert value_horizon(store) == 12  # rows from before the horizon was stored: the default
        # as `heedful value clv --db … --horizon 6` stores it (services.value.store_clv)
        store.execute("UPDATE customer_value SET horizon_months = 6")
        assert value_horizon(store) == 6
        assert value_at_risk(store)["horizon_months"] == 6
        client = sign_in(
            TestClient(create_app(store=store, secret_key="t"), base_url="http://testserver"), EMAILS[Role.viewer]
        )
        for path in ("/value", "/customers", "/customers/C1"):
            html = client.get(path).text
            assert "CLV (6 months" in html or "Total CLV (6 months" in html, path
            assert "12 months" not in html, path
        # the list's spend column is the mean of the repeat purchases (BTYD's monetary value), and says so
        customers = client.get("/customers").text
        assert "Avg. repeat order" in customers and "Avg. order value" not in customers
    finally:
        store.close()


def test_store_clv_records_the_horizon(tmp_path: Path) -> None:
    import pandas as pd

    from heedful.services.value import store_clv

    store = seeded_store(tmp_path)
    try:
        values = pd.DataFrame(
            {c: [1.0] for c in ("frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases")}
            | {"expected_spend": [10.0], "clv": [25.0]},
            index=pd.Index(["C1"], name="customer_id"),
        )
        store_clv(store, values, "mbgnbd", 24)
        assert store.fetchall("SELECT horizon_months FROM customer_value WHERE customer_id = 'C1'") == [(24,)]
    finally:
        store.close()
