"""Ingest: read customer data files (CSV, Parquet, Excel, JSON Lines), validate, quarantine, store.

from heedful.ingest import import_file
result = import_file(store, "online_retail.csv.gz", "orders", preset="online-retail")
result.to_dict()  # {"import_id", "accepted", "rejected", "duplicates", "quarantine": [...]}

The names below load on first use: reading a file (`heedful.ingest.sources`) does not need the importer's
pandas and Ibis (`heedful value clv FILE` starts reading before those are imported).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heedful.ingest.importer import ImportResult, import_file
    from heedful.ingest.presets import ENTITIES, FIELDS, PRESETS, Preset, get_preset

_HOMES = {
    "ImportResult": "heedful.ingest.importer",
    "import_file": "heedful.ingest.importer",
    **{name: "heedful.ingest.presets" for name in ("ENTITIES", "FIELDS", "PRESETS", "Preset", "get_preset")},
}

__all__ = ["ENTITIES", "FIELDS", "PRESETS", "ImportResult", "Preset", "get_preset", "import_file"]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'heedful.ingest' has no attribute {name!r}")
