"""`heedful notify send|log` end to end on a temporary DuckDB file, mail via a local SMTP server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.services import cases
from heedful.services.accounts import Role, create_user
from heedful.store import connect

from .conftest import fill_signals

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("HEEDFUL_SMTP_HOST", "HEEDFUL_ALERT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no heedful.toml with SMTP settings
    url = f"duckdb:///{tmp_path / 'notify.duckdb'}"
    store = connect(url)
    fill_signals(store, customers=80, feedback=200)
    create_user(store, "bob@shop.example", Role.analyst, "correct-horse-battery")
    cases.open_cases(store)
    cases.assign(store, [str(cases.list_cases(store, limit=1).iloc[0]["case_id"])], "bob@shop.example", "ann")
    store.close()
    return url


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_send_waits_while_mail_is_off_then_sends_once_and_the_log_shows_it(
    db: str,
    smtp_inbox: tuple[int, list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waiting = runner.invoke(app, ["notify", "send", "--db", db])
    assert waiting.exit_code == 0 and "1 e-mail(s) wait: mail is off" in waiting.output
    log = _json(["notify", "log", "--db", db, "--json"])
    assert log["counts"] == {"pending": 1, "sending": 0, "sent": 0, "failed": 0}
    assert log["messages"][0]["event"] == "case_assigned" and log["messages"][0]["to"] == "bob@shop.example"
    monkeypatch.setenv("HEEDFUL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("HEEDFUL_SMTP_PORT", str(smtp_inbox[0]))
    monkeypatch.setenv("HEEDFUL_SMTP_TO", "ops@shop.example")
    assert _json(["notify", "send", "--db", db, "--json"])["sent"] == 1
    assert _json(["notify", "send", "--db", db, "--json"])["sent"] == 0
    assert len(smtp_inbox[1]) == 1
    table = runner.invoke(app, ["notify", "log", "--db", db, "--status", "sent"])
    assert table.exit_code == 0 and "1 sent, 0 failed" in table.output
    bad = runner.invoke(app, ["notify", "log", "--db", db, "--status", "lost"])
    assert bad.exit_code != 0 and "Unknown status" in str(bad.exception)
