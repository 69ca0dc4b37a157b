"""Storage of surveys: versions, idempotent page saves, invitation token security (DuckDB and PostgreSQL)."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from heedful.errors import NotFoundError
from heedful.services import surveys as service
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.surveys.collect import Answer
from heedful.surveys.definition import parse_survey

TEXT = (Path(__file__).resolve().parents[2] / "src/heedful/surveys/examples/customer-pulse.yaml").read_text()


def test_unchanged_definition_keeps_its_version_and_a_changed_one_adds_one(store: Store) -> None:
    survey = parse_survey(TEXT)
    first = service.save_definition(store, survey)
    again = service.save_definition(store, survey)
    changed = service.save_definition(store, parse_survey(TEXT.replace("How are we doing?", "How are we doing now?")))
    assert (first["version"], again["created"], changed["version"]) == (1, False, 2)
    row, latest = service.latest_survey(store, "customer-pulse")
    assert latest.title == "How are we doing now?" and row["status"] == "open"
    with pytest.raises(NotFoundError):
        service.latest_survey(store, "nope")


def test_double_submit_of_a_page_records_once(store: Store) -> None:
    info = service.save_definition(store, parse_survey(TEXT))
    rid = repo.start_response(store, info["survey_id"], "customer-pulse")
    answers = [Answer("nps", "", "9", 9.0), Answer("csat", "", "5", 5.0)]
    assert service.save_page(store, rid, "loyalty", ["nps", "csat", "ces"], answers, "key-1", 2) is True
    assert service.save_page(store, rid, "loyalty", ["nps", "csat", "ces"], answers, "key-1", 2) is False
    assert store.count("answers") == 3  # two answers and the page mark
    assert sorted(repo.response_answers(store, rid)) == [("csat", "", "5"), ("nps", "", "9")]
    # going back and answering the page again replaces its answers
    assert service.save_page(store, rid, "loyalty", ["nps", "csat", "ces"], [Answer("nps", "", "3", 3.0)], "key-2", 1)
    assert repo.response_answers(store, rid) == [("nps", "", "3")]
    assert repo.response_state(store, rid)["current_page"] == 1
    service.save_page(store, rid, "why_low", ["problems", "low_reason"], [], "key-3", None)
    assert repo.response_state(store, rid)["completed_at"] is not None


def test_invitation_tokens_cannot_be_guessed_reused_across_surveys_or_read_back(store: Store) -> None:
    service.save_definition(store, parse_survey(TEXT))
    service.save_definition(store, parse_survey(TEXT.replace("slug: customer-pulse", "slug: staff-pulse")))
    issued = repo.create_invitations(store, "customer-pulse", ["c1", "c2"])
    other = repo.create_invitations(store, "staff-pulse", ["c1"])
    token = issued[0][1]
    assert len(token) >= 32 and issued[0][1] != issued[1][1]
    found = repo.find_invitation(store, "customer-pulse", token)
    assert found is not None and found["customer_id"] == "c1"
    # the database holds hashes only
    stored = {r[0] for r in store.fetchall("SELECT token_hash FROM invitations")}
    assert token not in stored and repo.token_hash(token) in stored
    # guessing fails, and so do a near miss and another survey's token
    assert all(repo.find_invitation(store, "customer-pulse", secrets.token_urlsafe(24)) is None for _ in range(50))
    assert repo.find_invitation(store, "customer-pulse", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert repo.find_invitation(store, "customer-pulse", other[0][1]) is None
    # reusing an invitation resumes the same response, never a second one
    survey_id = "customer-pulse-v1"
    first = repo.start_response(store, survey_id, "customer-pulse", "c1", found["token_hash"])
    second = repo.start_response(store, survey_id, "customer-pulse", "c1", found["token_hash"])
    assert first == second
    service.save_page(store, first, "loyalty", ["nps"], [Answer("nps", "", "10", 10.0)], "k", None)
    assert repo.find_invitation(store, "customer-pulse", token)["used_at"] is not None


def test_group_commit_saves_each_key_once_and_keeps_page_order(store: Store) -> None:
    info = service.save_definition(store, parse_survey(TEXT))
    a = repo.start_response(store, info["survey_id"], "customer-pulse")
    b = repo.start_response(store, info["survey_id"], "customer-pulse")
    first = service.page_save(a, "loyalty", ("ces", "csat", "nps"), (Answer("nps", "", "2", 2.0),), "ka", 1)
    batch = [
        first,
        first,  # a double submit inside one batch
        service.page_save(a, "why_low", ("low_reason", "problems"), (Answer("low_reason", "", "late"),), "ka2", None),
        service.page_save(b, "loyalty", ("ces", "csat", "nps"), (Answer("nps", "", "10", 10.0),), "kb", 2),
    ]
    assert repo.save_pages(store, batch) == [True, False, True, True]
    assert repo.save_pages(store, batch[:1]) == [False]
    assert sorted(repo.response_answers(store, a)) == [("low_reason", "", "late"), ("nps", "", "2")]
    assert repo.response_state(store, a)["completed_at"] is not None
    assert repo.response_state(store, b)["current_page"] == 2


def test_a_first_page_sent_twice_creates_its_response_once(store: Store) -> None:
    info = service.save_definition(store, parse_survey(TEXT))
    new = repo.NewResponse(info["survey_id"], "customer-pulse")
    page = service.page_save("r-form", "loyalty", ("ces", "csat", "nps"), (Answer("nps", "", "2", 2.0),), "k1", 1)
    # a double click inside one batch, then the same form again (another batch), then another visitor
    assert service.save_submissions(store, [(page, new), (page, new)]) == [(True, True), (False, False)]
    assert service.save_submissions(store, [(page, new)]) == [(False, False)]
    other = service.page_save("r-other", "loyalty", ("ces", "csat", "nps"), (Answer("nps", "", "9", 9.0),), "k2", 2)
    assert service.save_submissions(store, [(other, new)]) == [(True, True)]
    assert store.fetchall("SELECT COUNT(*) FROM responses") == [(2,)]
    assert store.fetchall("SELECT COUNT(*) FROM answers WHERE response_id = 'r-form'") == [(2,)]  # nps and page mark
