"""Settings: database URL and paths, from the environment (HEEDFUL_*) or `heedful.toml`."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DB_URL = "duckdb:///heedful.duckdb"


@dataclass(frozen=True)
class Settings:
    """Resolved settings for one process."""

    db_url: str = DEFAULT_DB_URL
    secret_key: str | None = None
    currency: str | None = None  # ISO code for money figures; None: detected from the orders
    extra: dict[str, object] = field(default_factory=dict)


def _read_toml(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def load_settings(config_file: Path | None = None) -> Settings:
    """Environment variables win over `heedful.toml` in the working directory."""
    data = _read_toml(config_file or Path("heedful.toml"))
    db_url = os.environ.get("HEEDFUL_DB") or str(data.get("db", DEFAULT_DB_URL))
    secret = os.environ.get("HEEDFUL_SECRET_KEY") or data.get("secret_key")
    currency = os.environ.get("HEEDFUL_CURRENCY") or data.get("currency")
    return Settings(
        db_url=db_url,
        secret_key=str(secret) if secret else None,
        currency=str(currency).strip().upper() if currency else None,
        extra=data,
    )


def resolve_db_url(url: str | None) -> str:
    """The URL given on the command line, else HEEDFUL_DB, else heedful.toml, else the default."""
    return url or load_settings().db_url
