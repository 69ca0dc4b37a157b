"""Advocacy test data: a few customers and orders, written through the store."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from heedful.store import Store


def add_customers(store: Store, rows: list[dict[str, object]]) -> None:
    frame = pd.DataFrame(rows)
    frame["kind"] = frame.get("kind", "customer")
    frame["created_at"] = datetime(2024, 1, 1)
    store.insert_new("customers", frame)


def add_orders(store: Store, rows: list[tuple[str, str, str, float]]) -> int:
    """(order_id, customer_id, 'YYYY-MM-DD', amount) -> one order line each."""
    frame = pd.DataFrame(
        {
            "order_line_id": [f"{o}-1" for o, *_ in rows],
            "order_id": [o for o, *_ in rows],
            "customer_id": [c for _, c, *_ in rows],
            "ordered_at": pd.to_datetime([d for *_, d, _ in rows]),
            "quantity": 1.0,
            "unit_price": [a for *_, a in rows],
            "amount": [a for *_, a in rows],
            "is_return": False,
        }
    )
    return store.insert_new("orders", frame)
