"""The optional one-question follow-up a case reply can carry: "How satisfied are you with how we handled it?"

A reply may end with a personal link to the built-in survey `case-follow-up` (one CSAT question), created the
first time it is needed and editable like any other survey. Its answers are ordinary survey answers: a low one
opens a new case ("still unhappy"), and the Surveys pages report them. They are left out of the closed-loop
recovery figure, because only followed-up customers are asked: counting their answers would make following up
look better than it is against the holdout, who never get the question.
"""

from __future__ import annotations

from heedful.errors import InputError, NotFoundError
from heedful.services import surveys
from heedful.store import Store, surveys_repo

FOLLOW_UP_SLUG = "case-follow-up"
DEFINITION = f"""\
slug: {FOLLOW_UP_SLUG}
title: How did we do?
intro: One question about how we handled your message. Thank you for taking a moment.
audience: customer
pages:
  - id: handled
    questions:
      - id: handled
        type: csat
        text: How satisfied are you with how we handled it?
      - id: why
        type: text
        text: Anything you would like to add?
        required: false
"""


def ensure_follow_up_survey(store: Store) -> None:
    """Create the follow-up survey unless it exists (an edited version is kept as it is)."""
    try:
        surveys.latest_survey(store, FOLLOW_UP_SLUG)
    except NotFoundError:
        surveys.create_survey(store, DEFINITION, source="case follow-up (built in)")


def follow_up_link(store: Store, customer_id: str | None, base_url: str) -> str:
    """A personal link to the follow-up survey for this customer (only its hash is stored)."""
    if not customer_id:
        raise InputError("This case has no customer to ask.")
    if not base_url.startswith(("http://", "https://")):
        raise InputError("The follow-up link needs the web app's address (http://… or https://…).")
    ensure_follow_up_survey(store)
    [(_, token)] = surveys_repo.create_invitations(store, FOLLOW_UP_SLUG, [customer_id])
    return f"{base_url.rstrip('/')}/s/{FOLLOW_UP_SLUG}?t={token}"


def with_follow_up(text: str, link: str) -> str:
    """The reply with the question and its link at the end."""
    return f"{text.rstrip()}\n\nOne question, one click: how satisfied are you with how we handled it?\n{link}\n"
