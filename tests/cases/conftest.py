"""Cases fixtures: a store holding synthetic journey data plus one of each signal with known values."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from heedful.journey.synthetic import SyntheticSpec, canonical_tables, make_journey_data
from heedful.store import Store

SCORED_AT = datetime(2026, 10, 31, 12, 0)


def fill_signals(store: Store, *, customers: int = 120, feedback: int = 300) -> None:
    """Synthetic customers, orders, feedback, survey answers and value; one journey alert; churn scores
    where C0000001 (the most valuable customer) and C0000002 are at risk."""
    data = make_journey_data(SyntheticSpec(customers=customers, feedback=feedback, seed=5))
    for table, frame in canonical_tables(data).items():
        store.insert_new(table, frame)
    store.execute("UPDATE customer_value SET clv = 10000 WHERE customer_id = 'C0000001'")
    store.execute("UPDATE customer_value SET clv = 0 WHERE customer_id = 'C0000002'")
    store.execute("UPDATE customers SET email = 'ann@example.com' WHERE customer_id = 'C0000001'")
    alert = {
        "alert_id": "a1",
        "kind": "need_worsened",
        "severity": "high",
        "audience": "external",
        "subject": "on_time_delivery/on_time",
        "need_id": "on_time_delivery",
        "department_id": "delivery",
        "period": "2026-10",
        "title": "Deliveries on time fell from 95% to 80%",
        "detail": "n=400",
        "created_at": SCORED_AT,
    }
    store.insert_new("alerts", pd.DataFrame([alert]))
    churn = pd.DataFrame(
        {
            "customer_id": ["C0000001", "C0000002", "C0000003"],
            "churn_risk": [0.8, 0.9, 0.2],
            "clv": [10000.0, 0.0, 50.0],
            "model_version": "test",
            "scored_at": SCORED_AT,
        }
    )
    store.insert_new("churn_scores", churn)
