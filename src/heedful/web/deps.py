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
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request

from heedful.store import Store
from heedful.web.accounts import Role, UserPublic, get_user, user_for_token
from heedful.web.security import csrf_matches, new_csrf_token

__all__ = [
    "AdminUser",
    "AnalystUser",
    "CsrfFailed",
    "CurrentUser",
    "Forbidden",
    "NotSignedIn",
    "Requires",
    "Role",
    "StoreDep",
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

    def __init__(self, needed: Role, has: Role) -> None:
        super().__init__(f"This needs the {needed.value} role; you are signed in as {has.value}.")
        self.needed = needed
        self.has = has


class CsrfFailed(Exception):
    """An unsafe request came without the session's CSRF token."""


# ---------------------------------------------------------------- store
class StoreLock:
    """Mutual exclusion for the store across threads and event loops: `async with app.state.store_lock:`.

    DuckDB allows one process to hold the file and its Python connection must not be used by two
    threads at once, so requests take turns. Waiting polls a thread lock instead of blocking a worker
    thread (a request holding the lock needs a worker thread to finish) or binding to one event loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    async def __aenter__(self) -> None:
        pause = 0.0005
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.01)

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()


async def get_store(request: Request) -> AsyncIterator[Store]:
    """The app's store, used by one request at a time (see StoreLock)."""
    waiting = time.perf_counter()
    async with request.app.state.store_lock:
        request.state.store_wait_ms = (time.perf_counter() - waiting) * 1000
        yield request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


# ---------------------------------------------------------------- who is asking
def bearer_token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_user(request: Request, store: StoreDep) -> UserPublic:
    """The user behind the bearer token or the session cookie; NotSignedIn otherwise."""
    cached = getattr(request.state, "user", None)
    if isinstance(cached, UserPublic):
        return cached
    token = bearer_token(request)
    user: UserPublic | None = None
    if token is not None:
        user = user_for_token(store, token)
    else:
        user_id = request.session.get("uid")
        if user_id:
            try:
                user = get_user(store, str(user_id))
            except Exception:
                user = None
            if user is not None and not user.active:
                user = None
            if user is None:
                request.session.clear()
    if user is None:
        raise NotSignedIn()
    request.state.user = user
    return user


CurrentUser = Annotated[UserPublic, Depends(current_user)]


def Requires(role: Role) -> Any:
    """A dependency that passes the signed-in user through when their role allows `role`."""

    def check_role(user: CurrentUser) -> UserPublic:
        if not user.role.allows(role):
            raise Forbidden(role, user.role)
        return user

    check_role.required_role = role  # type: ignore[attr-defined]  # read by the permission tests
    check_role.__name__ = f"requires_{role.value}"
    return Depends(check_role)


ViewerUser = Annotated[UserPublic, Requires(Role.viewer)]
AnalystUser = Annotated[UserPublic, Requires(Role.analyst)]
AdminUser = Annotated[UserPublic, Requires(Role.admin)]


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
