"""Synthetic journey data with known truth, for tests, benchmarks and the documentation.

Every table has the columns `JourneyData` expects. Rates are set per theme and month, so a test
can plant a change ("delivery praise falls from 80% to 55% in 2026-10") and check it is found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from heedful.journey.metrics import JourneyData
from heedful.themes import SEPARATOR as THEME_SEPARATOR

THEMES: dict[str, tuple[str, str]] = {
    # theme id (as in heedful's listening taxonomy) -> (department, journey stage)
    "delivery_speed": ("delivery", "delivery"),
    "price_value": ("sales", "purchase"),
    "product_quality": ("product", "use"),
    "fit_size": ("product", "use"),
    "customer_support": ("support", "support"),
    "returns_refunds": ("services", "support"),
    "look_style": ("marketing", "consideration"),
    "packaging": ("delivery", "delivery"),
    "website_app": ("sales", "purchase"),
    "communication": ("marketing", "awareness"),
    "onboarding": ("services", "onboarding"),
}


@dataclass
class SyntheticSpec:
    """How much data and which rates; `positive_rate[theme][period]` overrides `base_positive`."""

    customers: int = 2_000
    feedback: int = 6_000
    months: int = 6
    end: str = "2026-10"
    base_positive: float = 0.7
    positive_rate: dict[str, dict[str, float]] = field(default_factory=dict)
    nps_answers_per_month: int = 200
    promoter_rate: float = 0.45
    detractor_rate: float = 0.2
    staff: int = 40
    staff_feedback: int = 120
    orders_per_customer: float = 2.5
    seed: int = 0


def make_journey_data(spec: SyntheticSpec | None = None) -> JourneyData:
    """A JourneyData with customers, orders, feedback (+enrichment), NPS/CES answers, value and operations."""
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    last = pd.Period(spec.end, freq="M")
    periods = [last - i for i in range(spec.months - 1, -1, -1)]
    start = periods[0].start_time
    span_s = ((last + 1).start_time - start).total_seconds()

    n_c = spec.customers
    customer_ids = np.array([f"C{i:07d}" for i in range(n_c)], dtype=object)
    staff_ids = np.array([f"S{i:05d}" for i in range(spec.staff)], dtype=object)
    customers = pd.DataFrame(
        {
            "customer_id": np.concatenate([customer_ids, staff_ids]),
            "kind": ["customer"] * n_c + ["staff"] * spec.staff,
            "name": [f"Customer {i}" for i in range(n_c)] + [f"Staff {i}" for i in range(spec.staff)],
        }
    )

    clv = rng.lognormal(mean=5.0, sigma=1.0, size=n_c)
    churn = rng.beta(2, 5, size=n_c)
    segment = np.where(clv > np.quantile(clv, 0.8), "champions", np.where(churn > 0.5, "at risk", "regulars"))
    customer_value = pd.DataFrame(
        {"customer_id": customer_ids, "clv": clv, "churn_risk": churn, "segment": segment, "p_alive": 1 - churn}
    )

    n_orders = int(n_c * spec.orders_per_customer)
    who = rng.integers(0, n_c, size=n_orders)
    when = start + pd.to_timedelta(rng.uniform(0, span_s, size=n_orders), unit="s")
    orders = pd.DataFrame(
        {
            "customer_id": customer_ids[who],
            "order_id": [f"O{i:08d}" for i in range(n_orders)],
            "ordered_at": when,
            "amount": np.round(rng.gamma(2.0, 30.0, size=n_orders), 2),
            "is_return": rng.random(n_orders) < 0.03,
        }
    )

    feedback = _feedback(spec, rng, customer_ids, start, span_s, periods, "customer")
    staff_fb = (
        None
        if spec.staff == 0 or spec.staff_feedback == 0
        else _feedback(
            SyntheticSpec(feedback=spec.staff_feedback, base_positive=0.55, seed=spec.seed + 1, months=spec.months),
            rng,
            staff_ids,
            start,
            span_s,
            periods,
            "staff",
        )
    )
    if staff_fb is not None:
        feedback = pd.concat([feedback, staff_fb], ignore_index=True)

    answers = _nps_answers(spec, rng, customer_ids, periods)
    ops = pd.DataFrame(
        {
            "metric": "on_time_delivery",
            "period_start": [p.start_time.date() for p in periods],
            "segment": "",
            "denominator": 1000.0,
            "numerator": rng.binomial(1000, 0.94, size=len(periods)).astype(float),
            "value": np.nan,
            "department_id": "delivery",
        }
    )
    return JourneyData(
        feedback=feedback,
        answers=answers,
        orders=orders,
        customer_value=customer_value,
        operations=ops,
        customers=customers,
    )


def _feedback(
    spec: SyntheticSpec,
    rng: np.random.Generator,
    authors: np.ndarray,
    start: pd.Timestamp,
    span_s: float,
    periods: list[pd.Period],
    author_kind: str,
) -> pd.DataFrame:
    n = spec.feedback
    theme_names = np.array(list(THEMES), dtype=object)
    offsets = np.sort(rng.uniform(0, span_s, size=n))
    created = start + pd.to_timedelta(offsets, unit="s")
    labels = created.to_period("M").astype(str)
    main = theme_names[rng.integers(0, len(theme_names), size=n)]
    second = theme_names[rng.integers(0, len(theme_names), size=n)]
    has_second = (rng.random(n) < 0.3) & (second != main)
    positive_p = np.full(n, spec.base_positive)
    for theme, by_period in spec.positive_rate.items():
        for period, rate in by_period.items():
            mentions = (main == theme) | (has_second & (second == theme))
            positive_p[mentions & (labels == period)] = rate
    positive = rng.random(n) < positive_p
    sentiment = np.where(positive, "positive", np.where(rng.random(n) < 0.7, "negative", "neutral"))
    themes = np.where(has_second, main + THEME_SEPARATOR + second, main)  # heedful.themes' encoding, vectorised
    theme_sentiments = [
        json.dumps({m: s, t: s} if h else {m: s})
        for m, t, s, h in zip(main, second, sentiment, has_second, strict=True)
    ]
    topic = np.char.replace(main.astype(str), "_", " ")
    texts = np.where(
        positive, "Really happy with the " + topic + ", thank you!", "Disappointed with the " + topic + " this time."
    )
    who = authors[rng.integers(0, len(authors), size=n)]
    return pd.DataFrame(
        {
            "feedback_id": [f"{author_kind[0]}F{i:08d}" for i in range(n)],
            "created_at": created,
            "customer_id": who,
            "author_kind": author_kind,
            "text": texts,
            "redacted_text": texts,
            "rating": np.where(positive, 5.0, 2.0),
            "sentiment": sentiment,
            "sentiment_score": np.where(positive, 0.8, -0.6),
            "themes": themes,
            "theme_sentiments": theme_sentiments,
            "department": [THEMES[m][0] for m in main],
            "journey_stage": [THEMES[m][1] for m in main],
        }
    )


def _nps_answers(
    spec: SyntheticSpec, rng: np.random.Generator, customer_ids: np.ndarray, periods: list[pd.Period]
) -> pd.DataFrame:
    frames = []
    m = spec.nps_answers_per_month
    p_pass = 1 - spec.promoter_rate - spec.detractor_rate
    for k, period in enumerate(periods):
        kind = rng.choice(3, size=m, p=[spec.promoter_rate, p_pass, spec.detractor_rate])
        score = np.where(
            kind == 0, rng.integers(9, 11, m), np.where(kind == 1, rng.integers(7, 9, m), rng.integers(0, 7, m))
        )
        when = period.start_time + pd.to_timedelta(rng.uniform(0, 27 * 86400, size=m), unit="s")
        who = customer_ids[rng.integers(0, len(customer_ids), size=m)]
        rid = [f"R{k:02d}{i:06d}" for i in range(m)]
        frames.append(
            pd.DataFrame(
                {
                    "response_id": rid,
                    "slug": "relationship",
                    "question_id": "nps",
                    "value_num": score.astype(float),
                    "answered_at": when,
                    "customer_id": who,
                    "audience": "customer",
                }
            )
        )
        frames.append(
            pd.DataFrame(
                {
                    "response_id": rid,
                    "slug": "relationship",
                    "question_id": "ces",
                    "value_num": rng.integers(3, 8, m).astype(float),
                    "answered_at": when,
                    "customer_id": who,
                    "audience": "customer",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _definition(slug: str) -> dict[str, object]:
    """The stored definition of a synthetic survey: its questions typed, as the survey builder stores them."""
    return {
        "slug": slug,
        "title": "Relationship survey",
        "pages": [
            {
                "id": "p1",
                "questions": [
                    {"id": "nps", "type": "nps", "text": "How likely are you to recommend us to a friend?"},
                    {"id": "ces", "type": "ces", "text": "It was easy to get what I needed."},
                ],
            }
        ],
    }


def canonical_tables(data: JourneyData, now: str = "2026-11-01") -> dict[str, pd.DataFrame]:
    """The synthetic data as rows of heedful's canonical tables (customers, orders, feedback,
    feedback_enriched, surveys, responses, answers, customer_value, operations), ready to insert."""
    stamp = pd.Timestamp(now)
    customers = data.customers.assign(created_at=stamp, source="synthetic")
    o = data.orders
    orders = pd.DataFrame(
        {
            "order_line_id": o["order_id"],
            "order_id": o["order_id"],
            "customer_id": o["customer_id"],
            "ordered_at": o["ordered_at"],
            "quantity": 1.0,
            "unit_price": o["amount"],
            "amount": o["amount"],
            "is_return": o["is_return"].astype(bool),
            "source": "synthetic",
        }
    )
    f = data.feedback
    feedback = pd.DataFrame(
        {
            "feedback_id": f["feedback_id"],
            "channel": "review",
            "customer_id": f["customer_id"],
            "author_kind": f["author_kind"],
            "text": f["text"],
            "rating": f["rating"],
            "rating_scale": 5.0,
            "created_at": f["created_at"],
            "source": "synthetic",
        }
    )
    enriched = pd.DataFrame(
        {
            "feedback_id": f["feedback_id"],
            "text_hash": f["feedback_id"],
            "sentiment": f["sentiment"],
            "sentiment_score": f["sentiment_score"],
            "themes": f["themes"],
            "theme_sentiments": f["theme_sentiments"],
            "department": f["department"],
            "journey_stage": f["journey_stage"],
            "redacted_text": f["redacted_text"],
            "model_version": "synthetic",
            "processed_at": stamp,
        }
    )
    a = data.answers
    surveys = pd.DataFrame(
        {
            "survey_id": [f"{s}@1" for s in a["slug"].dropna().unique()],
            "slug": a["slug"].dropna().unique(),
            "version": 1,
            "title": "Relationship survey",
            "audience": "customer",
            "status": "open",
            "definition": [json.dumps(_definition(str(slug))) for slug in a["slug"].dropna().unique()],
            "created_at": stamp,
        }
    )
    first = a.drop_duplicates("response_id")
    responses = pd.DataFrame(
        {
            "response_id": first["response_id"],
            "survey_id": first["slug"] + "@1",
            "slug": first["slug"],
            "customer_id": first["customer_id"],
            "started_at": first["answered_at"],
            "completed_at": first["answered_at"],
            "source": "synthetic",
        }
    )
    answers = pd.DataFrame(
        {
            "response_id": a["response_id"],
            "question_id": a["question_id"],
            "field": "",
            "value": a["value_num"].astype(int).astype(str),
            "value_num": a["value_num"],
            "idempotency_key": a["response_id"],
            "answered_at": a["answered_at"],
        }
    )
    value = data.customer_value.assign(model="synthetic", computed_at=stamp)
    ops = data.operations.assign(source="synthetic")
    return {
        "customers": customers,
        "orders": orders,
        "feedback": feedback,
        "feedback_enriched": enriched,
        "surveys": surveys,
        "responses": responses,
        "answers": answers,
        "customer_value": value,
        "operations": ops,
    }
