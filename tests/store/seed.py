"""A small store with one person ("the subject") present in many tables, plus other customers."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd

from heedful.store import Store

SUBJECT = {
    "customer_id": "CUST-ERASE-7781",
    "name": "Annabel Quist",
    "email": "annabel.quist@example.org",
    "phone": "+44 7700 900123",
}
T0 = datetime(2026, 1, 5, 10, 0)


def seed(store: Store) -> None:
    sid, name, email, phone = (SUBJECT[k] for k in ("customer_id", "name", "email", "phone"))
    customers = pd.DataFrame(
        [
            {
                "customer_id": sid,
                "kind": "customer",
                "name": name,
                "email": email,
                "phone": phone,
                "country": "UK",
                "attributes": json.dumps({"vip": True, "contact": email}),
                "created_at": T0,
            },
            {
                "customer_id": "C2",
                "kind": "customer",
                "name": "Bob Stone",
                "email": "bob@example.com",
                "phone": None,
                "country": "FR",
                "attributes": None,
                "created_at": T0,
            },
            {
                "customer_id": "C3",
                "kind": "customer",
                "name": "Cleo Park",
                "email": "cleo@example.com",
                "phone": "+33 6 12 34 56 78",
                "country": "DE",
                "attributes": None,
                "created_at": T0,
            },
        ]
    )
    store.insert_new("customers", customers)
    orders = []
    for i, cid in enumerate([sid, sid, sid, "C2", "C2", "C3"]):
        orders.append(
            {
                "order_line_id": f"L{i}",
                "order_id": f"O{i // 2}",
                "customer_id": cid,
                "ordered_at": T0 + timedelta(days=7 * i),
                "product_id": f"P{i % 3}",
                "product_name": f"Mug {i % 3}",
                "quantity": 1.0 + i,
                "unit_price": 2.5,
                "amount": 2.5 * (1.0 + i),
                "currency": "GBP",
                "country": "UK",
                "is_return": i == 2,
                "status": "paid",
                "source": "test",
            }
        )
    store.insert_new("orders", pd.DataFrame(orders))
    feedback = pd.DataFrame(
        [
            {
                "feedback_id": "F1",
                "channel": "review",
                "customer_id": sid,
                "author_kind": "customer",
                "author": name,
                "title": "Late",
                "text": f"Parcel late again. Call me on {phone} or write to {email}. {name}",
                "rating": 2.0,
                "rating_scale": 5.0,
                "created_at": T0,
                "source": "test",
            },
            {
                "feedback_id": "F2",
                "channel": "review",
                "customer_id": "C2",
                "author_kind": "customer",
                "author": "Bob Stone",
                "title": "Great",
                "text": "Lovely mugs, fast delivery.",
                "rating": 5.0,
                "rating_scale": 5.0,
                "created_at": T0 + timedelta(days=400),
                "source": "test",
            },
            {
                "feedback_id": "F3",
                "channel": "ticket",
                "customer_id": None,
                "author_kind": "customer",
                "author": "anon",
                "title": None,
                "text": f"My friend {name} recommended you, mail me at x@y.com",
                "rating": None,
                "rating_scale": None,
                "created_at": T0,
                "source": "test",
            },
        ]
    )
    store.insert_new("feedback", feedback)
    store.insert_new(
        "feedback_enriched",
        pd.DataFrame(
            [
                {
                    "feedback_id": f,
                    "text_hash": "h" + f,
                    "sentiment": s,
                    "sentiment_score": v,
                    "themes": th,
                    "redacted_text": r,
                    "model_version": "t",
                    "processed_at": T0,
                }
                for f, s, v, th, r in [
                    ("F1", "negative", -0.6, "delivery_speed", "Parcel late again. Call me on [phone]."),
                    ("F2", "positive", 0.8, "delivery_speed;product_quality", "Lovely mugs, fast delivery."),
                    ("F3", "neutral", 0.0, None, "My friend recommended you"),
                ]
            ]
        ),
    )
    store.insert_new(
        "surveys",
        pd.DataFrame(
            [
                {
                    "survey_id": "nps-1",
                    "slug": "nps",
                    "version": 1,
                    "title": "NPS",
                    "status": "open",
                    "definition": "{}",
                    "created_at": T0,
                }
            ]
        ),
    )
    store.insert_new(
        "invitations",
        pd.DataFrame([{"token_hash": "tok1", "slug": "nps", "customer_id": sid, "created_at": T0}]),
    )
    store.insert_new(
        "responses",
        pd.DataFrame(
            [
                {
                    "response_id": "R1",
                    "survey_id": "nps-1",
                    "slug": "nps",
                    "customer_id": sid,
                    "token_hash": "tok1",
                    "started_at": T0,
                    "completed_at": T0,
                },
                {
                    "response_id": "R2",
                    "survey_id": "nps-1",
                    "slug": "nps",
                    "customer_id": "C2",
                    "started_at": T0,
                    "completed_at": T0,
                },
            ]
        ),
    )
    store.insert_new(
        "answers",
        pd.DataFrame(
            [
                {
                    "response_id": "R1",
                    "question_id": "nps",
                    "field": "",
                    "value": "3",
                    "value_num": 3.0,
                    "idempotency_key": "k1",
                    "answered_at": T0,
                },
                {
                    "response_id": "R1",
                    "question_id": "why",
                    "field": "",
                    "value": f"ask {name} at {email}",
                    "value_num": None,
                    "idempotency_key": "k1",
                    "answered_at": T0,
                },
                {
                    "response_id": "R2",
                    "question_id": "nps",
                    "field": "",
                    "value": "10",
                    "value_num": 10.0,
                    "idempotency_key": "k2",
                    "answered_at": T0,
                },
            ]
        ),
    )
    store.insert_new(
        "advocates",
        pd.DataFrame(
            [
                {
                    "advocate_id": sid,
                    "code": "ANNA42",
                    "status": "joined",
                    "peer_opt_in": True,
                    "capacity": 2,
                    "invited_at": T0,
                    "updated_at": T0,
                }
            ]
        ),
    )
    store.insert_new(
        "referrals",
        pd.DataFrame(
            [
                {
                    "referral_id": "RF1",
                    "code": "ANNA42",
                    "advocate_id": sid,
                    "referred_customer_id": "C3",
                    "referred_email": "cleo@example.com",
                    "status": "converted",
                    "created_at": T0,
                    "order_id": "O2",
                },
                {
                    "referral_id": "RF2",
                    "code": "BOB1",
                    "advocate_id": "C2",
                    "referred_customer_id": sid,
                    "referred_email": email,
                    "status": "converted",
                    "created_at": T0,
                },
            ]
        ),
    )
    store.insert_new(
        "rewards",
        pd.DataFrame(
            [
                {
                    "reward_id": "W1",
                    "idempotency_key": "rw1",
                    "advocate_id": sid,
                    "referral_id": "RF1",
                    "amount": 10.0,
                    "currency": "GBP",
                    "entry": "earned",
                    "created_at": T0,
                }
            ]
        ),
    )
    store.insert_new(
        "peer_matches",
        pd.DataFrame(
            [
                {
                    "match_id": "M1",
                    "customer_id": "C3",
                    "advocate_id": sid,
                    "score": 0.9,
                    "reasons": json.dumps([f"both like mugs ({name})"]),
                    "status": "proposed",
                    "created_at": T0,
                }
            ]
        ),
    )
    store.insert_new(
        "stories",
        pd.DataFrame(
            [
                {
                    "story_id": "S1",
                    "idempotency_key": "s1",
                    "advocate_id": sid,
                    "author_name": name,
                    "title": "Mugs",
                    "body": "I love them",
                    "consent_website": True,
                    "consent_social": False,
                    "consent_sales": False,
                    "status": "approved",
                    "submitted_at": T0,
                }
            ]
        ),
    )
    store.insert_new(
        "customer_value",
        pd.DataFrame(
            [{"customer_id": c, "model": "bgnbd", "clv": v, "computed_at": T0} for c, v in [(sid, 120.0), ("C2", 40.0)]]
        ),
    )
    store.insert_new(
        "churn_scores",
        pd.DataFrame([{"customer_id": sid, "churn_risk": 0.3, "reasons": "[]", "model_version": "t", "scored_at": T0}]),
    )
    store.insert_new(
        "offers",
        pd.DataFrame([{"customer_id": sid, "rank": 1, "product_id": "P1", "method": "popularity", "created_at": T0}]),
    )
    store.insert_new(
        "audit_log",
        pd.DataFrame(
            [
                {
                    "audit_id": "A1",
                    "occurred_at": T0,
                    "actor": "admin@shop.test",
                    "action": "customer.view",
                    "target": sid,
                    "detail": json.dumps({"email": email}),
                }
            ]
        ),
    )
    store.insert_new(
        "imports",
        pd.DataFrame(
            [
                {
                    "import_id": "I1",
                    "entity": "customers",
                    "preset": "generic",
                    "source_file": "c.csv",
                    "started_at": T0,
                    "status": "done",
                }
            ]
        ),
    )
    store.insert_new(
        "quarantine",
        pd.DataFrame(
            [
                {
                    "import_id": "I1",
                    "source_file": "c.csv",
                    "line": 7,
                    "error": "bad date",
                    "raw": json.dumps({"email": email, "name": name}),
                    "created_at": T0,
                }
            ]
        ),
    )
