"""Web fixtures: an app over a small DuckDB store with one user per role and a little data."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from heedful.services.accounts import Role, create_user
from heedful.store import Store, connect
from heedful.web.app import create_app

PASSWORD = "correct-horse-battery"
EMAILS = {Role.viewer: "viewer@example.com", Role.analyst: "analyst@example.com", Role.admin: "admin@example.com"}


def seed_data(store: Store) -> None:
    """Three customers with orders over a year, feedback with listening results, value results."""
    now = datetime(2024, 6, 30, 12, 0)
    store.insert_new(
        "customers",
        pd.DataFrame(
            [
                {
                    "customer_id": f"C{i}",
                    "kind": "customer",
                    "name": name,
                    "email": f"c{i}@example.com",
                    "country": country,
                    "created_at": now,
                }
                for i, (name, country) in enumerate(
                    [("Ada Lovelace", "UK"), ("Grace Hopper", "US"), ("Alan Turing", "UK")], start=1
                )
            ]
        ),
    )
    orders = []
    for c in range(1, 4):
        for k in range(c * 2):
            orders.append(
                {
                    "order_line_id": f"L{c}-{k}",
                    "order_id": f"O{c}-{k}",
                    "customer_id": f"C{c}",
                    "ordered_at": now - timedelta(days=40 * k + c),
                    "product_name": f"Widget {k}",
                    "quantity": 1.0 + k,
                    "unit_price": 10.0,
                    "amount": 10.0 * (1 + k),
                    "currency": "GBP",
                    "is_return": False,
                }
            )
    orders.append(
        {
            "order_line_id": "R1",
            "order_id": "CR1",
            "customer_id": "C1",
            "ordered_at": now - timedelta(days=3),
            "quantity": -1.0,
            "unit_price": 10.0,
            "amount": -10.0,
            "is_return": True,
        }
    )
    store.insert_new("orders", pd.DataFrame(orders))
    store.insert_new(
        "feedback",
        pd.DataFrame(
            [
                {
                    "feedback_id": "F1",
                    "channel": "review",
                    "customer_id": "C1",
                    "author_kind": "customer",
                    "text": "Delivery was late again",
                    "rating": 2.0,
                    "rating_scale": 5.0,
                    "created_at": now - timedelta(days=5),
                },
                {
                    "feedback_id": "F2",
                    "channel": "ticket",
                    "customer_id": "C2",
                    "author_kind": "customer",
                    "text": "Lovely product, fast delivery",
                    "rating": 5.0,
                    "rating_scale": 5.0,
                    "created_at": now - timedelta(days=50),
                },
            ]
        ),
    )
    store.insert_new(
        "feedback_enriched",
        pd.DataFrame(
            [
                {
                    "feedback_id": "F1",
                    "text_hash": "h1",
                    "sentiment": "negative",
                    "sentiment_score": -0.7,
                    "themes": "delivery_speed",
                    "theme_sentiments": '{"delivery_speed": "negative"}',
                    "redacted_text": "Delivery was late again",
                    "model_version": "t",
                    "processed_at": now,
                },
                {
                    "feedback_id": "F2",
                    "text_hash": "h2",
                    "sentiment": "positive",
                    "sentiment_score": 0.8,
                    "themes": "delivery_speed;product_quality",
                    "theme_sentiments": '{"delivery_speed": "positive", "product_quality": "positive"}',
                    "redacted_text": "Lovely product, fast delivery",
                    "model_version": "t",
                    "processed_at": now,
                },
            ]
        ),
    )
    store.insert_new(
        "customer_value",
        pd.DataFrame(
            [
                {
                    "customer_id": f"C{i}",
                    "model": "bgnbd",
                    "frequency": float(i),
                    "recency": 10.0 * i,
                    "T": 40.0,
                    "monetary_value": 20.0,
                    "p_alive": 0.3 * i,
                    "expected_purchases": 0.5 * i,
                    "clv": 100.0 * i,
                    "segment": seg,
                    "churn_risk": 1 - 0.3 * i,
                    "computed_at": now,
                }
                for i, seg in ((1, "at risk"), (2, "loyal"), (3, "champions"))
            ]
        ),
    )


def seeded_store(folder: Path) -> Store:
    """A DuckDB store in `folder` with the seeded shop and one user per role (EMAILS, PASSWORD)."""
    store = connect(f"duckdb:///{folder / 'heedful.duckdb'}")
    seed_data(store)
    for role, email in EMAILS.items():
        create_user(store, email, role, PASSWORD)
    return store


@pytest.fixture(scope="module")
def web_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    store = seeded_store(tmp_path_factory.mktemp("web"))
    yield store
    store.close()


@pytest.fixture(scope="module")
def app(web_store: Store) -> FastAPI:
    return create_app(store=web_store, secret_key="test-secret")


def csrf_of(client: TestClient, path: str = "/login") -> str:
    html = client.get(path).text
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> TestClient:
    token = csrf_of(client)
    response = client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return client


@pytest.fixture(scope="module")
def clients(app: FastAPI) -> Iterator[dict[Role, TestClient]]:
    """One signed-in browser-like client per role (module-scoped: argon2 makes sign-in deliberately slow)."""
    made = {role: TestClient(app, base_url="http://testserver") for role in Role}
    for role, client in made.items():
        sign_in(client, EMAILS[role])
    yield made
    for client in made.values():
        client.close()


def csrf_header(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": csrf_of(client, "/account")}


@pytest.fixture
def csrf_for() -> object:
    """`csrf_for(client)` -> headers carrying that client's CSRF token."""
    return csrf_header
