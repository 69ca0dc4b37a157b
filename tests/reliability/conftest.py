"""Reliability fixtures: one app over a DuckDB store with the web seed data, a user and an API token
per role, and two surveys (one with a free-text question) with invitations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import EMAILS, PASSWORD, seed_data, sign_in

from heedful.services.accounts import Role, create_token, create_user
from heedful.services.surveys import save_definition
from heedful.store import Store, connect
from heedful.store import surveys_repo as repo
from heedful.surveys.definition import parse_survey
from heedful.web.app import create_app

FEEDBACK_SURVEY = """
slug: open-voice
title: Tell us anything
audience: customer
pages:
  - id: first
    title: Your words
    questions:
      - id: score
        type: nps
        text: How likely are you to recommend us?
      - id: remark
        type: text
        text: Anything else?
        required: false
"""
OTHER_SURVEY = FEEDBACK_SURVEY.replace("slug: open-voice", "slug: other-voice")


@dataclass
class World:
    store: Store
    app: FastAPI
    tokens: dict[Role, str] = field(default_factory=dict)
    invitations: dict[str, str] = field(default_factory=dict)  # slug -> a token for customer C1


def seed_world(store: Store) -> tuple[dict[Role, str], dict[str, str]]:
    seed_data(store)
    tokens = {}
    for role, email in EMAILS.items():
        user, _ = create_user(store, email, role, PASSWORD)
        tokens[role] = create_token(store, user.user_id, "tests")[1]
    invitations = {}
    for text in (FEEDBACK_SURVEY, OTHER_SURVEY):
        survey = parse_survey(text)
        save_definition(store, survey)
        invitations[survey.slug] = repo.create_invitations(store, survey.slug, ["C1"])[0][1]
    return tokens, invitations


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path: Path = tmp_path_factory.mktemp("reliability") / "heedful.duckdb"
    store = connect(f"duckdb:///{path}")
    tokens, invitations = seed_world(store)
    app = create_app(store=store, secret_key="reliability-secret", warm_cache=False)
    yield World(store, app, tokens, invitations)
    store.close()


@pytest.fixture(scope="module")
def clients(world: World) -> Iterator[dict[Role, TestClient]]:
    made = {role: TestClient(world.app, base_url="http://testserver") for role in Role}
    for role, client in made.items():
        sign_in(client, EMAILS[role])
    yield made
    for client in made.values():
        client.close()
