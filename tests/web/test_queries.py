"""The dashboard's read queries give the same answers on DuckDB and PostgreSQL, shortcut or not."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from heedful.ingest.datasets import data_summary
from heedful.services import dashboard
from heedful.services.dashboard import CustomerQuery
from heedful.services.listen import overview as listen_overview
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.overview import overview_data

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


def test_orders_have_one_value_everywhere(seeded: Store) -> None:
    """A return is no order: the overview, the demo summary and the monthly chart count 12 purchases and
    the one return apart (the overview once said 13 where the demo said 12)."""
    figures = dashboard.overview_figures(seeded)
    summary = data_summary(seeded)
    assert figures["orders"] == summary["orders"] == 12
    assert figures["returns"] == summary["returns"] == 1
    assert figures["returned_amount"] == pytest.approx(summary["returned_amount"]) == -10.0
    assert figures["monthly"]["orders"].sum() == 12
    assert figures["revenue"] == pytest.approx(summary["revenue"])


def test_value_summaries(seeded: Store) -> None:
    histogram = dashboard.clv_histogram(seeded, bins=4)
    assert histogram["customers"].sum() == 3
    assert histogram["clv_from"].min() == pytest.approx(100.0)
    summary = dashboard.segment_summary(seeded).set_index("segment")
    assert summary.loc["champions", "mean_clv"] == pytest.approx(300.0)


def test_overview_themes_are_the_listening_pages_figures_with_per_theme_sentiment(seeded: Store) -> None:
    top = overview_data(seeded)["themes"].set_index("theme")
    listening = listen_overview(seeded)["themes"].set_index("theme")
    assert top.loc["delivery_speed", "mentions"] == 2
    assert top.loc["delivery_speed", "negative_share"] == pytest.approx(0.5)
    assert top.loc["product_quality", "negative_share"] == 0
    for column in ("mentions", "negative_share", "negative_low", "negative_high"):
        assert top[column].to_dict() == listening.loc[top.index, column].to_dict()
    assert top.loc["delivery_speed", "negative_low"] < 0.5 < top.loc["delivery_speed", "negative_high"]


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
    mentions = pd.DataFrame(  # theme_trends per month: one row per (period, theme) mentioned
        {
            "period": pd.PeriodIndex(["2024-03", "2024-01", "2024-03", "2024-04"], freq="M"),
            "theme": ["fit", "fit", "style", "other"],
            "mentions": [2, 1, 1, 1],
        }
    )
    trend = dashboard.theme_trend(mentions, ["style", "fit"])
    assert list(trend["month"]) == ["2024-01"] * 2 + ["2024-02"] * 2 + ["2024-03"] * 2 + ["2024-04"] * 2
    assert list(trend["theme"]) == ["style", "fit"] * 4
    assert list(trend["mentions"]) == [0, 1, 0, 0, 1, 2, 0, 0]
    assert dashboard.theme_trend(mentions, []).empty
