"""A real heedful server in a subprocess, for the fault tests and the load/fault benchmarks.

`uvicorn --factory heedful.web.app:create_app` reads HEEDFUL_DB and HEEDFUL_SECRET_KEY, so any
number of workers share one database and one session key.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from heedful.services.surveys import save_definition
from heedful.store import connect
from heedful.surveys.definition import parse_survey

ROOT = Path(__file__).resolve().parents[2]
SLUG = "load-pulse"
SECRET = "reliability-load-secret"
SURVEY = f"""
slug: {SLUG}
title: One question
audience: customer
pages:
  - id: only
    title: Score
    questions:
      - id: score
        type: nps
        text: How likely are you to recommend us?
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(db_url: str, customers: int = 200) -> str:
    """The one-page survey, some customers, an analyst and their API token (returned)."""
    import pandas as pd

    from heedful.services.accounts import Role, create_token, create_user

    store = connect(db_url)
    try:
        save_definition(store, parse_survey(SURVEY))
        frame = pd.DataFrame(
            {"customer_id": [f"C{i:05d}" for i in range(customers)], "kind": "customer", "name": "Load Test"}
        )
        frame["email"] = [f"c{i}@example.com" for i in range(customers)]
        frame["created_at"] = pd.Timestamp("2024-01-01")
        store.insert_new("customers", frame)
        user, _ = create_user(store, "load@example.com", Role.analyst, "load-test-password")
        return create_token(store, user.user_id, "load")[1]
    finally:
        store.close()


def start_server(db_url: str, port: int, workers: int = 1, log: Path | None = None) -> subprocess.Popen[bytes]:
    """uvicorn in its own process group (so kill -9 reaches every worker)."""
    env = {**os.environ, "HEEDFUL_DB": db_url, "HEEDFUL_SECRET_KEY": SECRET}
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "heedful.web.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log", "--backlog", "4096",
    ]  # fmt: skip
    out = log.open("ab") if log else subprocess.DEVNULL
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True)


def wait_ready(base: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not start")


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the server and its workers (its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        kill_hard(proc)


def respondent_session(base: str) -> tuple[str, str]:
    """(Cookie header value, CSRF token) of a visitor: the session cookie only, so every POST starts a
    new response (no response cookie) and is one acknowledged, countable submission."""
    response = httpx.get(f"{base}/s/{SLUG}", timeout=30)
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    assert match, response.text[:300]
    cookies = "; ".join(f"{k}={v}" for k, v in response.cookies.items() if not k.startswith("hf_resp_"))
    return cookies, match.group(1)


def submit(client: httpx.Client, cookie: str, csrf: str, key: str, score: int) -> int:
    body = {"csrf_token": csrf, "idempotency_key": key, "page": "0", "score": str(score)}
    response = client.post(f"/s/{SLUG}", data=body, headers={"Cookie": cookie}, follow_redirects=False)
    return response.status_code


def stored_keys(db_url: str, prefix: str = "") -> Counter[str]:
    """How many stored answers to `score` carry each idempotency key."""
    store = connect(db_url)
    try:
        rows = store.fetchall(
            "SELECT idempotency_key, COUNT(*) FROM answers WHERE question_id = 'score' AND idempotency_key LIKE ? "
            "GROUP BY idempotency_key",
            [prefix + "%"],
        )
    finally:
        store.close()
    return Counter({str(k): int(n) for k, n in rows})
