"""The inbox's whole-table figures (per department, and "did it work?"), kept until a case changes, or for a
minute at most: overdue counts move with the clock, and recovery (orders, answers and feedback after a case)
may lag an import by that minute.

Computing them reads every case (and, for recovery, the orders, answers and feedback of their customers:
~1 s on 100k cases); the inbox is opened far more often than cases change, so each server process keeps the
last result per store, checked with one cheap query per visit.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from heedful.services import cases as case_service
from heedful.store import Store
from heedful.store import cases_repo as repo

MAX_AGE_S = 60.0
_kept: dict[str, tuple[tuple[Any, ...], float, dict[str, Any]]] = {}
_lock = threading.Lock()


def inbox_figures(store: Store) -> dict[str, Any]:
    """{"figures": `case_figures` (a frame per department), "did_it_work": `closed_loop_figures`}."""
    marker = repo.change_marker(store)
    now = time.monotonic()
    with _lock:
        hit = _kept.get(store.url)
    if hit is not None and hit[0] == marker and now - hit[1] < MAX_AGE_S:
        return hit[2]
    value = {"figures": case_service.case_figures(store), "did_it_work": case_service.closed_loop_figures(store)}
    with _lock:
        _kept[store.url] = (marker, now, value)
    return value


def forget() -> None:
    """Drop what is kept (tests that change the clock)."""
    with _lock:
        _kept.clear()
