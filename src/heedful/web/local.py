"""`POST /local/cli`: a CLI command run in this server's process, for a CLI that found the database file
locked by this server (see `heedful.local_server`). Loopback only, with the token of the address file
beside the database; not part of the public API."""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import queue
import threading
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from heedful import local_server
from heedful.web.deps import bearer_token

router = APIRouter()
# one forwarded command at a time: it redirects this process's stdout and stderr while it runs
_ONE_AT_A_TIME = threading.Lock()
_LOOPBACK = {"127.0.0.1", "::1"}


def start(app: Any) -> None:
    """Write the address file beside an embedded database file (`heedful serve` only: it registered a runner)."""
    store, address = app.state.store, os.environ.get("HEEDFUL_SERVE_ADDRESS")
    path = store.location.path if store.embedded else None
    if not (address and path and path != ":memory:" and local_server.runner() is not None):
        return
    app.state.local_token = local_server.new_token()
    app.state.local_address_for = path
    local_server.write_address(path, address, app.state.local_token)


def stop(app: Any) -> None:
    path = getattr(app.state, "local_address_for", None)
    if path:
        local_server.remove_address(path, app.state.local_token)


class _Lines:
    """A text stream whose writes become JSON lines ({"out": …} or {"err": …}) on a queue."""

    def __init__(self, sink: queue.Queue[bytes | None], key: str) -> None:
        self.sink, self.key = sink, key

    def write(self, text: str | bytes) -> int:
        if isinstance(text, bytes):  # click writes bytes where it finds no text layer
            text = text.decode("utf-8", errors="replace")
        if text:
            self.sink.put((json.dumps({self.key: text}) + "\n").encode())
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


@router.post(local_server.ROUTE, include_in_schema=False)
async def run_command(request: Request) -> StreamingResponse:
    token = getattr(request.app.state, "local_token", None)
    given = bearer_token(request) or ""
    host = request.client.host if request.client else ""
    if token is None or host not in _LOOPBACK or not hmac.compare_digest(given, token):
        raise HTTPException(status_code=403, detail="Not a local heedful command.")
    body = await request.json()
    argv = body.get("argv") if isinstance(body, dict) else None
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise HTTPException(status_code=422, detail="argv must be a list of strings.")
    runner = local_server.runner()
    assert runner is not None  # start() wrote the token only with a runner
    lines: queue.Queue[bytes | None] = queue.Queue()

    def run(store: Any) -> None:
        with _ONE_AT_A_TIME:
            try:
                code = runner(argv, store, _Lines(lines, "out"), _Lines(lines, "err"))
            except Exception as exc:  # a bug in a command must still end the reply
                lines.put((json.dumps({"err": f"{type(exc).__name__}: {exc}\n"}) + "\n").encode())
                code = 1
            lines.put((json.dumps({"exit": code}) + "\n").encode())
            lines.put(None)

    async def reply() -> AsyncIterator[bytes]:
        # the command holds the store (web requests wait for it, as they wait for each other)
        async with request.app.state.store_pool.acquire() as store:
            task = asyncio.ensure_future(run_in_threadpool(run, store))
            while True:
                chunk = await run_in_threadpool(lines.get)
                if chunk is None:
                    break
                yield chunk
            await task

    return StreamingResponse(reply(), media_type="application/x-ndjson")
