"""The web app's crypto and protective plumbing in one place.

Password hashing and API tokens live in `services/credentials.py` (the CLI's account commands use them
too). Here: signed session cookies with idle and absolute expiry, CSRF tokens,
sign-in throttling and the security headers.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

Clock = Callable[[], float]


# ---------------------------------------------------------------- CSRF
def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


# ---------------------------------------------------------------- sessions
@dataclass(frozen=True)
class SessionPolicy:
    """How long a signed-in session lasts."""

    idle_seconds: int = 2 * 3600  # signed out after this long without a request
    absolute_seconds: int = 12 * 3600  # and after this long in any case
    cookie_name: str = "heedful_session"
    always_secure: bool = False  # set Secure even on plain HTTP (e.g. TLS terminated elsewhere, no proxy headers)


class SessionMiddleware:
    """A signed cookie holding the session dict; expired sessions are dropped on arrival.

    The cookie is HttpOnly and SameSite=Lax, and also Secure when the request came over HTTPS
    (directly or via a trusted proxy's X-Forwarded-Proto) or the policy says always.
    Sessions carry `_iat` (signed-in/created) and `_seen` (last request) times.
    """

    def __init__(self, app: ASGIApp, secret_key: str, policy: SessionPolicy, clock: Clock = time.time) -> None:
        self.app = app
        self.serializer = URLSafeSerializer(secret_key, salt="heedful.session")
        self.policy = policy
        self.clock = clock

    def _load(self, scope: Scope) -> dict[str, Any]:
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"cookie")
        if not raw:
            return {}
        cookie: SimpleCookie = SimpleCookie()
        try:
            cookie.load(raw.decode("latin-1"))
        except Exception:
            return {}
        morsel = cookie.get(self.policy.cookie_name)
        if morsel is None:
            return {}
        try:
            data = self.serializer.loads(morsel.value)
        except BadSignature:
            return {}
        if not isinstance(data, dict):
            return {}
        now = self.clock()
        if now - float(data.get("_seen", 0)) > self.policy.idle_seconds:
            return {}
        if now - float(data.get("_iat", 0)) > self.policy.absolute_seconds:
            return {}
        return data

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        had_cookie = self.policy.cookie_name.encode() in dict(scope.get("headers") or []).get(b"cookie", b"")
        session = self._load(scope)
        before = json.dumps(session, sort_keys=True, default=str)
        scope["session"] = session

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                current: MutableMapping[str, Any] = scope["session"]
                secure = self.policy.always_secure or scope.get("scheme") == "https"
                if current:
                    now = self.clock()
                    current.setdefault("_iat", now)
                    changed = json.dumps(current, sort_keys=True, default=str) != before
                    # Refresh the idle timer at most once a minute: fewer Set-Cookie headers.
                    if changed or now - float(current.get("_seen", 0)) > 60:
                        current["_seen"] = now
                        value = self.serializer.dumps(dict(current))
                        headers.append("Set-Cookie", self._cookie(value, self.policy.absolute_seconds, secure))
                elif had_cookie:
                    headers.append("Set-Cookie", self._cookie("", 0, secure))
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _cookie(self, value: str, max_age: int, secure: bool) -> str:
        parts = [f"{self.policy.cookie_name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly", "SameSite=Lax"]
        if max_age == 0:
            parts.append("Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)


# ---------------------------------------------------------------- sign-in throttling
@dataclass
class LoginThrottle:
    """Locks an e-mail (and, separately, a client address) after repeated failed sign-ins.

    `max_failures` failures within `window_seconds` lock further attempts for `lockout_seconds`.
    Kept in memory: one server process is what `heedful serve` runs.
    """

    max_failures: int = 5
    window_seconds: float = 15 * 60
    lockout_seconds: float = 15 * 60
    ip_max_failures: int = 50
    clock: Clock = time.time
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _reported: dict[str, float] = field(default_factory=dict)  # key -> the lockout already written to the audit log
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, email: str, ip: str) -> list[tuple[str, int]]:
        return [(f"email:{email.strip().lower()}", self.max_failures), (f"ip:{ip}", self.ip_max_failures)]

    def retry_after(self, email: str, ip: str) -> int:
        """Seconds until this e-mail / address may try again; 0 when it may now."""
        now = self.clock()
        with self._lock:
            waits = [until - now for key, _ in self._keys(email, ip) if (until := self._locked_until.get(key, 0)) > now]
        return int(max(waits) + 0.999) if waits else 0

    def first_refusal(self, email: str, ip: str) -> bool:
        """True once per lockout (per e-mail and per address): the refusal worth an audit row. Attempts refused
        later in the same lockout write nothing, so a flood of attempts cannot grow the audit log without bound."""
        now = self.clock()
        with self._lock:
            fresh = False
            for key, _ in self._keys(email, ip):
                until = self._locked_until.get(key, 0)
                if until > now and self._reported.get(key) != until:
                    self._reported[key] = until
                    fresh = True
            return fresh

    def failed(self, email: str, ip: str) -> None:
        now = self.clock()
        with self._lock:
            for key, limit in self._keys(email, ip):
                recent = [t for t in self._failures.get(key, []) if now - t < self.window_seconds]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= limit:
                    self._locked_until[key] = now + self.lockout_seconds
                    self._failures[key] = []

    def succeeded(self, email: str, ip: str) -> None:
        with self._lock:
            key = f"email:{email.strip().lower()}"
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)


# ---------------------------------------------------------------- security headers
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # Plotly and HTMX set inline style attributes; no inline scripts are allowed.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    """Adds CSP (no CDNs, no inline scripts, no framing), nosniff, referrer and HSTS (on HTTPS) headers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
                headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
                if served_over_tls(scope):
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_wrapper)


def served_over_tls(scope: Scope) -> bool:
    """HTTPS directly, behind a TLS-terminating proxy (X-Forwarded-Proto: https), or HEEDFUL_HSTS=1.

    Only HSTS depends on this: a forged header just makes a plain-HTTP browser ignore an HSTS header.
    """
    if scope.get("scheme") == "https" or os.environ.get("HEEDFUL_HSTS", "") in ("1", "true", "yes"):
        return True
    for name, value in scope.get("headers", []):
        if name == b"x-forwarded-proto":
            return value.split(b",")[0].strip().lower() == b"https"
    return False


class BodySizeLimitMiddleware:
    """Answers 413 before reading a request whose Content-Length is over `max_bytes` (huge uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", []):
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    body = json.dumps(
                        {
                            "type": "about:blank",
                            "title": "Content Too Large",
                            "status": 413,
                            "detail": f"The request is larger than {self.max_bytes // 2**20} MiB; "
                            "import big files with `heedful import`.",
                            "instance": scope.get("path", ""),
                        }
                    ).encode()
                    headers = [(b"content-type", b"application/problem+json"), (b"connection", b"close")]
                    await send({"type": "http.response.start", "status": 413, "headers": headers})
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- secrets in logs
_SECRET_QUERY = re.compile(r"(?i)([?&](?:t|token|access_token|password|csrf_token)=)[^&\s\"]*")


def redact_secrets(text: str) -> str:
    """`/s/pulse?t=abc` -> `/s/pulse?t=[redacted]`: invitation tokens and the like never reach a log."""
    return _SECRET_QUERY.sub(r"\1[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    """Scrubs secret query parameters from log records (Uvicorn's access log prints the full path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        return True


def install_log_redaction() -> None:
    """Add the filter to the access and error loggers once (idempotent)."""
    for name in ("uvicorn.access", "uvicorn.error", "heedful.web"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
