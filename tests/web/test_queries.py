"""The dashboard's read queries give the same answers on DuckDB and PostgreSQL, shortcut or not."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from heedful.services import dashboard
from heedful.services.dashboard import CustomerQuery
from heedful.store import Store
from heedful.web.cache import AggregateCache

from .conftest import seed_data


@pytest.fixture
def seeded(store: Store) -> Store:
    seed_data(store)
    # A customer without value results and a partner: the list shortcut must still be exact.
    store.insert_new(
        "customers",
        pd.DataFrame(
            [
                {
                    "customer_id": "C4",
                    "kind": "customer",
                    "name": "Edsger 100%_sure",
                    "created_at": datetime(2024, 1, 1),
                },
                {"customer_id": "P1", "kind": "partner", "name": "Partner Ltd", "created_at": datetime(2024, 1, 1)},
            ]
        ),
    )
    return store


def _ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["customer_id"])


@pytest.mark.parametrize(
    ("sort", "order"), [("clv", "desc"), ("clv", "asc"), ("churn_risk", "desc"), ("name", "asc"), ("country", "desc")]
)
def test_customer_pages_match_the_full_join(seeded: Store, sort: str, order: str) -> None:
    for offset in (0, 2, 3):
        query = CustomerQuery(sort=sort, order=order, limit=2, offset=offset)
        fast, total = dashboard.customer_page(seeded, query)
        # A one-character search that matches everyone forces the general (join) path.
        slow, slow_total = dashboard.customer_page(
            seeded, CustomerQuery(q="C", sort=sort, order=order, limit=2, offset=offset)
        )
        assert total == slow_total == 4
        assert _ids(fast) == _ids(slow)


def test_customers_without_value_results_come_last_when_sorting_by_value(seeded: Store) -> None:
    rows, total = dashboard.customer_page(seeded, CustomerQuery(sort="clv", order="desc", limit=10))
    assert _ids(rows) == ["C3", "C2", "C1", "C4"] and total == 4
    segment, n = dashboard.customer_page(seeded, CustomerQuery(segment="loyal"))
    assert _ids(segment) == ["C2"] and n == 1


def test_search_matches_percent_and_underscore_literally(seeded: Store) -> None:
    assert _ids(dashboard.customer_page(seeded, CustomerQuery(q="100%_s"))[0]) == ["C4"]
    assert dashboard.customer_page(seeded, CustomerQuery(q="1%0"))[1] == 0
    assert _ids(dashboard.customer_page(seeded, CustomerQuery(q="GRACE"))[0]) == ["C2"]


def test_overview_figures_count_revenue_net_of_returns(seeded: Store) -> None:
    figures = dashboard.overview_figures(seeded)
    assert figures["customers"] == 4
    assert figures["revenue"] == pytest.approx(340.0)
    assert figures["monthly"]["revenue"].sum() == pytest.approx(340.0)
    assert figures["active_customers"] == 3


def test_value_summaries(seeded: Store) -> None:
    histogram = dashboard.clv_histogram(seeded, bins=4)
    assert histogram["customers"].sum() == 3
    assert histogram["clv_from"].min() == pytest.approx(100.0)
    summary = dashboard.segment_summary(seeded).set_index("segment")
    assert summary.loc["champions", "mean_clv"] == pytest.approx(300.0)


def test_theme_mentions_use_per_theme_sentiment(seeded: Store) -> None:
    top = dashboard.top_themes(dashboard.theme_mentions(seeded)).set_index("theme")
    assert top.loc["delivery_speed", "mentions"] == 2
    assert top.loc["delivery_speed", "negative_share"] == pytest.approx(0.5)
    assert top.loc["product_quality", "negative_share"] == 0


def test_aggregate_cache_recomputes_after_new_data(seeded: Store) -> None:
    cache = AggregateCache()
    calls: list[int] = []

    def compute(store: Store) -> int:
        calls.append(1)
        return store.count("orders")

    first = cache.get(seeded, "n", compute)
    assert cache.get(seeded, "n", compute) == first and len(calls) == 1
    seeded.insert_new(
        "orders",
        pd.DataFrame(
            [
                {
                    "order_line_id": "N1",
                    "order_id": "N1",
                    "customer_id": "C4",
                    "ordered_at": datetime(2024, 6, 1),
                    "quantity": 1.0,
                    "unit_price": 1.0,
                    "amount": 1.0,
                    "is_return": False,
                }
            ]
        ),
    )
    assert cache.get(seeded, "n", compute) == first + 1 and len(calls) == 2


def test_fingerprint_changes_when_value_results_are_rewritten_in_place(seeded: Store) -> None:
    before = dashboard.fingerprint(seeded)
    seeded.execute("UPDATE customer_value SET clv = clv + 1, computed_at = TIMESTAMP '2030-01-01 00:00:00'")
    assert dashboard.fingerprint(seeded) != before


def test_theme_trend_has_every_month_in_order_with_zeros_for_months_without_mentions() -> None:
    # A theme not mentioned in a month is a zero there, not a gap: a chart drawn from the rows lists the months in
    # calendar order whichever theme is drawn first (the overview once drew Jan 2011 after Dec 2011).
    mentions = pd.DataFrame(
        {
            "theme": ["fit", "fit", "style", "fit", "other"],
            "negative": [False, True, False, False, False],
            "month": ["2024-03", "2024-01", "2024-03", "2024-03", "2024-04"],
        }
    )
    trend = dashboard.theme_trend(mentions, ["style", "fit"])
    assert list(trend["month"]) == ["2024-01"] * 2 + ["2024-02"] * 2 + ["2024-03"] * 2 + ["2024-04"] * 2
    assert list(trend["theme"]) == ["style", "fit"] * 4
    assert list(trend["mentions"]) == [0, 1, 0, 0, 1, 2, 0, 0]
    assert dashboard.theme_trend(mentions, []).empty
