"""Whole-table figures kept until the data changes.

Whole-table aggregates (the overview) are computed once and kept until the data changes: a cheap
fingerprint of the tables (row counts, latest import / value run) is compared on each visit, so
pages stay fast on millions of orders while staying correct after an import.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heedful.services.dashboard import fingerprint
from heedful.store import Store


@dataclass
class AggregateCache:
    """Results of expensive whole-table queries, recomputed when `fingerprint` changes (or after `ttl`)."""

    ttl_seconds: float = 600.0
    _entries: dict[str, tuple[tuple[Any, ...], float, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, store: Store, key: str, compute: Callable[[Store], Any]) -> Any:
        print_ = fingerprint(store)
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(key)
        if hit is not None and hit[0] == print_ and now - hit[1] < self.ttl_seconds:
            return hit[2]
        value = compute(store)
        with self._lock:
            self._entries[key] = (print_, now, value)
        return value
