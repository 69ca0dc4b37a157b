"""Next-best offers: planted co-purchases are found and explained; owned and returned products never offered."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.retain.offers import (
    ItemItemRecommender,
    PopularityRecommender,
    PurchaseHistory,
    SVDRecommender,
    evaluate_offers,
    explain_offers,
    next_best_offers,
)


def _basket_orders() -> pd.DataFrame:
    """Everyone buys a best seller; 'tent' buyers also buy 'stove'; 'yarn' buyers also buy 'needles'."""
    rows = []
    for i in range(60):
        c = f"c{i}"
        rows.append((c, "bestseller"))
        if i < 30:
            rows.append((c, "tent"))
            if i < 25:
                rows.append((c, "stove"))
        else:
            rows.append((c, "yarn"))
            if i < 55:
                rows.append((c, "needles"))
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id"])
    frame["order_id"] = frame["customer_id"] + "-1"
    frame["ordered_at"] = pd.Timestamp("2024-01-01")
    frame["product_name"] = frame["product_id"].str.title()
    frame["is_return"] = False
    return frame


@pytest.mark.parametrize("method", ["item-item", "svd"])
def test_the_planted_companion_product_is_the_first_offer(method: str) -> None:
    offers = next_best_offers(_basket_orders(), k=2, method=method, customer_ids=["c27", "c57"])
    first = offers[offers["rank"] == 1].set_index("customer_id")["product_id"]
    assert first["c27"] == "stove"  # bought the tent, not the stove yet
    assert first["c57"] == "needles"
    # The planted product must win by a real margin, not by rounding noise (a near-full-rank SVD once ranked
    # every unbought product at ~1e-7 and the order flipped between library versions).
    scores = offers.pivot(index="customer_id", columns="rank", values="score")
    assert (scores[1] > 1.5 * scores[2]).all()


def test_offers_never_include_products_bought_or_returned() -> None:
    orders = _basket_orders()
    returned = pd.DataFrame(
        [
            {
                "customer_id": "c27",
                "product_id": "stove",
                "order_id": "r1",
                "ordered_at": pd.Timestamp("2024-01-02"),
                "is_return": True,
            }
        ]
    )
    offers = next_best_offers(pd.concat([orders, returned]), k=5, method="item-item")
    owned = set(map(tuple, orders[["customer_id", "product_id"]].to_numpy())) | {("c27", "stove")}
    assert not any((c, p) in owned for c, p in offers[["customer_id", "product_id"]].to_numpy())
    assert "stove" not in set(offers.loc[offers["customer_id"] == "c27", "product_id"])


def test_explanations_name_the_product_that_led_to_the_offer() -> None:
    offers = next_best_offers(_basket_orders(), k=1, method="item-item", customer_ids=["c27"])
    text = offers["explanation"].iat[0]
    assert text.startswith("Customers who bought Tent also bought Stove")
    assert "(25 of 30 customers, 83%;" in text  # 25 of the 30 tent buyers bought the stove


def test_an_explanation_rests_on_the_surest_evidence_not_on_two_buyers() -> None:
    # 1 of the 2 buyers of "rare" bought "lamp" (50%); 40 of the 100 buyers of "common" did (40%): the plain
    # share would explain the offer by "rare", on one customer
    rows = [("target", "rare"), ("target", "common"), ("r1", "rare"), ("r1", "lamp")]
    rows += [(f"c{i}", "common") for i in range(99)] + [(f"c{i}", "lamp") for i in range(40)]
    rows += [(f"o{i}", "other") for i in range(400)]
    frame = pd.DataFrame(rows, columns=["customer_id", "product_id"])
    frame = frame.assign(order_id=frame["customer_id"] + "-1", ordered_at=pd.Timestamp("2024-01-01"))
    frame = frame.assign(product_name=frame["product_id"].str.title(), is_return=False)
    history = PurchaseHistory.from_orders(frame)
    text = explain_offers(pd.DataFrame({"customer_id": ["target"], "product_id": ["lamp"]}), history).iat[0]
    assert text.startswith("Customers who bought Common also bought Lamp (40 of 100 customers, 40%;"), text


def test_popularity_offers_best_sellers_and_cold_customers_get_them_too() -> None:
    history = PurchaseHistory.from_orders(_basket_orders())
    pop = PopularityRecommender().fit(history)
    recs = pop.recommend(["c0", "someone-new"], k=2)
    assert list(recs[recs["customer_id"] == "someone-new"]["product_id"]) == ["bestseller", "tent"]
    assert "bestseller" not in set(recs[recs["customer_id"] == "c0"]["product_id"])


def test_every_recommender_returns_k_ranked_offers_per_customer(retail_orders: pd.DataFrame) -> None:
    history = PurchaseHistory.from_orders(retail_orders)
    for model in (ItemItemRecommender(), SVDRecommender(factors=8), PopularityRecommender()):
        recs = model.fit(history).recommend(list(history.customers[:20]), k=3)
        assert recs.groupby("customer_id")["rank"].apply(list).map(lambda r: r == [1, 2, 3]).all()


def test_time_split_evaluation_beats_popularity_on_planted_pairs(retail_orders: pd.DataFrame) -> None:
    result = evaluate_offers(retail_orders, "2024-09-15", ks=(1, 3))
    models = result["models"]
    assert result["n_customers_evaluated"] > 30
    for method in ("item-item", "svd"):
        assert models[method]["hit_rate@3"] > models["popularity"]["hit_rate@3"]
    for m in models.values():
        assert 0 <= m["recall@1"] <= m["recall@3"] <= 1
        assert m["hit_rate@1"] <= m["hit_rate@3"]


def test_a_holdout_with_no_orders_is_refused(retail_orders: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="holdout"):
        evaluate_offers(retail_orders, "2030-01-01")
