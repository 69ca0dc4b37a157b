"""One decision of which answers are NPS: the question's type in its survey's definition."""

from __future__ import annotations

import json

import pandas as pd

from heedful.services.surveys import answers_of_type
from heedful.store import Store
from heedful.surveys.definition import question_ids_of_type

DEFINITION = {
    "slug": "pulse",
    "title": "Pulse",
    "pages": [
        {
            "id": "p1",
            "questions": [
                {"id": "rec", "type": "nps", "text": "Recommend?"},
                {"id": "nps_note", "type": "text", "text": "Why?"},
                {"id": "sat", "type": "csat", "text": "Happy?"},
            ],
        }
    ],
}


def test_question_ids_by_type_from_stored_json() -> None:
    assert question_ids_of_type(json.dumps(DEFINITION), "nps") == {"rec"}
    assert question_ids_of_type(DEFINITION, "csat", "nps") == {"rec", "sat"}
    assert question_ids_of_type("{not json", "nps") == set()


def _seed(store: Store) -> None:
    now = pd.Timestamp("2024-05-01")
    store.execute(
        "INSERT INTO surveys (survey_id, slug, version, title, status, definition, created_at) VALUES (?,?,?,?,?,?,?)",
        ["pulse-1", "pulse", 1, "Pulse", "open", json.dumps(DEFINITION), now],
    )
    responses = [
        ("r1", "pulse-1", "pulse", "c1", now),  # completed
        ("r2", "pulse-1", "pulse", "c2", None),  # partial
        ("r3", "old-1", "old", "c3", now),  # survey without a stored definition
    ]
    for rid, sid, slug, cid, done in responses:
        store.execute(
            "INSERT INTO responses (response_id, survey_id, slug, customer_id, started_at, completed_at, source) "
            "VALUES (?,?,?,?,?,?,?)",
            [rid, sid, slug, cid, now, done, "test"],
        )
    answers = [
        ("r1", "rec", 9.0),
        ("r1", "nps_note", 3.0),  # a text question whose id mentions nps: not NPS
        ("r1", "sat", 4.0),
        ("r2", "rec", 2.0),
        ("r3", "recommend", 10.0),  # conventional id where no definition says otherwise
        ("r3", "rec", 11.0),  # not a typed question of a known survey, and off the scale
    ]
    for rid, qid, value in answers:
        store.execute(
            "INSERT INTO answers (response_id, question_id, field, value, value_num, idempotency_key, answered_at) "
            "VALUES (?,?,?,?,?,?,?)",
            [rid, qid, "", str(value), value, f"{rid}-{qid}", now],
        )


def test_answers_of_type_reads_definitions_and_separates_partial_responses(store: Store) -> None:
    _seed(store)
    nps = answers_of_type(store, "nps").sort_values("response_id")
    assert list(zip(nps["response_id"], nps["question_id"], nps["score"], strict=True)) == [
        ("r1", "rec", 9.0),
        ("r2", "rec", 2.0),
        ("r3", "recommend", 10.0),
    ]
    assert nps["completed"].tolist() == [True, False, True]
    assert sorted(answers_of_type(store, "nps", completed_only=True)["response_id"]) == ["r1", "r3"]
    assert answers_of_type(store, "csat")["question_id"].tolist() == ["sat"]
