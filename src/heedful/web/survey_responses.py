"""The public survey pages' hot path: a write-through cache of respondents' progress and the group-commit writer.

A submit that validates from memory is queued to `PageWriter`, which saves many pages in one
transaction (one durable commit) and answers each submitter only after it; `ResponseCache` keeps the
progress of recent respondents so a submit need not read the store (only where the store is
`embedded`, i.e. this process is its only writer).

Every rendered form carries a signed response token (`sign_response` / `signed_response`): the id
of the response it answers, and whether that response was still to be created when the form was
drawn. A visit stores nothing; the first page submitted creates the response under that id, so
the same form sent again (double click, browser resend, survey cookie missing) continues it instead
of starting another, and its idempotency key makes the resend write nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from typing import Any

from fastapi import FastAPI

from heedful.services.surveys import save_submissions
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.store.surveys_repo import NewResponse, PageSave
from heedful.web.security import SessionMiddleware

RESPONSE_FIELD = (
    "_response"  # the form's hidden field holding the signed response token (question ids never start with _)
)


def signing_key(app: FastAPI, purpose: str) -> bytes:
    """A key for `purpose` derived from the app's secret key (the one that signs sessions), so every
    worker of a deployment derives the same key; an app without one gets a random key per process."""
    keys: dict[str, bytes] | None = getattr(app.state, "signing_keys", None)
    if keys is None:
        keys = app.state.signing_keys = {}
    if purpose not in keys:
        secret = getattr(app.state, "secret_key", None) or next(
            (m.kwargs.get("secret_key") for m in app.user_middleware if m.cls is SessionMiddleware), None
        )
        root = str(secret).encode() if secret else secrets.token_bytes(32)
        keys[purpose] = hmac.new(root, f"heedful.{purpose}".encode(), hashlib.sha256).digest()
    return keys[purpose]


def _mac(key: bytes, slug: str, response_id: str, new: bool) -> str:
    digest = hmac.new(key, f"{slug}\x1f{response_id}\x1f{int(new)}".encode(), hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode()


def sign_response(app: FastAPI, slug: str, response_id: str, new: bool) -> str:
    """The token a form of survey `slug` carries: its response id, whether it is still to be created, a MAC."""
    return f"{response_id}.{int(new)}.{_mac(signing_key(app, 'survey-form'), slug, response_id, new)}"


def signed_response(app: FastAPI, slug: str, token: str) -> tuple[str, bool] | None:
    """(response id, new) from a form's token when its signature holds for this survey; None otherwise."""
    if not token or len(token) > 200 or token.count(".") < 2:
        return None
    rest, mac = token.rsplit(".", 1)
    response_id, flag = rest.rsplit(".", 1)
    if not response_id or flag not in ("0", "1"):
        return None
    expected = _mac(signing_key(app, "survey-form"), slug, response_id, flag == "1")
    return (response_id, flag == "1") if hmac.compare_digest(expected, mac) else None


class ResponseCache:
    """Write-through cache of respondents' progress (state and answers) for the submit hot path.

    Only on DuckDB, where the file lock guarantees this process is the only writer: every change
    to a cached response goes through `apply` after its commit, so the cache cannot go stale.
    (On PostgreSQL several servers may share the database, so it always reads.)
    """

    def __init__(self, max_entries: int = 20_000) -> None:
        self.entries: OrderedDict[str, tuple[dict[str, Any], list[tuple[str, str, str]]]] = OrderedDict()
        self.max_entries = max_entries

    def get(self, store: Store, response_id: str) -> tuple[dict[str, Any] | None, list[tuple[str, str, str]]]:
        hit = self.entries.get(response_id) if store.embedded else None
        if hit is not None:
            self.entries.move_to_end(response_id)
            return dict(hit[0]), list(hit[1])
        state, answered = repo.response_with_answers(store, response_id)
        if state is not None and store.embedded:
            self.entries[response_id] = (dict(state), list(answered))
            if len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
        return state, answered

    def apply(self, item: PageSave, saved: bool) -> None:
        """Record a committed page save (or forget the response when unsure)."""
        hit = self.entries.get(item.response_id)
        if hit is None:
            return
        if not saved:  # a duplicate: the stored answers are those of the first submission
            return
        state, answered = hit
        kept = [a for a in answered if a[0] not in item.question_ids]
        kept += [(a.question_id, a.field, a.value) for a in item.answers]
        state = dict(state)
        if item.next_page is None:
            state["current_page"], state["completed_at"] = None, time.time()
        else:
            state["current_page"] = item.next_page
        self.entries[item.response_id] = (state, kept)

    def start(self, item: PageSave, new: NewResponse) -> None:
        """Remember a response created with its first page (DuckDB only, like `get`)."""
        state = {
            "response_id": item.response_id,
            "survey_id": new.survey_id,
            "slug": new.slug,
            "customer_id": new.customer_id,
            "token_hash": new.token_hash,
            "current_page": 0,
            "completed_at": None,
        }
        self.entries[item.response_id] = (state, [])
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def forget(self, response_id: str) -> None:
        self.entries.pop(response_id, None)


Pending = tuple[PageSave, NewResponse | None, asyncio.Future[bool]]


class PageWriter:
    """Group commit: page saves queue up and are written together, one transaction and one durable
    commit per batch, and each submitter hears success only after that commit. Under load this
    turns many small commits (each an fsync) into few, which is what keeps submits fast. A first
    page from a new visitor creates its response in that same transaction.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.queue: asyncio.Queue[Pending] | None = None
        self.task: asyncio.Task[None] | None = None

    async def save(self, app: FastAPI, item: PageSave, new: NewResponse | None = None) -> bool:
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.queue is None or self.task is None or self.task.done():
            self.loop, self.queue = loop, asyncio.Queue()
            self.task = loop.create_task(self._run(app, self.queue))
        done: asyncio.Future[bool] = loop.create_future()
        await self.queue.put((item, new, done))
        return await done

    async def _run(self, app: FastAPI, queue: asyncio.Queue[Pending]) -> None:
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < 500:
                batch.append(queue.get_nowait())
            async with app.state.store_pool.acquire() as store:
                try:
                    results: list[tuple[bool, bool] | BaseException] = list(
                        await asyncio.to_thread(save_submissions, store, [(item, new) for item, new, _ in batch])
                    )
                except Exception:  # one bad item must not fail the others: write them one by one
                    results = []
                    for item, new, _ in batch:
                        try:
                            results.extend(await asyncio.to_thread(save_submissions, store, [(item, new)]))
                        except Exception as exc:
                            results.append(exc)
            cache = responses_cache(app)
            for (item, new, done), result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    cache.forget(item.response_id)
                    if not done.done():
                        done.set_exception(result)
                    continue
                saved, created = result
                if new is not None and created and saved and store.embedded:
                    cache.start(item, new)
                elif new is not None and not created:
                    cache.forget(item.response_id)  # it was stored already: read it again when next needed
                cache.apply(item, saved)
                if not done.done():
                    done.set_result(saved)


def responses_cache(app: FastAPI) -> ResponseCache:
    """The app's cache of respondents' progress."""
    cache = getattr(app.state, "survey_responses", None)
    if cache is None:
        cache = app.state.survey_responses = ResponseCache()
    return cache


def page_writer(app: FastAPI) -> PageWriter:
    """The app's group-commit writer of page saves."""
    writer = getattr(app.state, "survey_writer", None)
    if writer is None:
        writer = app.state.survey_writer = PageWriter()
    return writer
