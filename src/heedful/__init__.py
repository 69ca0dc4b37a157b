"""heedful: make a business customer-focused in practice.

import heedful as hf
store = hf.connect("duckdb:///heedful.duckdb")
orders = store.table("orders")          # an Ibis table
hf.value.BetaGeo().fit(summary)         # domain packages load on first use
hf.services.retain.at_risk(store, top=50)  # use cases: load, analyse, save, return a frame
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# OpenMP threads that spin while waiting make LightGBM 10-20x slower once PyTorch's OpenMP runtime is
# loaded in the same process or the cores are busy (measured: the demo's churn step took 84 s instead of
# 7 s after sentence embeddings ran). Sleeping waits cost little on an idle machine. This must be set
# before either library loads its OpenMP runtime, hence here; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from heedful.errors import HeedfulError

__version__ = "0.1.0"
__all__ = ["HeedfulError", "Store", "__version__", "connect"]

_SUBPACKAGES = {"ingest", "value", "listen", "surveys", "retain", "advocacy", "journey", "report", "services"}


def __getattr__(name: str) -> Any:
    # Domain packages import heavy libraries (torch, lightgbm); load them only when used. The store (Ibis)
    # too: `heedful --help` must not pay for it.
    if name in _SUBPACKAGES:
        return importlib.import_module(f"heedful.{name}")
    if name in ("Store", "connect"):
        return getattr(importlib.import_module("heedful.store"), name)
    raise AttributeError(f"module 'heedful' has no attribute {name!r}")
