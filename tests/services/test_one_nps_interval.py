"""One NPS interval: the same 50 answers give the same NPS and 95% interval on the survey page, the
journey scorecard and the customer-focus report (once [-12.8, 31.6] against [-13.0, 33.0])."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from heedful.services import surveys as survey_service
from heedful.services.journey import scorecard_for
from heedful.services.report import build_report
from heedful.store import Store
from heedful.surveys.definition import parse_survey

PERIOD = "2026-10"
SURVEY = """
slug: relationship
title: Relationship survey
pages:
  - id: p1
    questions:
      - {id: nps, type: nps, text: "How likely are you to recommend us to a friend?"}
"""
# 20 promoters, 15 passives, 15 detractors: NPS 10
SCORES = [10] * 12 + [9] * 8 + [8] * 8 + [7] * 7 + [6] * 5 + [3] * 5 + [0] * 5


def _store_answers(store: Store) -> None:
    saved = survey_service.save_definition(store, parse_survey(SURVEY))
    when = pd.Timestamp(f"{PERIOD}-10")
    responses = pd.DataFrame(
        {
            "response_id": [f"r{i:02d}" for i in range(len(SCORES))],
            "survey_id": saved["survey_id"],
            "slug": "relationship",
            "customer_id": [f"c{i:02d}" for i in range(len(SCORES))],
            "started_at": when,
            "completed_at": when,
            "source": "test",
        }
    )
    answers = pd.DataFrame(
        {
            "response_id": responses["response_id"],
            "question_id": "nps",
            "field": "",
            "value": [str(s) for s in SCORES],
            "value_num": [float(s) for s in SCORES],
            "idempotency_key": responses["response_id"] + ":nps",
            "answered_at": when,
        }
    )
    store.insert_new("responses", responses)
    store.insert_new("answers", answers)


def _survey_page(store: Store) -> dict[str, Any]:
    """What the survey results page shows for the NPS question (the page renders `services.surveys.results`)."""
    result = survey_service.results(store, "relationship").result
    return next(q for q in result["questions"] if q["type"] == "nps")


def _store_partial_detractors(store: Store, n: int = 6) -> None:
    """Responses started (an NPS of 0 given) but never completed: results count completed responses only."""
    survey_id = store.fetchall("SELECT survey_id FROM surveys WHERE slug = 'relationship'")[0][0]
    when = pd.Timestamp(f"{PERIOD}-11")
    ids = [f"partial{i}" for i in range(n)]
    store.insert_new(
        "responses",
        pd.DataFrame({"response_id": ids, "survey_id": survey_id, "slug": "relationship", "customer_id": ids}).assign(
            started_at=when, completed_at=pd.NaT, source="test"
        ),
    )
    store.insert_new(
        "answers",
        pd.DataFrame({"response_id": ids, "question_id": "nps", "field": "", "value": "0", "value_num": 0.0}).assign(
            idempotency_key=[f"{i}:nps" for i in ids], answered_at=when
        ),
    )


def test_survey_page_scorecard_and_report_show_one_nps_interval(store: Store) -> None:
    _store_answers(store)
    _store_partial_detractors(store)  # counted nowhere: every figure is of completed responses

    page = _survey_page(store)
    card = scorecard_for(store, PERIOD)
    metric = next(m for n in card.needs for m in n.metrics if m.spec.kind == "nps")
    report = build_report(store, PERIOD)
    headline = next(h for h in report.headline if h["label"] == "NPS")

    assert page["n"] == metric.n == headline["n"] == len(SCORES)
    assert page["nps"] == pytest.approx(10.0)
    assert metric.value == pytest.approx(page["nps"])
    assert headline["value"] == pytest.approx(page["nps"])
    # adjusted Wald (Rocks 2016), not the plain Wald [-13.0, 33.0]
    assert (round(page["low"], 1), round(page["high"], 1)) == (-12.8, 31.6)
    assert (metric.low, metric.high) == pytest.approx((page["low"], page["high"]))
    assert (headline["low"], headline["high"]) == pytest.approx((page["low"], page["high"]))
    assert headline["detail"].startswith("95% interval -13 to 32")


PULSE = """
slug: pulse
title: Pulse
pages:
  - id: p1
    questions:
      - {id: rec, type: nps, text: "Would you recommend us?"}
      - {id: recommend, type: csat, text: "How satisfied are you with our recommendations?"}
"""


def test_the_report_counts_the_answers_to_questions_typed_nps_whatever_their_id(store: Store) -> None:
    _store_answers(store)
    saved = survey_service.save_definition(store, parse_survey(PULSE))
    when = pd.Timestamp(f"{PERIOD}-12")
    ids = [f"p{i}" for i in range(4)]
    store.insert_new(
        "responses",
        pd.DataFrame({"response_id": ids, "survey_id": saved["survey_id"], "slug": "pulse", "customer_id": ids}).assign(
            started_at=when, completed_at=when, source="test"
        ),
    )
    rows = [(rid, q, v) for rid in ids for q, v in (("rec", 10.0), ("recommend", 2.0))]
    store.insert_new(
        "answers",
        pd.DataFrame(
            {
                "response_id": [r for r, _, _ in rows],
                "question_id": [q for _, q, _ in rows],
                "field": "",
                "value": [str(v) for _, _, v in rows],
                "value_num": [v for _, _, v in rows],
                "idempotency_key": [f"{r}:{q}" for r, q, _ in rows],
                "answered_at": when,
            }
        ),
    )
    headline = next(h for h in build_report(store, PERIOD).headline if h["label"] == "NPS")
    # the 4 promoters of `rec` count; the CSAT answers under the id `recommend` do not
    assert headline["n"] == len(SCORES) + 4
    assert headline["value"] == pytest.approx(100 * (20 + 4 - 15) / 54)
