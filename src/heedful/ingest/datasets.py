"""The small real data slices bundled with heedful (see `heedful/datasets/PROVENANCE.md`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from heedful.errors import NotFoundError
from heedful.ingest import order_figures as figures
from heedful.store import Store

# name -> (file, entity, preset, source recorded on the rows)
DEMO_FILES: dict[str, tuple[str, str, str, str]] = {
    "orders": ("online_retail_sample.csv.gz", "orders", "online-retail", "online-retail"),
    "feedback": ("clothing_reviews_sample.csv.gz", "feedback", "generic", "clothing-reviews"),
}


def dataset_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "datasets"


def demo_files() -> dict[str, Path]:
    """{"orders": Path, "feedback": Path}: the bundled files the demo imports."""
    folder = dataset_dir()
    files = {name: folder / file for name, (file, _, _, _) in DEMO_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise NotFoundError(f"Bundled data files are missing: {', '.join(missing)}; reinstall heedful.")
    return files


def import_demo_data(store: Store) -> dict[str, dict[str, Any]]:
    """Import every bundled file into `store` (idempotent); returns each ImportResult.to_dict()."""
    from heedful.ingest.importer import import_file

    results: dict[str, dict[str, Any]] = {}
    for name, path in demo_files().items():
        _, entity, preset, source = DEMO_FILES[name]
        results[name] = import_file(store, path, entity, preset=preset, source_name=source).to_dict()
    return results


def data_summary(store: Store) -> dict[str, Any]:
    """Headline figures of what is stored: customers, orders, revenue (returns apart), feedback, date range."""
    orders = store.query(
        f"SELECT {figures.ORDERS} AS orders, "
        "COUNT(*) AS order_lines, "
        f"{figures.REVENUE} AS revenue, "
        f"{figures.RETURNS} AS returns, "
        "COUNT(CASE WHEN is_return THEN 1 END) AS return_lines, "
        f"{figures.RETURNED_AMOUNT} AS returned_amount, "
        "MIN(ordered_at) AS first_order_at, MAX(ordered_at) AS last_order_at FROM orders"
    ).iloc[0]
    customers = store.query("SELECT kind, COUNT(*) AS n FROM customers GROUP BY kind ORDER BY kind")
    feedback = store.query(
        "SELECT COUNT(*) AS n, MIN(created_at) AS first_at, MAX(created_at) AS last_at FROM feedback"
    ).iloc[0]
    return {
        "customers": int(customers["n"].sum()) if len(customers) else 0,
        "customers_by_kind": {str(k): int(n) for k, n in zip(customers["kind"], customers["n"], strict=True)},
        "orders": int(orders["orders"]),
        "order_lines": int(orders["order_lines"]),
        "revenue": round(float(orders["revenue"]), 2),
        "returns": int(orders["returns"]),
        "return_lines": int(orders["return_lines"]),
        "returned_amount": round(float(orders["returned_amount"]), 2),
        "feedback_items": int(feedback["n"]),
        "date_range": {
            "first": _iso(orders["first_order_at"], feedback["first_at"], min),
            "last": _iso(orders["last_order_at"], feedback["last_at"], max),
        },
    }


def _iso(a: Any, b: Any, pick: Any) -> str | None:
    import pandas as pd

    values = [pd.Timestamp(v) for v in (a, b) if v is not None and not pd.isna(v)]
    return pick(values).isoformat() if values else None
