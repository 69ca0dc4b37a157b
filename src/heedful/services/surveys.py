"""Survey use cases over the store: definitions, invitations, page saves, results, trade-off analyses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from heedful.errors import InputError
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.store.surveys_repo import AnswerRow, NewResponse, PageSave
from heedful.surveys.collect import Answer
from heedful.surveys.definition import (
    SurveyDefinition,
    parse_survey,
    question_ids_of_type,
    survey_from_json,
    survey_to_json,
)

if TYPE_CHECKING:
    from heedful.surveys.conjoint import Conjoint
    from heedful.surveys.maxdiff import MaxDiff
    from heedful.surveys.vanwestendorp import VanWestendorp

# The sample survey (every question type): `heedful demo` stores it, the web's new-survey form starts from it.
EXAMPLE = Path(__file__).resolve().parents[1] / "surveys" / "examples" / "customer-pulse.yaml"

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


# ------------------------------------------------------------------------------ definitions
def save_definition(store: Store, survey: SurveyDefinition, status: str = "open") -> dict[str, Any]:
    """Store a survey; a changed definition becomes a new version, an unchanged one is left as is."""
    return repo.save_definition(store, survey_to_json(survey), status=status)


def latest_survey(store: Store, slug: str) -> tuple[dict[str, Any], SurveyDefinition]:
    """(row, definition) of a survey's newest version; NotFoundError for an unknown slug."""
    row, document = repo.latest_definition(store, slug)
    return row, survey_from_json(document)


def survey_version(store: Store, survey_id: str) -> SurveyDefinition:
    return survey_from_json(repo.definition_of(store, survey_id))


def create_survey(store: Store, text: str, source: str, status: str = "open") -> dict[str, Any]:
    """Validate a YAML definition and store it: version info, title, counts of questions and pages, its link."""
    survey = parse_survey(text, source)
    info = save_definition(store, survey, status=status)
    return info | {
        "title": survey.title,
        "questions": len(survey.questions),
        "pages": len(survey.pages),
        "url": f"/s/{survey.slug}",
    }


# ------------------------------------------------------------------------------ invitations
def select_customers(store: Store, query: str) -> pd.DataFrame:
    """Customers chosen by QUERY: 'all', a kind (customer, prospect, staff, partner), @file of ids, or a SQL condition."""
    base = "SELECT customer_id, name, email, kind FROM customers"
    if query == "all":
        return store.query(base)
    if query in ("customer", "prospect", "staff", "partner"):
        return store.query(f"{base} WHERE kind = ?", [query])
    if query.startswith("@"):
        path = Path(query[1:])
        if not path.is_file():
            raise InputError(f"File not found: {path}" if not path.exists() else f"Not a file: {path}")
        ids = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        frame = store.query(base)
        return frame[frame["customer_id"].isin(ids)]
    if ";" in query:
        raise InputError("--customers takes one SQL condition (no ';').")
    try:
        return store.query(f"{base} WHERE {query}")
    except Exception as exc:
        raise InputError(f"--customers {query!r} is not a valid condition on the customers table: {exc}") from exc


def invite(store: Store, slug: str, customers: str, base_url: str) -> list[dict[str, str]]:
    """One unguessable personal link per chosen customer (only its hash is stored): customer_id, name, email, link."""
    chosen = select_customers(store, customers)
    if chosen.empty:
        raise InputError(f"No customers match {customers!r}.")
    issued = repo.create_invitations(store, slug, chosen["customer_id"].astype(str).tolist())
    by_id = chosen.set_index(chosen["customer_id"].astype(str))
    rows = []
    for cid, token in issued:
        row = by_id.loc[cid]
        rows.append(
            {
                "customer_id": cid,
                "name": row["name"] or "",
                "email": row["email"] or "",
                "link": f"{base_url.rstrip('/')}/s/{slug}?t={token}",
            }
        )
    return rows


# ------------------------------------------------------------------------------ responses
def answer_rows(answers: Iterable[Answer]) -> tuple[AnswerRow, ...]:
    """Validated answers -> the records the store writes."""
    return tuple(AnswerRow(a.question_id, a.field, a.value, a.value_num) for a in answers)


def page_save(
    response_id: str,
    page_id: str,
    question_ids: Iterable[str],
    answers: Iterable[Answer],
    idempotency_key: str,
    next_page: int | None,
) -> PageSave:
    """One submitted page as the store saves it (`next_page` None completes the response)."""
    return PageSave(response_id, page_id, tuple(question_ids), answer_rows(answers), idempotency_key, next_page)


def save_page(
    store: Store,
    response_id: str,
    page_id: str,
    question_ids: Sequence[str],
    answers: Sequence[Answer],
    idempotency_key: str,
    next_page: int | None,
) -> bool:
    """Save one page's answers durably; False (and nothing written) when this key was saved already."""
    item = page_save(response_id, page_id, question_ids, answers, idempotency_key, next_page)
    return repo.save_pages(store, [item])[0]


def save_submissions(store: Store, batch: Sequence[tuple[PageSave, NewResponse | None]]) -> list[tuple[bool, bool]]:
    """One transaction, one durable commit: the batch's new responses, then every page (see `repo.save_pages`).

    A response is created with its first saved page, never before (a visit alone stores nothing);
    one the form names that is already stored (the same form sent again) is kept, not doubled.
    Per item: (page saved — False for an idempotency key saved already, response created now).
    """
    with store.transaction():
        created = repo.insert_responses(store, [(item.response_id, new) for item, new in batch if new is not None])
        saved = repo.save_pages(store, [item for item, _ in batch])
    out: list[tuple[bool, bool]] = []
    for (item, new), ok in zip(batch, saved, strict=True):
        first = new is not None and item.response_id in created
        created.discard(item.response_id)  # the first item naming a new response is the one that created it
        out.append((ok, first))
    return out


# ------------------------------------------------------------------------------ results
@dataclass(frozen=True)
class SurveyReport:
    """A survey's newest version (row and definition), its results, and how many were invited."""

    row: dict[str, Any]
    survey: SurveyDefinition
    result: dict[str, Any]
    invited: int


def results(store: Store, slug: str, *, to_feedback: bool = False, min_n: int | None = None) -> SurveyReport:
    """Response rate, NPS with its interval, CSAT/CES, cross-tabs, key drivers, trade-offs of every version.

    Counts `completed` and `partial` responses; every estimate comes from completed responses only
    and is shown from `heedful.surveys.results.MINIMUM_RESPONDENTS` respondents (`min_n` sets one
    minimum for all). Below it an estimate reads {"status": "not_enough_data", "n": K, "minimum": M};
    a model that cannot be estimated says why in words (`reason`), never with the error's text.
    With `to_feedback`, open-text answers are also copied into `feedback` (once) for listening, and the
    result says how many were added (`feedback_added`).
    """
    from heedful.surveys.results import open_text_feedback, survey_results

    if min_n is not None and min_n < 1:
        raise InputError(f"The minimum number of respondents must be at least 1, got {min_n}.")
    row, survey = latest_survey(store, slug)
    responses, answers, invited = repo.survey_data(store, slug)
    result = survey_results(survey, responses, answers, invited, min_n=min_n)
    result["status"] = row["status"]
    if to_feedback and len(answers):
        result["feedback_added"] = store.insert_new("feedback", open_text_feedback(survey, responses, answers))
    return SurveyReport(row, survey, result, invited)


# ------------------------------------------------------------------------------ trade-off data from any tool
def maxdiff(
    path: Path, method: str = "hb", iterations: int = 4000, progress: Callable[..., Any] | None = None
) -> MaxDiff:
    """MaxDiff utilities from a long file: respondent, task, item, best (0/1), worst (0/1)."""
    from heedful.ingest.sources import read_frame
    from heedful.surveys.maxdiff import MaxDiff

    frame = read_frame(path, numbers=True)
    return MaxDiff(method=method, n_iter=iterations, burn_in=iterations // 2).fit(frame, progress=progress)


def conjoint(
    path: Path,
    *,
    price_col: str | None = None,
    method: str = "hb",
    iterations: int = 4000,
    simulate: Path | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[Conjoint, dict[str, Any]]:
    """Part-worths from a long choice file; the model and its results (with `simulate`: market shares).

    An aggregate (mnl) model that its data do not identify gives {"status": "not_identified", …}
    instead of part-worths, intervals, willingness to pay and shares.
    """
    from heedful.ingest.sources import read_frame
    from heedful.surveys.conjoint import Conjoint

    frame = read_frame(path, numbers=True)
    model = Conjoint(method=method, price_col=price_col, n_iter=iterations, burn_in=iterations // 2).fit(
        frame, progress=progress
    )
    result: dict[str, Any] = model.to_dict()
    if simulate is not None and model.identified_:
        result["simulation"] = model.simulate(read_frame(simulate, numbers=True)).to_dict(orient="records")
    return model, result


def van_westendorp(path: Path, convention: str = "common") -> VanWestendorp:
    """Van Westendorp price sensitivity from a file with too_cheap, cheap, expensive, too_expensive."""
    from heedful.ingest.sources import read_frame
    from heedful.surveys.vanwestendorp import VanWestendorp

    return VanWestendorp(convention=convention).fit(read_frame(path, numbers=True))


# ------------------------------------------------------------------------------ demo
def demo_step(store: Store) -> dict[str, object]:
    """Store the sample survey (every question type) so the demo shows it at /s/customer-pulse.

    No answers are invented: results appear once people answer (or an export is imported).
    """
    survey = parse_survey(EXAMPLE.read_text(encoding="utf-8"), EXAMPLE.name)
    info = save_definition(store, survey)
    responses, _, _ = repo.survey_data(store, survey.slug)
    return {
        "survey": survey.slug,
        "version": info["version"],
        "questions": len(survey.questions),
        "link": f"/s/{survey.slug}",
        "responses": len(responses),
    }
