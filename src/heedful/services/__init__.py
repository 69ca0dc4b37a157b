"""Use cases: load from the store, call the domain, save, and return plain results.

Every surface — the CLI, the web app and REST API, the report, a notebook — calls these functions, so a
figure is computed one way and shown the same everywhere. One module per area; each function takes a
`Store` and plain arguments and returns plain values (DataFrames, dataclasses, dicts). The modules load
on first use, since the domain packages behind them import heavy libraries::

    import heedful as hf
    store = hf.connect("duckdb:///heedful.duckdb")
    hf.services.retain.at_risk(store, top=50)
"""

from __future__ import annotations

import importlib
from typing import Any

AREAS = (
    "accounts",
    "advocacy",
    "credentials",
    "customers",
    "imports",
    "journey",
    "listen",
    "listen_eval",
    "privacy",
    "report",
    "referrals",
    "retain",
    "spark",
    "surveys",
    "value",
)


def __getattr__(name: str) -> Any:
    if name in AREAS:
        return importlib.import_module(f"heedful.services.{name}")
    raise AttributeError(f"module 'heedful.services' has no attribute {name!r}")
