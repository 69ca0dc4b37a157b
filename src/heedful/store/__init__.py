"""The store: the only package that knows databases.

`Store` and `connect` load Ibis, pandas and the database drivers; they are imported on first use so that
light modules of this package (`store.url`, `store.light`) start fast (`heedful db tables`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from heedful.store.url import DatabaseURL

if TYPE_CHECKING:
    from heedful.store.backend import Store, connect

__all__ = ["DatabaseURL", "Store", "connect"]


def __getattr__(name: str) -> Any:
    if name in ("Store", "connect"):
        return getattr(importlib.import_module("heedful.store.backend"), name)
    raise AttributeError(f"module 'heedful.store' has no attribute {name!r}")
