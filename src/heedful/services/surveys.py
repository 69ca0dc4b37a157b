"""Survey use cases over the store."""

from __future__ import annotations

import pandas as pd

from heedful.store import Store
from heedful.surveys.definition import question_ids_of_type

# Where an answer's survey has no stored definition (answers imported on their own), these ids are read
# as would-you-recommend questions.
CONVENTIONAL_IDS: dict[str, frozenset[str]] = {
    "nps": frozenset({"nps", "recommend", "likelihood_to_recommend"}),
}
SCALES: dict[str, tuple[float, float]] = {"nps": (0, 10)}


def answers_of_type(
    store: Store, kind: str, *, known_customers: bool = True, completed_only: bool = False
) -> pd.DataFrame:
    """Every numeric answer to a question of type `kind` ("nps", "csat", "ces", …).

    The one place that decides which answers are NPS (or CSAT…): the question's type in its survey's
    stored definition; for answers whose survey has no stored definition, the conventional ids. Columns:
    survey_id, slug, response_id, question_id, customer_id, score, answered_at, completed (bool).
    `known_customers` keeps answers by an identified customer; `completed_only` those of completed
    responses. Scores outside the question type's scale (NPS 0–10) are left out.
    """
    columns = ["survey_id", "slug", "response_id", "question_id", "customer_id", "score", "answered_at", "completed"]
    tables = set(store.list_tables())
    if not {"answers", "responses"} <= tables:
        return pd.DataFrame(columns=columns)
    typed: dict[str, set[str]] = {}
    if "surveys" in tables:
        for survey_id, definition in store.fetchall("SELECT survey_id, definition FROM surveys"):
            typed[str(survey_id)] = question_ids_of_type(definition, kind)
    where = ["a.value_num IS NOT NULL"]
    if known_customers:
        where.append("r.customer_id IS NOT NULL")
    if completed_only:
        where.append("r.completed_at IS NOT NULL")
    answers = store.query(
        "SELECT r.survey_id, r.slug, r.response_id, a.question_id, r.customer_id, a.value_num AS score, "
        "a.answered_at, r.completed_at IS NOT NULL AS completed "
        "FROM answers a JOIN responses r ON r.response_id = a.response_id WHERE " + " AND ".join(where)
    )
    if answers.empty:
        return pd.DataFrame(columns=columns)
    fallback = CONVENTIONAL_IDS.get(kind.lower(), frozenset())
    keep = [
        question in typed[survey] if survey in typed else question in fallback
        for survey, question in zip(answers["survey_id"].astype(str), answers["question_id"].astype(str), strict=True)
    ]
    answers = answers[keep]
    if kind.lower() in SCALES:
        low, high = SCALES[kind.lower()]
        answers = answers[answers["score"].between(low, high)]
    answers = answers.assign(completed=answers["completed"].astype(bool))
    return answers[columns].reset_index(drop=True)
