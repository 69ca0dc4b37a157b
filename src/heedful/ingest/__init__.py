"""Ingest: read customer data files (CSV, Parquet, Excel, JSON Lines), validate, quarantine, store.

from heedful.ingest import import_file
result = import_file(store, "online_retail.csv.gz", "orders", preset="online-retail")
result.to_dict()  # {"import_id", "accepted", "rejected", "duplicates", "quarantine": [...]}
"""

from heedful.ingest.importer import ImportResult, import_file
from heedful.ingest.presets import ENTITIES, FIELDS, PRESETS, Preset, get_preset

__all__ = ["ENTITIES", "FIELDS", "PRESETS", "ImportResult", "Preset", "get_preset", "import_file"]
