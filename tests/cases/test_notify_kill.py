"""The must-have: a process that queued a notification is killed (SIGKILL) before sending it; after a restart
the notification reaches the mail server exactly once, and sending again adds nothing. On DuckDB and PostgreSQL.

The killed process runs the service code a server runs (`services.cases.assign`, which queues the message in
the assignment's transaction; `outbox_repo.claim_due`, the first step of `deliver_due`) and then waits, as a
server waits for its scheduler's next tick, so the kill always lands in the window under test. The restart
is `heedful notify send`, a new process, with the mail server given by HEEDFUL_SMTP_*.
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from heedful.services import cases
from heedful.services.accounts import Role, create_user
from heedful.store import connect

from .conftest import fill_signals

ASSIGN_THEN_WAIT = """
import sys, time
from heedful.services import cases
from heedful.store import connect
store = connect(sys.argv[1])
cases.assign(store, [sys.argv[2]], "bob@shop.example", "ann@shop.example")  # queued and committed
print("queued", flush=True)
time.sleep(600)  # a server waiting for its next delivery tick: killed here
"""

CLAIM_THEN_WAIT = """
import sys, time
from datetime import datetime, timezone
from heedful.store import connect, outbox_repo
store = connect(sys.argv[1])
now = datetime.now(timezone.utc).replace(tzinfo=None)
claimed = outbox_repo.claim_due(store, now, now, channels=["email"])  # claimed and committed, not sent
print(f"claimed {len(claimed)}", flush=True)
time.sleep(600)  # killed before the SMTP conversation
"""


@pytest.fixture
def case_to_assign(db_url: str) -> Iterator[str]:
    store = connect(db_url)
    fill_signals(store)
    create_user(store, "bob@shop.example", Role.analyst, "correct-horse-battery")
    cases.open_cases(store)
    case_id = str(cases.list_cases(store, limit=1).iloc[0]["case_id"])
    store.close()  # the DuckDB file is the child's now
    yield case_id


def _run_until(script: str, args: list[str], said: str, cwd: Path) -> str:
    """Start `script` in a new process, wait until it prints `said`, SIGKILL it; returns what it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith(said), (line, child.stderr.read() if child.poll() is not None and child.stderr else "")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return line


def _notify_send(db_url: str, port: int, cwd: Path) -> dict[str, Any]:
    """The restart: `heedful notify send --json` in a new process, mail via HEEDFUL_SMTP_*."""
    env = {
        **os.environ,
        "HEEDFUL_SMTP_HOST": "127.0.0.1",
        "HEEDFUL_SMTP_PORT": str(port),
        "HEEDFUL_SMTP_TO": "ops@shop.example",
    }
    done = subprocess.run(
        [sys.executable, "-m", "heedful.cli.main", "notify", "send", "--json", "--db", db_url],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _outbox(db_url: str) -> list[tuple[Any, ...]]:
    store = connect(db_url)
    try:
        return store.fetchall("SELECT idempotency_key, status, attempts FROM outbox")
    finally:
        store.close()


def test_killed_after_queuing_the_notification_is_sent_exactly_once_after_restart(
    db_url: str,
    case_to_assign: str,
    smtp_inbox: tuple[int, list[Any]],
    tmp_path: Path,
) -> None:
    port, received = smtp_inbox
    _run_until(ASSIGN_THEN_WAIT, [db_url, case_to_assign], "queued", tmp_path)
    key = f"case_assigned:{case_to_assign}:bob@shop.example"
    assert _outbox(db_url) == [(key, "pending", 0)]  # the commit survived the kill; nothing was sent
    assert received == []
    first = _notify_send(db_url, port, tmp_path)
    assert first["sent"] == 1
    again = _notify_send(db_url, port, tmp_path)
    assert again["sent"] == 0 and again["retrying"] == 0
    assert len(received) == 1 and received[0].rcpt_tos == ["bob@shop.example"]
    assert email.message_from_bytes(received[0].content)["X-Heedful-Id"] == key
    assert _outbox(db_url) == [(key, "sent", 1)]


def test_killed_after_claiming_before_sending_it_is_sent_exactly_once_after_the_lease(
    db_url: str,
    case_to_assign: str,
    smtp_inbox: tuple[int, list[Any]],
    tmp_path: Path,
) -> None:
    from datetime import timedelta

    from heedful.cases.notify import LEASE
    from heedful.journey.delivery import DeliverySettings, SmtpSettings
    from heedful.services.notifications import deliver_due

    port, received = smtp_inbox
    store = connect(db_url)
    cases.assign(store, [case_to_assign], "bob@shop.example", "ann@shop.example")
    store.close()
    assert _run_until(CLAIM_THEN_WAIT, [db_url], "claimed", tmp_path).strip() == "claimed 1"
    assert [row[1] for row in _outbox(db_url)] == ["sending"]
    settings = DeliverySettings(smtp=SmtpSettings(host="127.0.0.1", port=port, recipients=["ops@shop.example"]))
    store = connect(db_url)
    try:
        assert deliver_due(store, settings=settings)["sent"] == 0  # its claim still holds: not sent twice
        later = datetime.now(UTC).replace(tzinfo=None) + LEASE + timedelta(minutes=1)
        assert deliver_due(store, now=later, settings=settings)["sent"] == 1
        assert deliver_due(store, now=later, settings=settings)["sent"] == 0
    finally:
        store.close()
    assert len(received) == 1
    assert [row[1:] for row in _outbox(db_url)] == [("sent", 2)]
