"""Customer use cases: one person's unified profile across orders, feedback, surveys, referrals and value."""

from __future__ import annotations

from typing import Any

from heedful.ingest.profile import customer_profile
from heedful.services.privacy import redact_profile
from heedful.store import Store


def profile(store: Store, customer_id: str, *, redact: bool = True) -> dict[str, Any]:
    """The unified profile of `customer_id` (identity, kind, orders, feedback, survey answers, referrals, value).

    With `redact` (the default) feedback quotes and free-text answers are shown without personal data.
    NotFoundError when there is no such customer.
    """
    found: dict[str, Any] = customer_profile(store, customer_id)
    return redact_profile(found) if redact else found


def value_horizon(store: Store) -> int:
    """The months the stored CLV covers (`customer_value.horizon_months`, as most rows were computed; 12, the
    default, where no row says), so that every page names the horizon its money figures have."""
    from heedful.value import DEFAULT_HORIZON_MONTHS

    found = _most_common(store, "customer_value", "horizon_months")
    return int(found) if found is not None else DEFAULT_HORIZON_MONTHS


def churn_horizon(store: Store) -> int | None:
    """The days the stored churn risks look ahead (`churn_scores.horizon_days`, as most rows were scored; a
    churn risk is the chance of no order in that many days), None before any scoring says."""
    found = _most_common(store, "churn_scores", "horizon_days")
    return int(found) if found is not None else None


def business_currency(store: Store) -> str | None:
    """The currency every money figure is in: `currency` in heedful.toml or HEEDFUL_CURRENCY where set, else
    the one most orders are in (ISO code), else None where the data do not say."""
    from heedful.config import load_settings

    configured = load_settings().currency
    if configured:
        return configured
    found = _most_common(store, "orders", "currency")
    return str(found) if found is not None else None


def _most_common(store: Store, table: str, column: str) -> Any:
    """The value of `column` most rows of `table` hold (the smallest on a tie), leaving out missing and empty
    ones; None where the table is missing or holds none."""
    if table not in store.list_tables():
        return None
    rows = store.fetchall(
        f"SELECT {column}, COUNT(*) AS n FROM {table} WHERE NULLIF(CAST({column} AS VARCHAR), '') IS NOT NULL "
        f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT 1"
    )
    return rows[0][0] if rows else None
