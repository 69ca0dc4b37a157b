"""Shared fixtures: a fresh DuckDB store per test, and a PostgreSQL store in a throw-away schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.receivers import smtp_server, webhook_server

from heedful.store import Store

PG_URL = os.environ.get("HEEDFUL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return True
    except Exception:
        return False


_PG_OK: bool | None = None


def require_postgres() -> None:
    """Skip (with the reason) when no PostgreSQL answers — except under CI=true, where it must."""
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = postgres_available()
    if not _PG_OK:
        if IN_CI:
            pytest.fail(f"CI=true but no PostgreSQL server answers at {PG_URL}")
        pytest.skip(f"no PostgreSQL server answers at {PG_URL}")


def require_shared_data(*parts: str) -> Path:
    """Path into ../shared/data; skips where that folder is not beside the repo (never in CI)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if IN_CI:
            pytest.fail(f"CI=true but {path} is missing")
        pytest.skip(f"{path} is not available")
    return path


@pytest.fixture
def duckdb_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'heedful.duckdb'}"


def _throwaway_pg_schema() -> Iterator[str]:
    """A URL to a new PostgreSQL schema, dropped with everything in it afterwards."""
    require_postgres()
    import psycopg

    schema = f"hf_test_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _throwaway_pg_schema()


@pytest.fixture(params=["duckdb", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using this runs once on DuckDB and once on a real PostgreSQL server."""
    if request.param == "duckdb":
        yield f"duckdb:///{tmp_path / 'heedful.duckdb'}"
    else:
        yield from _throwaway_pg_schema()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    from heedful.store import connect

    st = connect(db_url)
    yield st
    st.close()


@pytest.fixture
def duck_store(duckdb_url: str) -> Iterator[Store]:
    from heedful.store import connect

    st = connect(duckdb_url)
    yield st
    st.close()


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, list[Any]]]:
    """A real SMTP server (aiosmtpd) on a free local port, and the envelopes it received."""
    with smtp_server() as (port, handler):
        yield port, handler.envelopes


@pytest.fixture
def webhook_inbox() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local webhook receiver: its base URL (/ok answers 204, other paths 500) and what it received."""
    with webhook_server() as receiver:
        yield receiver
