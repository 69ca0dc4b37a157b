"""Typed dependencies every route states in its signature: the store, the signed-in user, the role it needs, CSRF.

    @router.get("/things")
    def things(store: StoreDep, user: Annotated[UserPublic, Requires(Role.analyst)]) -> ...

Permissions are dependencies, never `if` statements in handlers. CSRF is checked for every unsafe
request by a dependency the app installs globally (`verify_csrf`); bearer-token API calls are exempt.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from heedful.services.accounts import (
    Role,
    UserPublic,
    cached_token_user,
    may_work_case,
    session_user,
    user_for_token,
)
from heedful.store import Store
from heedful.web.security import csrf_matches, new_csrf_token

__all__ = [
    "AdminUser",
    "AnalystUser",
    "CaseWorker",
    "CsrfFailed",
    "CurrentUser",
    "Forbidden",
    "NotSignedIn",
    "Requires",
    "Role",
    "StoreDep",
    "StorePool",
    "UserPublic",
    "ViewerUser",
    "client_ip",
    "csrf_token",
    "verify_csrf",
]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotSignedIn(Exception):
    """No valid session or token: pages redirect to /login, the API answers 401."""


class Forbidden(Exception):
    """Signed in, but the role does not allow this."""

    def __init__(self, needed: Role, has: Role, message: str | None = None) -> None:
        super().__init__(message or f"This needs the {needed.value} role; you are signed in as {has.value}.")
        self.needed = needed
        self.has = has


class CsrfFailed(Exception):
    """An unsafe request came without the session's CSRF token."""


# ---------------------------------------------------------------- store
class StorePool:
    """The stores a server's requests use, each by one request at a time: `async with pool.acquire() as store:`.

    DuckDB allows one process to hold the file and its Python connection must not be used by two
    threads at once, so there the pool is the one store and requests take turns. On PostgreSQL the
    pool opens up to `size` connections (the first is the app's store; the others are opened when
    all are busy), so requests of one worker wait on the database side by side instead of in line.
    Waiters are served first come, first served; waiting parks the request on its own event loop
    (never a worker thread) and works across event loops (tests run each client in its own).
    """

    def __init__(self, primary: Store, size: int = 1, opener: Callable[[], Store] | None = None) -> None:
        self.primary = primary
        self.size = max(1, size if opener is not None else 1)
        self._opener = opener
        self._free: list[Store] = [primary]
        self._all: list[Store] = [primary]
        self._opening = 0
        self._waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[Store]]] = deque()
        self._mutex = threading.Lock()

    async def _take(self) -> Store:
        with self._mutex:
            if self._free:
                return self._free.pop()
            grow = len(self._all) + self._opening < self.size
            if grow:
                self._opening += 1
            else:
                loop = asyncio.get_running_loop()
                future: asyncio.Future[Store] = loop.create_future()
                self._waiters.append((loop, future))
        if grow:
            assert self._opener is not None
            try:
                store = await asyncio.to_thread(self._opener)
            finally:
                with self._mutex:
                    self._opening -= 1
            with self._mutex:
                self._all.append(store)
            return store
        try:
            return await future
        except asyncio.CancelledError:
            with self._mutex:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))
                    raise
            # handed a store just as we were cancelled: give it back
            if future.done() and not future.cancelled():
                self._give(future.result())
            raise

    def _give(self, store: Store) -> None:
        with self._mutex:
            while self._waiters:
                loop, future = self._waiters.popleft()
                if future.done() or loop.is_closed():
                    continue
                loop.call_soon_threadsafe(_hand_over, future, store, self)
                return
            self._free.append(store)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Store]:
        store = await self._take()
        try:
            yield store
        finally:
            self._give(store)

    def close(self) -> None:
        """Close the stores the pool opened (the primary is its owner's to close)."""
        with self._mutex:
            extra = [s for s in self._all if s is not self.primary]
            self._all = [self.primary]
            self._free = [self.primary]
        for store in extra:
            store.close()


def _hand_over(future: asyncio.Future[Store], store: Store, pool: StorePool) -> None:
    if future.done():  # cancelled meanwhile: the next waiter (or the free list) gets it
        pool._give(store)
    else:
        future.set_result(store)


async def get_store(request: Request) -> AsyncIterator[Store]:
    """A store of the app's pool, used by this request alone until it ends (see StorePool)."""
    waiting = time.perf_counter()
    async with request.app.state.store_pool.acquire() as store:
        request.state.store_wait_ms = (time.perf_counter() - waiting) * 1000
        request.state.store = store  # render() reads the business's currency from it
        yield store


StoreDep = Annotated[Store, Depends(get_store)]


# ---------------------------------------------------------------- who is asking
def bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_user(request: Request, store: StoreDep) -> UserPublic:
    """The user behind the bearer token or the session cookie; NotSignedIn otherwise.

    A token checked within the last second is taken from memory (see `cached_token_user`); any
    store lookup runs in a worker thread.
    """
    cached = getattr(request.state, "user", None)
    if isinstance(cached, UserPublic):
        return cached
    token = bearer_token(request)
    user: UserPublic | None
    if token is not None:
        user = cached_token_user(store, token)
        if user is None:
            user = await run_in_threadpool(user_for_token, store, token)
    else:
        user = await run_in_threadpool(_session_user, request, store)
    if user is None:
        raise NotSignedIn()
    request.state.user = user
    return user


def _session_user(request: Request, store: Store) -> UserPublic | None:
    user_id = request.session.get("uid")
    if not user_id:
        return None
    user = session_user(store, str(user_id), request.session.get("_iat"))
    if user is None:
        request.session.clear()
    return user


CurrentUser = Annotated[UserPublic, Depends(current_user)]


def Requires(role: Role) -> Any:
    """A dependency that passes the signed-in user through when their role allows `role`."""

    async def check_role(user: CurrentUser) -> UserPublic:
        if not user.role.allows(role):
            raise Forbidden(role, user.role)
        return user

    check_role.required_role = role  # type: ignore[attr-defined]  # read by the permission tests
    check_role.__name__ = f"requires_{role.value}"
    return Depends(check_role)


ViewerUser = Annotated[UserPublic, Requires(Role.viewer)]
AnalystUser = Annotated[UserPublic, Requires(Role.analyst)]
AdminUser = Annotated[UserPublic, Requires(Role.admin)]


def _case_department(store: Store, case_id: str) -> str | None:
    from heedful.services.cases import get_case  # lazily: only a viewer's request on a case needs it

    department = get_case(store, case_id).get("department")
    return str(department) if department else None


async def case_worker(case_id: str, store: StoreDep, user: CurrentUser) -> UserPublic:
    """The signed-in user when they may work case `case_id`: an analyst or admin, or a member of the case's
    department (see `accounts.may_work_case`); Forbidden otherwise. A missing case answers 404."""
    if user.role.allows(Role.analyst):
        return user
    department = await run_in_threadpool(_case_department, store, case_id) if user.department else None
    if not may_work_case(user, department):
        raise Forbidden(
            Role.analyst,
            user.role,
            "This case belongs to another department: it needs the analyst role or membership of its department."
            if user.department
            else f"This needs the analyst role (or membership of the case's department); you are signed in as "
            f"{user.role.value}.",
        )
    return user


case_worker.required_role = Role.viewer  # type: ignore[attr-defined]  # read by the permission tests
case_worker.department_members = True  # type: ignore[attr-defined]
CaseWorker = Annotated[UserPublic, Depends(case_worker)]


def require_assignable(user: UserPublic, assignee: str | None) -> None:
    """Analysts give cases to anyone; a department member only takes cases themselves (Forbidden otherwise)."""
    if user.role.allows(Role.analyst) or assignee is None:
        return
    if assignee.strip().lower() != user.email:
        raise Forbidden(Role.analyst, user.role, "A department member can assign a case to themselves only.")


# ---------------------------------------------------------------- CSRF
def csrf_token(request: Request) -> str:
    """The session's CSRF token (creating the session if needed); forms send it as `csrf_token`."""
    token = request.session.get("csrf")
    if not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return str(token)


async def verify_csrf(request: Request) -> None:
    """Unsafe requests must echo the session's token in the form field `csrf_token` or the X-CSRF-Token header."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    given = request.headers.get("x-csrf-token")
    content_type = request.headers.get("content-type", "")
    if not given and content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not csrf_matches(request.session.get("csrf"), given):
        raise CsrfFailed()
