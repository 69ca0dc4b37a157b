"""Generated answers to the sample survey (customer-pulse), stored as the respondent pages store them.

Clearly simulated: `completed` respondents answer every question (trade-offs included) and finish;
`partial` respondents answer only the first page (NPS, CSAT, CES) and leave.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from heedful.services.surveys import latest_survey
from heedful.store import Store
from heedful.surveys.collect import conjoint_tasks, maxdiff_tasks

SLUG = "customer-pulse"
WHEN = pd.Timestamp("2026-10-10")


def _first_page(rid: str, rng: np.random.Generator, nps: int | None = None) -> list[tuple[str, str, str, float | None]]:
    score = int(rng.integers(0, 11)) if nps is None else nps
    csat, ces = int(rng.integers(1, 6)), int(rng.integers(1, 8))
    return [
        ("nps", "", str(score), float(score)),
        ("csat", "", str(csat), float(csat)),
        ("ces", "", str(ces), float(ces)),
    ]


def _other_pages(rid: str, survey: object, rng: np.random.Generator) -> list[tuple[str, str, str, float | None]]:
    questions = {q.id: q for q in survey.questions}  # type: ignore[attr-defined]
    rows: list[tuple[str, str, str, float | None]] = []
    for row in ("delivery_is_fast", "prices_are_fair", "support_is_helpful"):
        point = int(rng.integers(1, 6))
        rows.append(("ratings", row, str(point), float(point)))
    rows.append(("channel", "", str(rng.choice(["search", "friend", "social_media"])), None))
    for rank, option in enumerate(rng.permutation(["price", "speed", "choice"]), start=1):
        rows.append(("priorities", str(option), str(rank), float(rank)))
    orders = int(rng.integers(0, 40))
    rows.append(("orders_per_year", "", str(orders), float(orders)))
    rows.append(("comment", "", "Delivery could be faster.", None))
    utility = {"free_delivery": 1.0, "next_day_delivery": 0.5, "easy_returns": 0.0, "loyalty_points": -0.5}
    for t, shown in enumerate(maxdiff_tasks(questions["features"], rid), start=1):
        u = np.array([utility.get(item, -1.0) for item in shown]) + rng.gumbel(size=len(shown))
        rows += [
            ("features", f"t{t}.shown", "|".join(shown), None),
            ("features", f"t{t}.best", shown[int(np.argmax(u))], None),
            ("features", f"t{t}.worst", shown[int(np.argmin(u))], None),
        ]
    for t, profiles in enumerate(conjoint_tasks(questions["plans"], rid), start=1):
        appeal = [
            (p["delivery"] == "Next day") * 0.8 + (p["returns"] == "60 days") * 0.4 - 0.1 * float(p["price"])
            for p in profiles
        ]
        pick = int(np.argmax(np.array(appeal) + rng.gumbel(size=len(appeal)))) + 1
        rows += [
            ("plans", f"t{t}.design", json.dumps(profiles, default=str), None),
            ("plans", f"t{t}", str(pick), float(pick)),
        ]
    too_cheap = float(rng.integers(2, 6))
    for field, price in zip(
        ("too_cheap", "cheap", "expensive", "too_expensive"),
        (too_cheap, too_cheap + 3, too_cheap + 8, too_cheap + 14),
        strict=True,
    ):
        rows.append(("price_feel", field, f"{price:g}", price))
    return rows


def store_responses(store: Store, completed: int, partial: int, seed: int = 0, partial_nps: int | None = None) -> None:
    """Store `completed` finished responses and `partial` ones that stopped after the first page."""
    row, survey = latest_survey(store, SLUG)
    rng = np.random.default_rng(seed)
    responses, answers = [], []
    for i in range(completed + partial):
        done = i < completed
        rid = f"{'done' if done else 'part'}{i:04d}"
        responses.append(
            {
                "response_id": rid,
                "survey_id": row["survey_id"],
                "slug": SLUG,
                "started_at": WHEN,
                "completed_at": WHEN if done else None,
                "wave": survey.wave,
                "source": "test",
            }
        )
        given = _first_page(rid, rng, None if done else partial_nps)
        if done:
            given += _other_pages(rid, survey, rng)
        for qid, field, value, number in given:
            answers.append(
                {
                    "response_id": rid,
                    "question_id": qid,
                    "field": field,
                    "value": value,
                    "value_num": number,
                    "idempotency_key": f"{rid}:{qid}",
                    "answered_at": WHEN,
                }
            )
    store.insert_new("responses", pd.DataFrame(responses))
    store.insert_new("answers", pd.DataFrame(answers))
