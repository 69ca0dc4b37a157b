"""The per-worker store pool, the new-respondent submit path and the bearer-token cache."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from fastapi.testclient import TestClient

from heedful.services.accounts import Role, create_token, create_user, revoke_token, user_for_token
from heedful.services.surveys import save_definition
from heedful.store import Store, connect
from heedful.store import surveys_repo as repo
from heedful.surveys.definition import parse_survey
from heedful.web.app import create_app
from heedful.web.deps import StorePool

SURVEY = """
slug: pool-pulse
title: One question
audience: customer
pages:
  - id: only
    title: Score
    questions:
      - id: score
        type: nps
        text: How likely are you to recommend us?
"""


class FakeStore:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_pool_opens_connections_up_to_its_size_and_hands_them_over_in_order() -> None:
    opened: list[FakeStore] = []

    def opener() -> FakeStore:
        opened.append(FakeStore(f"extra{len(opened)}"))
        return opened[-1]

    primary = FakeStore("primary")
    pool = StorePool(primary, size=2, opener=opener)  # type: ignore[arg-type]
    served: list[tuple[int, str]] = []

    async def request(i: int, hold: float) -> None:
        async with pool.acquire() as store:
            served.append((i, store.name))  # type: ignore[attr-defined]
            await asyncio.sleep(hold)

    async def main() -> None:
        first = [asyncio.create_task(request(i, 0.05)) for i in range(2)]
        await asyncio.sleep(0.01)  # both stores busy now
        waiting = [asyncio.create_task(request(i, 0.0)) for i in range(2, 6)]
        await asyncio.gather(*first, *waiting)

    asyncio.run(main())
    assert len(opened) == 1  # size 2: the primary and one more, however many wait
    assert [i for i, _ in served] == list(range(6))  # first come, first served
    assert {name for _, name in served} == {"primary", "extra0"}
    pool.close()
    assert opened[0].closed and not primary.closed


def test_duckdb_pool_is_the_one_store_and_requests_take_turns() -> None:
    pool = StorePool(FakeStore("only"), size=8, opener=None)  # type: ignore[arg-type]
    inside = 0
    most = 0
    lock = threading.Lock()

    async def request() -> None:
        nonlocal inside, most
        async with pool.acquire():
            with lock:
                inside += 1
                most = max(most, inside)
            await asyncio.to_thread(time.sleep, 0.005)
            with lock:
                inside -= 1

    async def main() -> None:
        await asyncio.gather(*(request() for _ in range(10)))

    asyncio.run(main())
    assert most == 1


def test_a_cancelled_waiter_does_not_lose_the_store() -> None:
    pool = StorePool(FakeStore("only"))  # type: ignore[arg-type]

    async def main() -> None:
        async with pool.acquire():
            waiter = asyncio.create_task(_use(pool))
            await asyncio.sleep(0.01)
            waiter.cancel()
        await asyncio.wait_for(_use(pool), timeout=1)  # the store came back

    asyncio.run(main())


async def _use(pool: StorePool) -> None:
    async with pool.acquire():
        pass


def _app_with_survey(db_url: str) -> tuple[Store, TestClient]:
    store = connect(db_url)
    save_definition(store, parse_survey(SURVEY))
    return store, TestClient(create_app(store=store, secret_key="pool-test", warm_cache=False))


def test_first_page_from_a_new_visitor_creates_one_response_with_its_answer(db_url: str) -> None:
    store, client = _app_with_survey(db_url)
    with client:
        page = client.get("/s/pool-pulse")  # fills the survey cache; gives the CSRF token
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        session = {k: v for k, v in client.cookies.items() if not k.startswith("hf_resp_")}
        before = store.count("responses")
        client.cookies.clear()
        client.cookies.update(session)  # the session (CSRF) but no response cookie: a new respondent
        answered = client.post(
            "/s/pool-pulse",
            data={"csrf_token": csrf, "idempotency_key": "first-visit", "page": "0", "score": "9"},
            follow_redirects=False,
        )
        assert answered.status_code == 303
        rid = answered.cookies.get("hf_resp_pool_pulse")
        assert rid
        assert store.count("responses") == before + 1
        state = repo.response_state(store, rid)
        assert state is not None and state["completed_at"] is not None
        assert ("score", "", "9") in repo.response_answers(store, rid)
        # the thank-you page finds the response from its cookie
        client.cookies.set("hf_resp_pool_pulse", rid)
        done = client.get("/s/pool-pulse")
        assert "Thank you" in done.text
    store.close()


def test_revoking_a_token_takes_effect_at_once_despite_the_cache(duckdb_url: str) -> None:
    store = connect(duckdb_url)
    user, _ = create_user(store, "script@example.com", Role.analyst, "correct-horse-battery")
    token_record, token = create_token(store, user.user_id, "script")
    client = TestClient(create_app(store=store, secret_key="pool-test", warm_cache=False))
    with client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/me", headers=auth).status_code == 200
        assert client.get("/api/v1/me", headers=auth).status_code == 200  # from the cache
        revoke_token(store, token_record.token_id)
        assert client.get("/api/v1/me", headers=auth).status_code == 401
    assert user_for_token(store, token) is None
    store.close()


@pytest.mark.parametrize("after", [None, "C00003"])
def test_customer_list_pages_keep_their_totals_and_cursors(duckdb_url: str, after: str | None) -> None:
    import pandas as pd

    store = connect(duckdb_url)
    store.insert_new(
        "customers",
        pd.DataFrame(
            {
                "customer_id": [f"C{i:05d}" for i in range(10)],
                "kind": "customer",
                "name": "N",
                "created_at": pd.Timestamp("2024-01-01"),
            }
        ),
    )
    _, token = create_token(
        store, create_user(store, "v@example.com", Role.viewer, "correct-horse-battery")[0].user_id, "t"
    )
    client = TestClient(create_app(store=store, secret_key="pool-test", warm_cache=False))
    with client:
        params = {"limit": 3} | ({"after": after} if after else {})
        body = client.get("/api/v1/customers", params=params, headers={"Authorization": f"Bearer {token}"}).json()
    first = 0 if after is None else 4
    assert [c["customer_id"] for c in body["items"]] == [f"C{i:05d}" for i in range(first, first + 3)]
    assert body["total"] == 10
    assert body["next_offset"] == 3
    assert body["next_after"] == f"C{first + 2:05d}"
    store.close()


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("/api/v1/customers", "customers"),
        ("/api/v1/orders", "orders"),
        ("/api/v1/feedback", "feedback"),
        ("/api/v1/value", "customer_value"),
        ("/api/v1/imports", "imports"),
    ],
)
def test_list_pages_count_with_the_page_on_both_backends(db_url: str, path: str, table: str) -> None:
    from tests.web.conftest import seed_data

    store = connect(db_url)
    seed_data(store)
    user, _ = create_user(store, "lists@example.com", Role.viewer, "correct-horse-battery")
    _, token = create_token(store, user.user_id, "lists")
    auth = {"Authorization": f"Bearer {token}"}
    expected = store.count(table)
    with TestClient(create_app(store=store, secret_key="pool-test", warm_cache=False)) as client:
        first = client.get(path, params={"limit": 2}, headers=auth)
        past_the_end = client.get(path, params={"limit": 2, "offset": 50}, headers=auth)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["total"] == expected
    assert len(body["items"]) == min(2, expected)
    assert body["next_offset"] == (2 if expected > 2 else None)
    assert past_the_end.json()["total"] == expected and past_the_end.json()["items"] == []
    store.close()
