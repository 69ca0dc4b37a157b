"""Journey fixtures: synthetic journey data with known rates, and a store holding it."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from heedful.journey.config import JourneyConfig, default_config
from heedful.journey.metrics import JourneyData
from heedful.journey.synthetic import SyntheticSpec, canonical_tables, make_journey_data
from heedful.store import Store, connect

PERIOD = "2026-10"
DROP = {"delivery_speed": {PERIOD: 0.35}}  # delivery praise falls from 70% to 35% in the last month


@pytest.fixture(scope="session")
def config() -> JourneyConfig:
    return default_config()


@pytest.fixture(scope="session")
def journey_data() -> JourneyData:
    return make_journey_data(SyntheticSpec(positive_rate=DROP, seed=7))


def fill_store(store: Store, data: JourneyData) -> None:
    for table, frame in canonical_tables(data).items():
        store.insert_new(table, frame)


@pytest.fixture(scope="session")
def journey_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with synthetic journey data, built once; tests get a copy."""
    path = tmp_path_factory.mktemp("journey") / "template.duckdb"
    store = connect(f"duckdb:///{path}")
    fill_store(store, make_journey_data(SyntheticSpec(customers=600, feedback=3000, positive_rate=DROP, seed=3)))
    store.close()
    return path


@pytest.fixture
def journey_store(journey_db_template: Path, tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "journey.duckdb"
    shutil.copy(journey_db_template, path)
    store = connect(f"duckdb:///{path}")
    yield store
    store.close()


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, list[Any]]]:
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:  # a free port (aiosmtpd cannot start on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@pytest.fixture
def webhook_inbox() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"json": json.loads(body), "headers": dict(self.headers)})
            self.send_response(204 if self.path == "/ok" else 500)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
