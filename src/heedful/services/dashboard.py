"""Read-side queries behind the dashboard pages and the REST API: counts and sums over the canonical tables.

`fingerprint` changes whenever the data does; the web app keeps whole-table figures until it changes
(`web/cache.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from heedful.ingest import order_figures as figures
from heedful.journey.periods import coverage, default_period
from heedful.store import Store
from heedful.store.journey_repo import data_span

ACTIVE_DAYS = 90  # a customer is active with an order in the last 90 days of the data


def _scalar(store: Store, sql: str, params: list[Any] | None = None) -> Any:
    rows = store.fetchall(sql, params)
    return rows[0][0] if rows else None


def fingerprint(store: Store) -> tuple[Any, ...]:
    """Changes whenever an import, a value or churn run, classification or survey answer lands."""
    return tuple(
        store.fetchall(
            "SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM orders), "
            "(SELECT COUNT(*) FROM feedback_enriched), (SELECT COUNT(*) FROM answers), "
            "(SELECT COUNT(*) FROM customer_value), (SELECT MAX(started_at) FROM imports), "
            # value runs rewrite rows in place; retain updates customer_value.churn_risk with its scores
            "(SELECT MAX(computed_at) FROM customer_value), (SELECT MAX(scored_at) FROM churn_scores)"
        )[0]
    )


# ---------------------------------------------------------------- overview
def overview_figures(store: Store) -> dict[str, Any]:
    """Headline figures and monthly trends for the overview page."""
    customers = int(_scalar(store, "SELECT COUNT(*) FROM customers WHERE kind = 'customer'") or 0)
    row = store.fetchall(
        f"SELECT {figures.REVENUE}, {figures.ORDERS}, {figures.RETURNS}, {figures.RETURNED_AMOUNT}, MAX(ordered_at) "
        "FROM orders"
    )[0]
    revenue, orders, returns, returned = float(row[0] or 0.0), int(row[1] or 0), int(row[2] or 0), float(row[3] or 0.0)
    last_order = row[4]
    active = 0
    if last_order is not None:
        cutoff = pd.Timestamp(last_order) - pd.Timedelta(days=ACTIVE_DAYS)
        active = int(
            _scalar(
                store,
                f"SELECT {figures.CUSTOMERS_ORDERING} FROM orders WHERE ordered_at > ?",
                [cutoff.to_pydatetime()],
            )
            or 0
        )
    month = "date_trunc('month', ordered_at)"
    monthly = store.query(
        f"SELECT {month} AS month, {figures.REVENUE} AS revenue, {figures.CUSTOMERS_ORDERING} AS active_customers, "
        f"{figures.ORDERS} AS orders FROM orders GROUP BY 1 ORDER BY 1"
    )
    first, data_end = data_span(store)
    if not monthly.empty:
        monthly["month"] = pd.to_datetime(monthly["month"]).dt.strftime("%Y-%m")
        monthly = monthly.tail(36).reset_index(drop=True)
        # A month the data does not cover to its last day is marked, never drawn as a month like the others.
        monthly["partial"] = [coverage(m, data_end).partial for m in monthly["month"]]
    period = default_period(first, data_end)
    latest = coverage(str(pd.Timestamp(data_end).to_period("M")), data_end) if data_end is not None else None
    return {
        "customers": customers,
        "revenue": revenue,
        "orders": orders,
        "returns": returns,
        "returned_amount": returned,
        "active_customers": active,
        "active_days": ACTIVE_DAYS,
        "last_order": last_order,
        "monthly": monthly,
        # the month the overview's month figures use: the last complete one (journey.periods)
        "period": coverage(period, data_end).to_dict() if period is not None else None,
        "latest": latest.to_dict() if latest is not None else None,
        "data_end": data_end,
    }


def month_labels(months: list[str], data_end: Any) -> dict[str, str]:
    """How the charts name each month: 'Nov 2011', or 'Dec 2011 (partial, 9 days)' for a month the
    data does not cover to its last day."""
    return {m: coverage(m, data_end).label for m in months}


def partial_months(months: list[str], data_end: Any) -> set[str]:
    """The months of `months` the data (ending at `data_end`) does not cover to their last day."""
    return {m for m in months if coverage(m, data_end).partial}


def theme_trend(trends: pd.DataFrame, themes: list[str]) -> pd.DataFrame:
    """Mentions of each of `themes` per month (`trends`: `heedful.listen.trends.theme_trends` per month, the
    Listening page's counts), every month from the first to the last month with feedback (0 where a theme was
    not mentioned: a month without mentions is a zero, not a gap in the line), in month order and, within a
    month, in the order of `themes`."""
    if trends.empty or not themes:
        return pd.DataFrame(columns=["month", "theme", "mentions"])
    months = trends["period"].astype(str)
    counts = trends[trends["theme"].isin(themes)].assign(month=months).groupby(["month", "theme"])["mentions"].sum()
    span = pd.period_range(min(months), max(months), freq="M").strftime("%Y-%m")
    grid = pd.MultiIndex.from_product([list(span), themes], names=["month", "theme"])
    return counts.reindex(grid, fill_value=0).astype(int).rename("mentions").reset_index()


def survey_scores(store: Store) -> pd.DataFrame:
    """Numeric answers to NPS / CSAT questions with the month answered: columns kind, value, month."""
    from heedful.services.surveys import answers_of_type

    parts = [answers_of_type(store, kind, known_customers=False).assign(kind=kind) for kind in ("nps", "csat")]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=["kind", "value", "month"])
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.rename(columns={"score": "value"})
    frame["month"] = pd.to_datetime(frame["answered_at"]).dt.strftime("%Y-%m")
    return frame[["kind", "value", "month"]]


# ---------------------------------------------------------------- customers
CUSTOMER_SORTS: dict[str, str] = {
    "name": "c.name",
    "customer_id": "c.customer_id",
    "country": "c.country",
    "segment": "v.segment",
    "clv": "v.clv",
    "p_alive": "v.p_alive",
    "churn_risk": "v.churn_risk",
    "frequency": "v.frequency",
    "monetary_value": "v.monetary_value",
}


@dataclass(frozen=True)
class CustomerQuery:
    """Search, filter, sort and page the customer list."""

    q: str = ""
    segment: str = ""
    sort: str = "clv"
    order: str = "desc"
    limit: int = 50
    offset: int = 0

    def where(self) -> tuple[str, list[Any]]:
        clauses = ["c.kind = 'customer'"]
        params: list[Any] = []
        if self.q.strip():
            needle, like = contains_pattern(self.q.strip()), f"ILIKE ? {LIKE_ESCAPE}"
            clauses.append(f"(c.customer_id {like} OR c.name {like} OR c.email {like} OR c.company {like})")
            params.extend([needle] * 4)
        if self.segment:
            clauses.append("v.segment = ?")
            params.append(self.segment)
        return " AND ".join(clauses), params


LIKE_ESCAPE = "ESCAPE '\\'"


def contains_pattern(text: str) -> str:
    """A LIKE pattern (use with LIKE_ESCAPE) matching values that contain `text` literally: % and _ are no wildcards."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


_CUSTOMER_COLS = "c.customer_id, c.name, c.email, c.company, c.country"
_VALUE_COLS = "v.segment, v.clv, v.p_alive, v.churn_risk, v.frequency, v.monetary_value"


def customer_page(store: Store, query: CustomerQuery) -> tuple[pd.DataFrame, int]:
    """One page of customers with their value figures, and the number of matches.

    Without a search text the page is cut from the sorted table first (customer_value or customers,
    whichever holds the sort column) and only those rows are joined: on a million customers that is
    a top-N over one table instead of a join of two.
    """
    if not query.q.strip():
        fast = _unsearched_page(store, query)
        if fast is not None:
            return fast
    where, params = query.where()
    sort = CUSTOMER_SORTS.get(query.sort, "v.clv")
    direction = "ASC" if query.order == "asc" else "DESC"
    base = f"FROM customers c LEFT JOIN customer_value v ON v.customer_id = c.customer_id WHERE {where}"
    # The total comes with the page (one scan of the matches instead of two).
    frame = store.query(
        f"SELECT {_CUSTOMER_COLS}, {_VALUE_COLS}, COUNT(*) OVER () AS matches {base} "
        f"ORDER BY {sort} {direction} NULLS LAST, c.customer_id LIMIT ? OFFSET ?",
        [*params, int(query.limit), int(query.offset)],
    )
    total = int(frame["matches"].iloc[0]) if len(frame) else int(_scalar(store, f"SELECT COUNT(*) {base}", params) or 0)
    return frame.drop(columns=["matches"]), total


def _unsearched_page(store: Store, query: CustomerQuery) -> tuple[pd.DataFrame, int] | None:
    """The page without a join over all customers, or None when that shortcut cannot be exact."""
    sort = CUSTOMER_SORTS.get(query.sort, "v.clv")
    direction = "ASC" if query.order == "asc" else "DESC"
    limit, offset = int(query.limit), int(query.offset)
    if sort.startswith("v."):
        seg_clause, seg_params = ("WHERE segment = ?", [query.segment]) if query.segment else ("", [])
        frame = store.query(
            f"SELECT {_CUSTOMER_COLS}, {_VALUE_COLS} FROM "
            f"(SELECT * FROM customer_value {seg_clause} ORDER BY {sort[2:]} {direction} NULLS LAST, customer_id LIMIT ? OFFSET ?) v "
            f"JOIN customers c ON c.customer_id = v.customer_id WHERE c.kind = 'customer' "
            f"ORDER BY {sort} {direction} NULLS LAST, c.customer_id",
            [*seg_params, limit, offset],
        )
        total_sql = (
            f"SELECT COUNT(*) FROM customer_value {seg_clause}"
            if query.segment
            else "SELECT COUNT(*) FROM customers WHERE kind = 'customer'"
        )
        total = int(_scalar(store, total_sql, seg_params) or 0)
        # Customers without value results, or value rows of non-customers, make the shortcut inexact.
        if len(frame) < min(limit, max(total - offset, 0)):
            return None
        return frame, total
    if query.segment:
        return None
    frame = store.query(
        f"SELECT {_CUSTOMER_COLS}, {_VALUE_COLS} FROM "
        f"(SELECT * FROM customers WHERE kind = 'customer' ORDER BY {sort[2:]} {direction} NULLS LAST, customer_id LIMIT ? OFFSET ?) c "
        f"LEFT JOIN customer_value v ON v.customer_id = c.customer_id ORDER BY {sort} {direction} NULLS LAST, c.customer_id",
        [limit, offset],
    )
    return frame, int(_scalar(store, "SELECT COUNT(*) FROM customers WHERE kind = 'customer'") or 0)


def segments(store: Store) -> list[str]:
    return [
        r[0] for r in store.fetchall("SELECT DISTINCT segment FROM customer_value WHERE segment IS NOT NULL ORDER BY 1")
    ]


# ---------------------------------------------------------------- value
def segment_summary(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT segment, COUNT(*) AS customers, SUM(clv) AS total_clv, AVG(clv) AS mean_clv, AVG(p_alive) AS mean_p_alive "
        "FROM customer_value WHERE segment IS NOT NULL GROUP BY segment ORDER BY customers DESC"
    )


def clv_histogram(store: Store, bins: int = 30) -> pd.DataFrame:
    """CLV binned in the database (not shipped row by row to the browser); top 1% folded into the last bin."""
    row = store.fetchall(
        f"SELECT MIN(clv), {store.quantile_sql('clv', 0.99)} FROM customer_value WHERE clv IS NOT NULL"
    )[0]
    low, high = row
    if low is None:
        return pd.DataFrame(columns=["clv_from", "clv_to", "customers"])
    low, high = float(low), float(high)
    width = (high - low) / bins if high > low else 1.0
    frame = store.query(
        "SELECT LEAST(CAST(FLOOR((clv - ?) / ?) AS BIGINT), ?) AS bin, COUNT(*) AS customers "
        "FROM customer_value WHERE clv IS NOT NULL GROUP BY 1 ORDER BY 1",
        [low, width, bins - 1],
    )
    frame["clv_from"] = low + frame["bin"] * width
    frame["clv_to"] = frame["clv_from"] + width
    return frame[["clv_from", "clv_to", "customers"]]


def value_models(store: Store) -> pd.DataFrame:
    return store.query(
        "SELECT model, COUNT(*) AS customers, MAX(computed_at) AS computed_at, SUM(clv) AS total_clv, "
        "SUM(expected_purchases) AS expected_purchases FROM customer_value GROUP BY model ORDER BY customers DESC"
    )
