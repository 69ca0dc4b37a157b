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

    if "customer_value" not in store.list_tables():
        return DEFAULT_HORIZON_MONTHS
    rows = store.fetchall(
        "SELECT horizon_months, COUNT(*) AS n FROM customer_value WHERE horizon_months IS NOT NULL "
        "GROUP BY horizon_months ORDER BY n DESC, horizon_months LIMIT 1"
    )
    return int(rows[0][0]) if rows else DEFAULT_HORIZON_MONTHS


def business_currency(store: Store) -> str | None:
    """The currency every money figure is in: `currency` in heedful.toml or HEEDFUL_CURRENCY where set, else
    the one most orders are in (ISO code), else None where the data do not say."""
    from heedful.config import load_settings

    configured = load_settings().currency
    if configured:
        return configured
    if "orders" not in store.list_tables():
        return None
    rows = store.fetchall(
        "SELECT currency, COUNT(*) AS n FROM orders WHERE currency IS NOT NULL AND currency <> '' "
        "GROUP BY currency ORDER BY n DESC, currency LIMIT 1"
    )
    return str(rows[0][0]) if rows else None
