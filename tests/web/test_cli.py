"""`heedful users …`, `heedful tokens …` and the demo's seeded admin."""

from __future__ import annotations

import json

import typer
from typer.testing import CliRunner

from heedful.cli.web import register
from heedful.services import accounts
from heedful.services.accounts import Role, demo_step
from heedful.store import connect

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_users_add_generates_a_password_that_signs_in(duckdb_url: str) -> None:
    result = runner.invoke(
        _app(), ["users", "add", "Boss@Example.com", "--role", "admin", "--db", duckdb_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["email"] == "boss@example.com" and made["role"] == "admin"
    with connect(duckdb_url) as store:
        user = accounts.authenticate(store, "boss@example.com", made["password"])
        assert user is not None and user.role == Role.admin
        assert [a["action"] for a in accounts.recent_audit(store)] == ["user.create"]


def test_users_add_with_password_and_duplicate_is_refused(duckdb_url: str) -> None:
    args = ["users", "add", "a@example.com", "--role", "viewer", "--password", "long-enough-pw", "--db", duckdb_url]
    assert runner.invoke(_app(), args).exit_code == 0
    again = runner.invoke(_app(), args)
    assert again.exit_code != 0
    short = runner.invoke(_app(), ["users", "add", "b@example.com", "--password", "short", "--db", duckdb_url])
    assert short.exit_code != 0
    bad_role = runner.invoke(
        _app(), ["users", "add", "c@example.com", "--role", "boss", "--password", "long-enough-pw", "--db", duckdb_url]
    )
    assert bad_role.exit_code != 0


def test_tokens_create_prints_a_token_that_only_the_hash_of_is_stored(duckdb_url: str) -> None:
    runner.invoke(
        _app(),
        ["users", "add", "bot@example.com", "--role", "analyst", "--password", "long-enough-pw", "--db", duckdb_url],
    )
    result = runner.invoke(
        _app(), ["tokens", "create", "bot@example.com", "--name", "nightly", "--db", duckdb_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    token = json.loads(result.output)["token"]
    with connect(duckdb_url) as store:
        user = accounts.user_for_token(store, token)
        assert user is not None and user.email == "bot@example.com"
        assert store.fetchall("SELECT COUNT(*) FROM api_tokens WHERE token_hash = ?", [token])[0][0] == 0
    listed = runner.invoke(_app(), ["tokens", "list", "--db", duckdb_url, "--json"])
    (entry,) = json.loads(listed.output)
    assert entry["name"] == "nightly" and "token" not in entry and "token_hash" not in entry
    assert runner.invoke(_app(), ["tokens", "revoke", entry["token_id"], "--db", duckdb_url]).exit_code == 0
    with connect(duckdb_url) as store:
        assert accounts.user_for_token(store, token) is None


def test_demo_admin_is_seeded_idempotently_with_the_printed_password(duckdb_url: str) -> None:
    with connect(duckdb_url) as store:
        first = demo_step(store)
        email, password = accounts.seed_demo_admin(store)
        assert (first["login"], first["password"]) == (email, password)
        user = accounts.authenticate(store, email, password)
        assert user is not None and user.role == Role.admin
        assert len(accounts.list_users(store)) == 1


def test_tokens_create_refuses_an_expiry_under_one_day(duckdb_url: str) -> None:
    """`--expires-days 0` once made a token that never expired."""
    args = ["users", "add", "t@example.com", "--role", "viewer", "--password", "long-enough-pw", "--db", duckdb_url]
    assert runner.invoke(_app(), args).exit_code == 0
    for days in ("0", "-3"):
        refused = runner.invoke(
            _app(), ["tokens", "create", "t@example.com", "--expires-days", days, "--db", duckdb_url]
        )
        assert refused.exit_code != 0 and "at least 1 day" in str(refused.exception)
    made = runner.invoke(
        _app(), ["tokens", "create", "t@example.com", "--expires-days", "1", "--db", duckdb_url, "--json"]
    )
    assert made.exit_code == 0, made.output
    with connect(duckdb_url) as store:
        (token,) = accounts.list_tokens(store)
        assert token.expires_at is not None
