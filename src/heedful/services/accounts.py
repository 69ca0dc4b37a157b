"""Accounts: users and roles, API tokens and the audit log, stored in the `users`, `api_tokens` and `audit_log` tables."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel

from heedful.errors import InputError, NotFoundError
from heedful.services.credentials import (
    TOKEN_PREFIX,
    generate_password,
    hash_password,
    new_api_token,
    password_problem,
    token_digest,
    verify_password,
)
from heedful.store import Store

DEMO_ADMIN_EMAIL = "admin@demo.heedful"
DEMO_ADMIN_PASSWORD = "heedful-demo-2024"  # printed by the demo; the demo store is throw-away sample data

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


class Role(StrEnum):
    """What a user may do: viewers read; analysts also import and run analyses; admins also manage."""

    viewer = "viewer"
    analyst = "analyst"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.viewer: 0, Role.analyst: 1, Role.admin: 2}


class UserPublic(BaseModel):
    """A user as the app shows it (never the password hash)."""

    user_id: str
    email: str
    role: Role
    active: bool
    created_at: UtcDatetime | None = None
    department: str | None = None  # a viewer in a department works that department's cases


class UserCreate(BaseModel):
    email: str
    role: Role
    password: str | None = None  # generated when missing
    department: str | None = None


class UserUpdate(BaseModel):
    role: Role | None = None
    active: bool | None = None
    password: str | None = None
    department: str | None = None  # a department id; "" takes the user out of theirs


class TokenPublic(BaseModel):
    """An API token as listed (the secret itself is shown once, at creation)."""

    token_id: str
    user_id: str
    name: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    revoked_at: UtcDatetime | None = None


def as_utc(value: datetime) -> datetime:
    """Naive datetimes in the store are UTC: say so, so the API writes RFC 3339 (…Z / +00:00)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if not _EMAIL.match(email):
        raise InputError(f"{email!r} is not an e-mail address.")
    return email


def _user(row: tuple[Any, ...]) -> UserPublic:
    return UserPublic(
        user_id=row[0],
        email=row[1],
        role=Role(row[2]),
        active=bool(row[3]),
        created_at=row[4],
        department=row[5] or None,
    )


_USER_COLS = "user_id, email, role, active, created_at, department"


# ---------------------------------------------------------------- users
def create_user(
    store: Store, email: str, role: Role | str, password: str | None = None, department: str | None = None
) -> tuple[UserPublic, str]:
    """Add a user (optionally a member of `department`); returns the user and the password (generated when none
    is given)."""
    email = normalise_email(email)
    try:
        role = Role(role)
    except ValueError:
        raise InputError(f"Role must be one of {', '.join(r.value for r in Role)}.") from None
    password = password or generate_password()
    if problem := password_problem(password):
        raise InputError(problem)
    if find_user(store, email) is not None:
        raise InputError(f"A user with e-mail {email} exists already.")
    user_id = uuid.uuid4().hex
    store.execute(
        "INSERT INTO users (user_id, email, password_hash, role, active, created_at, department) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [user_id, email, hash_password(password), role.value, True, _now(), _department(store, department)],
    )
    return get_user(store, user_id), password


def _department(store: Store, department: str | None) -> str | None:
    """A department id the journey configuration knows (None for none), else InputError naming the known ones."""
    if department is None or not department.strip():
        return None
    from heedful.services.journey import load_config  # lazily: sign-in does not need the journey's imports

    known = {d.id: d.name for d in load_config(store).departments}
    wanted = department.strip()
    if wanted not in known:
        by_name = {name.lower(): dept for dept, name in known.items()}
        if wanted.lower() in by_name:
            return by_name[wanted.lower()]
        names = ", ".join(sorted(known.values())) or "none yet; add one under Settings → Departments"
        raise InputError(f"There is no department {wanted!r} (departments: {names}).")
    return wanted


def find_user(store: Store, email: str) -> UserPublic | None:
    rows = store.fetchall(f"SELECT {_USER_COLS} FROM users WHERE email = ?", [email.strip().lower()])
    return _user(rows[0]) if rows else None


def get_user(store: Store, user_id: str) -> UserPublic:
    rows = store.fetchall(f"SELECT {_USER_COLS} FROM users WHERE user_id = ?", [user_id])
    if not rows:
        raise NotFoundError(f"No user {user_id}.")
    return _user(rows[0])


def list_users(store: Store) -> list[UserPublic]:
    return [_user(r) for r in store.fetchall(f"SELECT {_USER_COLS} FROM users ORDER BY email")]


def authenticate(store: Store, email: str, password: str) -> UserPublic | None:
    """The active user with this e-mail and password, else None (same time spent either way)."""
    rows = store.fetchall("SELECT user_id, password_hash, active FROM users WHERE email = ?", [email.strip().lower()])
    stored_hash = rows[0][1] if rows else None
    if not verify_password(password, stored_hash) or not rows or not rows[0][2]:
        return None
    return get_user(store, rows[0][0])


def end_sessions(store: Store, user_id: str, at: float | None = None) -> None:
    """Refuse every session of the user signed in before `at` (epoch seconds, default now), on the server:
    a copied cookie stops working at sign-out, and after a password or role change."""
    store.execute("UPDATE users SET sessions_after = ? WHERE user_id = ?", [time.time() if at is None else at, user_id])


def session_user(store: Store, user_id: str, issued_at: float | None) -> UserPublic | None:
    """The active user behind a session issued at `issued_at`, or None when the session was ended or the user
    is gone or disabled."""
    rows = store.fetchall(f"SELECT {_USER_COLS}, sessions_after FROM users WHERE user_id = ?", [user_id])
    if not rows:
        return None
    user, after = _user(rows[0]), rows[0][-1]
    if not user.active or (after is not None and (issued_at is None or float(issued_at) < float(after))):
        return None
    return user


def update_user(store: Store, user_id: str, change: UserUpdate, at: float | None = None) -> UserPublic:
    """Change role, activity or password; a role or password change (or disabling) ends the user's sessions
    issued before `at` (epoch seconds, default now)."""
    current = get_user(store, user_id)
    forget_token_users()
    new_role = change.role is not None and Role(change.role) != current.role
    if new_role or change.password is not None or (change.active is False and current.active):
        end_sessions(store, user_id, at)
    if change.role is not None:
        store.execute("UPDATE users SET role = ? WHERE user_id = ?", [Role(change.role).value, user_id])
    if change.active is not None:
        store.execute("UPDATE users SET active = ? WHERE user_id = ?", [change.active, user_id])
    if change.department is not None:
        department = _department(store, change.department)
        store.execute("UPDATE users SET department = ? WHERE user_id = ?", [department, user_id])
    if change.password is not None:
        if problem := password_problem(change.password):
            raise InputError(problem)
        store.execute("UPDATE users SET password_hash = ? WHERE user_id = ?", [hash_password(change.password), user_id])
    return get_user(store, user_id)


def may_work_case(user: UserPublic, case_department: str | None) -> bool:
    """Who works a case: analysts and admins any case; a viewer the cases of the department they belong to."""
    if user.role.allows(Role.analyst):
        return True
    return user.department is not None and user.department == case_department


def count_active_admins(store: Store) -> int:
    return int(store.fetchall("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active")[0][0])


def seed_demo_admin(store: Store) -> tuple[str, str]:
    """Make sure the demo admin exists with the demo password; returns (email, password) to print."""
    existing = find_user(store, DEMO_ADMIN_EMAIL)
    if existing is None:
        create_user(store, DEMO_ADMIN_EMAIL, Role.admin, DEMO_ADMIN_PASSWORD)
    else:
        update_user(store, existing.user_id, UserUpdate(role=Role.admin, active=True, password=DEMO_ADMIN_PASSWORD))
    return DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD


# ---------------------------------------------------------------- API tokens
def create_token(store: Store, user_id: str, name: str, expires_days: int | None = None) -> tuple[TokenPublic, str]:
    """A new API token for `user_id`; returns its public record and the token (shown only now)."""
    get_user(store, user_id)
    token_id, token, digest = new_api_token()
    now = _now()
    if expires_days is not None and expires_days < 1:
        # 0 used to mean "never expires" by accident; a token that should not live needs no token at all
        raise InputError(f"A token must live at least 1 day (got {expires_days}); leave the expiry out for none.")
    expires = now + timedelta(days=expires_days) if expires_days is not None else None
    store.execute(
        "INSERT INTO api_tokens (token_id, user_id, name, token_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
        [token_id, user_id, name or "script", digest, now, expires],
    )
    return TokenPublic(
        token_id=token_id, user_id=user_id, name=name or "script", created_at=now, expires_at=expires
    ), token


# Bearer token -> user, for API calls in quick succession (the hot path of scripts and load). An entry
# lives TOKEN_CACHE_TTL_S at most and never past the token's expiry; revoking a token or changing a
# user in this process clears the cache at once, elsewhere (another worker, the CLI) within the TTL.
TOKEN_CACHE_TTL_S = 1.0
_token_users: dict[tuple[str, str], tuple[float, UserPublic]] = {}
_token_users_lock = threading.Lock()


def cached_token_user(store: Store, token: str) -> UserPublic | None:
    """The user behind `token` if it was checked less than TOKEN_CACHE_TTL_S ago, else None."""
    hit = _token_users.get((store.url, token_digest(token)))
    return hit[1] if hit is not None and hit[0] > time.monotonic() else None


def forget_token_users() -> None:
    with _token_users_lock:
        _token_users.clear()


def _remember_token_user(store: Store, token: str, user: UserPublic, expires_at: datetime | None) -> None:
    until = time.monotonic() + TOKEN_CACHE_TTL_S
    if expires_at is not None:
        until = min(until, time.monotonic() + (expires_at - _now()).total_seconds())
    with _token_users_lock:
        if len(_token_users) > 10_000:
            _token_users.clear()
        _token_users[(store.url, token_digest(token))] = (until, user)


def user_for_token(store: Store, token: str) -> UserPublic | None:
    """The active user a bearer token acts as, or None for an unknown, revoked or expired token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    rows = store.fetchall(
        "SELECT t.token_id, t.expires_at, t.revoked_at, u.user_id, t.last_used_at FROM api_tokens t "
        "JOIN users u ON u.user_id = t.user_id WHERE t.token_hash = ? AND u.active",
        [token_digest(token)],
    )
    if not rows:
        return None
    token_id, expires_at, revoked_at, user_id, last_used_at = rows[0]
    now = _now()
    if revoked_at is not None or (expires_at is not None and expires_at < now):
        return None
    if last_used_at is None or now - last_used_at > timedelta(seconds=60):  # not a durable write per API call
        store.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_id = ?", [now, token_id])
    user = get_user(store, user_id)
    _remember_token_user(store, token, user, expires_at)
    return user


def list_tokens(store: Store, user_id: str | None = None) -> list[TokenPublic]:
    sql = "SELECT token_id, user_id, name, created_at, last_used_at, expires_at, revoked_at FROM api_tokens"
    params: list[Any] = []
    if user_id is not None:
        sql += " WHERE user_id = ?"
        params.append(user_id)
    rows = store.fetchall(sql + " ORDER BY created_at DESC", params)
    keys = ("token_id", "user_id", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    return [TokenPublic(**dict(zip(keys, r, strict=True))) for r in rows]


def revoke_token(store: Store, token_id: str, user_id: str | None = None) -> None:
    """Revoke a token (only the owner's when `user_id` is given)."""
    tokens = {t.token_id: t for t in list_tokens(store, user_id)}
    if token_id not in tokens:
        raise NotFoundError(f"No API token {token_id}.")
    store.execute("UPDATE api_tokens SET revoked_at = ? WHERE token_id = ?", [_now(), token_id])
    forget_token_users()


# ---------------------------------------------------------------- audit log
def record_audit(
    store: Store,
    action: str,
    *,
    user: UserPublic | None = None,
    actor: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Append one entry to the audit log."""
    store.execute(
        "INSERT INTO audit_log (audit_id, occurred_at, user_id, actor, action, target, detail, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            uuid.uuid4().hex,
            _now(),
            user.user_id if user else None,
            user.email if user else actor,
            action,
            target,
            json.dumps(detail or {}, default=str, sort_keys=True),
            ip,
        ],
    )


def recent_audit(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    rows = store.fetchall(
        "SELECT occurred_at, actor, action, target, detail, ip FROM audit_log ORDER BY occurred_at DESC LIMIT ?",
        [int(limit)],
    )
    return [dict(zip(("occurred_at", "actor", "action", "target", "detail", "ip"), r, strict=True)) for r in rows]


def demo_step(store: Store) -> dict[str, object]:
    """For `heedful demo`: make sure the demo admin exists; returns the login to print before serving."""
    email, password = seed_demo_admin(store)
    return {"login": email, "password": password, "users": len(list_users(store))}
