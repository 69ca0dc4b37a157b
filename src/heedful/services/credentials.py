"""Credentials: password hashing (argon2id) and API tokens (only their SHA-256 is stored).

Used by the account use cases (`services/accounts.py`) and the web app's sign-in alike.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# A valid hash of a random password: verifying against it when the e-mail is unknown makes a
# failed sign-in take as long for a stranger as for a real user (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# ---------------------------------------------------------------- passwords
def hash_password(password: str) -> str:
    """An argon2id hash (salted, with the library's memory-hard defaults)."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; always spends the time of one verification."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password for `heedful users add` without --password (about 128 bits)."""
    return secrets.token_urlsafe(16)


MIN_PASSWORD_LENGTH = 10


def password_problem(password: str) -> str | None:
    """Why a new password is not acceptable, or None when it is."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
    return None


# ---------------------------------------------------------------- API tokens
TOKEN_PREFIX = "hf_"


def new_api_token() -> tuple[str, str, str]:
    """(token_id, token, sha256) for a new API token; the token itself is shown once and never stored."""
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    return token_id, token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
