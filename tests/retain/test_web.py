"""The Retain page and API show stored value at risk, reasons, actions and offers to signed-in users only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from heedful.services.accounts import Role, create_user
from heedful.services.retain import save_churn_scores
from heedful.store import Store, connect
from heedful.web.app import create_app

PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Store]]:
    path: Path = tmp_path_factory.mktemp("retain_web") / "heedful.duckdb"
    store = connect(f"duckdb:///{path}")
    scores = pd.DataFrame(
        {
            "customer_id": ["alice", "bob"],
            "churn_risk": [0.8, 0.3],
            "clv": [1000.0, 5000.0],
            "value_at_risk": [800.0, 1500.0],
            "action": ["reach out", "offer"],
            "reason_1": ["negative_feedback_share_90d = 1", "overdue_ratio = 3.2"],
            "reason_1_feature": ["negative_feedback_share_90d", "overdue_ratio"],
            "reason_1_effect": [0.9, 0.5],
            "reason_2": ["distinct_products = 59", None],
            "reason_2_feature": ["distinct_products", None],
            "reason_2_effect": [-0.2, None],
            # the customers' other features, which the reason texts read ("usually every 30 days")
            "recency_days": [12.0, 96.0],
            "mean_gap_days": [20.0, 30.0],
            "feedback_count_90d": [2.0, None],
        }
    )
    save_churn_scores(store, scores, "test", 90)
    store.insert_new(
        "offers",
        pd.DataFrame(
            {
                "customer_id": ["bob"],
                "rank": [1],
                "product_id": ["P7"],
                "product_name": ["Camping stove"],
                "score": [1.0],
                "method": ["svd"],
                "explanation": [
                    "Customers who bought Tent also bought Camping stove (83% of them, 2.0× the usual rate)"
                ],
                "created_at": [pd.Timestamp("2025-01-01")],
            }
        ),
    )
    create_user(store, "viewer@example.com", Role.viewer, PASSWORD)
    app = create_app(store=store, secret_key="test-secret")
    with TestClient(app, base_url="http://testserver") as c:
        yield c, store
    store.close()


def _sign_in(c: TestClient) -> None:
    match = re.search(r'name="csrf-token" content="([^"]+)"', c.get("/login").text)
    assert match
    response = c.post(
        "/login",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": match.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_retain_page_needs_sign_in_then_lists_value_at_risk_first(client: tuple[TestClient, Store]) -> None:
    c, _ = client
    assert c.get("/api/v1/retain/at-risk").status_code in (401, 403)
    _sign_in(c)
    page = c.get("/retain")
    assert page.status_code == 200
    html = page.text
    assert html.index("bob") < html.index("alice")  # 1,500 at risk before 800
    assert "no order for 96 days, usually every 30 days → risk up" in html
    assert "all 2 pieces of feedback in the last 90 days negative → risk up" in html
    assert "bought 59 different products → risk down" in html
    assert "reach out" in html and "Camping stove" in html
    for raw in ("overdue_ratio", "negative_feedback_share_90d", "distinct_products", "feedback_count_90d"):
        assert raw not in html
    api = c.get("/api/v1/retain/at-risk?top=1").json()
    assert [r["customer_id"] for r in api["customers"]] == ["bob"]
    assert api["customers"][0]["reasons"] == ["no order for 96 days, usually every 30 days → risk up"]
    assert api["model"] is None and 'data-testid="churn-quality"' not in html  # no scoring run: no quality claimed
    offers = c.get("/api/v1/retain/offers/bob").json()["offers"]
    assert offers[0]["product_name"] == "Camping stove" and "Tent" in offers[0]["explanation"]
    csv = c.get("/retain/at-risk.csv")
    assert csv.status_code == 200 and csv.text.splitlines()[1].startswith("bob,")
