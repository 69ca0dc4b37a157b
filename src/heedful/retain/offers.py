"""Next-best offer from purchase history: item-item associations, matrix factorisation, popularity.

Three recommenders share one interface (`fit(history)`, `recommend(customers, k)`):
- `ItemItemRecommender`: cosine similarity of products over the customers who bought them, pruned
  to each product's nearest neighbours ("customers who bought X also bought Y").
- `SVDRecommender`: implicit-feedback matrix factorisation: truncated SVD of the BM25-weighted
  customer × product matrix (PureSVD).
- `PopularityRecommender`: the best sellers the customer does not have yet (the baseline).
Every recommender excludes what the customer already bought or returned. `explain_offers` says why,
from co-purchase confidence and lift; `evaluate_offers` measures hit-rate@k and recall@k on a
time split.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from heedful.errors import InputError
from heedful.estimators import BaseEstimator, check_fitted
from heedful.stats import wilson_interval

Method = Literal["item-item", "svd", "popularity"]
METHODS: tuple[str, ...] = ("item-item", "svd", "popularity")
#: each method in words, for outputs people read
METHOD_NAMES = {
    "item-item": "bought together (item-item)",
    "svd": "similar customers' baskets (matrix factorisation)",
    "popularity": "best sellers",
}


# --------------------------------------------------------------------------- purchase history
@dataclass
class PurchaseHistory:
    """Who bought what: a binary customer × product matrix, plus what each customer returned."""

    customers: pd.Index
    products: pd.Index
    bought: sp.csr_matrix  # 1 where the customer bought the product (net of nothing: any purchase counts)
    counts: sp.csr_matrix  # number of orders with the product
    owned: sp.csr_matrix  # bought or returned: never offered again
    product_names: pd.Series

    @classmethod
    def from_orders(cls, orders: pd.DataFrame, exclude_products: Sequence[str] = ()) -> PurchaseHistory:
        """Orders need customer_id and product_id; is_return, order_id and product_name are used when present."""
        for col in ("customer_id", "product_id"):
            if col not in orders.columns:
                raise InputError(f"Orders need a {col!r} column to recommend products.")
        keep = orders["customer_id"].notna() & orders["product_id"].notna()
        frame = orders.loc[keep].copy()
        frame["customer_id"] = frame["customer_id"].astype(str)
        frame["product_id"] = frame["product_id"].astype(str)
        if exclude_products:
            frame = frame[~frame["product_id"].isin(set(exclude_products))]
        if frame.empty:
            raise InputError("No orders with both a customer and a product: nothing to recommend from.")
        is_return = (
            frame["is_return"].astype("boolean").fillna(False).astype(bool)
            if "is_return" in frame.columns
            else pd.Series(False, index=frame.index)
        )
        customers = pd.Index(np.sort(frame["customer_id"].unique()))
        products = pd.Index(np.sort(frame["product_id"].unique()))
        rows = customers.get_indexer(frame["customer_id"])
        cols = products.get_indexer(frame["product_id"])
        shape = (len(customers), len(products))
        buy = ~is_return.to_numpy()
        if "order_id" in frame.columns:
            # One count per order and product, however many lines it took.
            pairs = pd.DataFrame({"r": rows[buy], "c": cols[buy], "o": frame["order_id"].to_numpy()[buy]})
            pairs = pairs.drop_duplicates()
            counts = sp.csr_matrix((np.ones(len(pairs), np.float32), (pairs["r"], pairs["c"])), shape=shape)
        else:
            counts = sp.csr_matrix((np.ones(int(buy.sum()), np.float32), (rows[buy], cols[buy])), shape=shape)
        counts.sum_duplicates()
        bought = counts.copy()
        bought.data[:] = 1.0
        owned = sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=shape)
        owned.sum_duplicates()
        owned.data[:] = 1.0
        if "product_name" in frame.columns:
            names = (
                frame.dropna(subset=["product_name"])
                .groupby("product_id")["product_name"]
                .agg(lambda s: s.value_counts().index[0])
            )
        else:
            names = pd.Series(dtype=object)
        names = names.reindex(products)
        names = names.where(names.notna(), pd.Series(products, index=products))
        return cls(customers, products, bought, counts, owned, names)

    def rows_for(self, customer_ids: Sequence[str]) -> np.ndarray:
        """Row of each customer in the matrix, -1 for customers with no history."""
        return np.asarray(self.customers.get_indexer(pd.Index([str(c) for c in customer_ids])))


# --------------------------------------------------------------------------- recommenders
class _Recommender(BaseEstimator):
    """What the recommenders share: `fit(history)` keeps `history_` and `popularity_`; `recommend` ranks."""

    name = "base"

    def __init__(self, chunk_size: int = 5000) -> None:
        self.chunk_size = chunk_size

    def fit(self, history: PurchaseHistory) -> _Recommender:
        self.history_ = history
        self.popularity_ = np.asarray(history.bought.sum(axis=0)).ravel()
        return self

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def recommend(self, customer_ids: Sequence[str] | None = None, k: int = 5) -> pd.DataFrame:
        """Top-k products per customer (never one they bought or returned): customer_id, rank, product_id, score."""
        check_fitted(self, "history_", how="fit the recommender on a purchase history first")
        h = self.history_
        ids = list(h.customers) if customer_ids is None else [str(c) for c in customer_ids]
        rows = h.rows_for(ids)
        k = min(k, len(h.products))
        top_items = np.empty((len(ids), k), dtype=np.int64)
        top_scores = np.empty((len(ids), k), dtype=np.float64)
        popular_rank = np.argsort(-self.popularity_, kind="stable")
        for start in range(0, len(ids), self.chunk_size):
            chunk = rows[start : start + self.chunk_size]
            known = chunk >= 0
            scores = np.zeros((len(chunk), len(h.products)), dtype=np.float32)
            if known.any():
                scores[known] = self._scores(chunk[known])
                owned = h.owned[chunk[known]].tocoo()
                sub = scores[known]
                sub[owned.row, owned.col] = -np.inf
                scores[known] = sub
            # Tie-break (and cold start) by popularity: a tiny bonus that never outranks a real score gap.
            scores += (self.popularity_ / (self.popularity_.max() + 1.0) * 1e-6).astype(np.float32)
            if not known.all():  # no history: the best sellers
                cold = np.flatnonzero(~known)
                scores[cold] = 0.0
                scores[np.ix_(cold, popular_rank[:k])] = np.arange(k, 0, -1, dtype=np.float32)
            part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
            part_scores = np.take_along_axis(scores, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            top_items[start : start + len(chunk)] = np.take_along_axis(part, order, axis=1)
            top_scores[start : start + len(chunk)] = np.take_along_axis(part_scores, order, axis=1)
        valid = np.isfinite(top_scores)
        cust = np.repeat(np.asarray(ids, dtype=object), k)
        rank = np.tile(np.arange(1, k + 1), len(ids))
        items = top_items.ravel()
        frame = pd.DataFrame(
            {
                "customer_id": cust,
                "rank": rank,
                "product_id": np.asarray(h.products)[items],
                "score": top_scores.ravel(),
                "method": self.name,
            }
        )
        return frame[valid.ravel()].reset_index(drop=True)


class PopularityRecommender(_Recommender):
    """The products bought by the most customers, minus what the customer already has."""

    name = "popularity"

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(
            (self.popularity_ / max(self.popularity_.max(), 1.0)).astype(np.float32),
            (len(rows), len(self.popularity_)),
        ).copy()


class ItemItemRecommender(_Recommender):
    """Item-based nearest neighbours: products bought by the same customers score each other."""

    name = "item-item"

    def __init__(self, neighbours: int = 100, shrinkage: float = 10.0, chunk_size: int = 5000) -> None:
        super().__init__(chunk_size)
        self.neighbours = neighbours
        self.shrinkage = shrinkage

    def fit(self, history: PurchaseHistory) -> ItemItemRecommender:
        super().fit(history)
        X = history.bought.astype(np.float32)
        co = (X.T @ X).tocsr()  # co-purchase counts: customers who bought both
        co.setdiag(0)
        co.eliminate_zeros()
        n = self.popularity_.astype(np.float32)
        coo = co.tocoo()
        # Cosine similarity shrunk towards 0 for pairs seen in few customers.
        sim = coo.data / (np.sqrt(n[coo.row] * n[coo.col]) + 1e-9) * (coo.data / (coo.data + self.shrinkage))
        self.similarity_ = _top_k_per_row(sp.csr_matrix((sim, (coo.row, coo.col)), shape=co.shape), self.neighbours)
        self.co_counts_ = co
        return self

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.history_.bought[rows] @ self.similarity_).toarray(), dtype=np.float32)


class SVDRecommender(_Recommender):
    """Matrix factorisation of the BM25-weighted customer × product matrix (truncated SVD, PureSVD)."""

    name = "svd"

    def __init__(
        self,
        factors: int = 64,
        bm25_k1: float = 1.2,
        bm25_b: float = 0.75,
        random_state: int = 0,
        chunk_size: int = 5000,
    ) -> None:
        super().__init__(chunk_size)
        self.factors = factors
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.random_state = random_state

    def fit(self, history: PurchaseHistory) -> SVDRecommender:
        from sklearn.decomposition import TruncatedSVD

        super().fit(history)
        weighted = bm25_weight(history.counts, self.bm25_k1, self.bm25_b)
        # A factorisation close to full rank reproduces the matrix, zeros included: every unbought product then
        # scores ~1e-7 and the ranking is rounding noise (it flipped between library versions). Keep the rank at
        # most half the smaller side so the factors generalise across customers.
        k = max(1, min(self.factors, min(weighted.shape) // 2))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=self.random_state)
        self.customer_factors_ = svd.fit_transform(weighted).astype(np.float32)
        self.product_factors_ = svd.components_.T.astype(np.float32)
        return self

    def _scores(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.customer_factors_[rows] @ self.product_factors_.T)


def bm25_weight(counts: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 weighting of a customer × product count matrix: damps heavy buyers and best sellers."""
    X = counts.tocoo()
    n_customers = X.shape[0]
    idf = np.log(n_customers) - np.log1p(np.bincount(X.col, minlength=X.shape[1]))
    row_sums = np.ravel(counts.sum(axis=1))
    length_norm = (1.0 - b) + b * row_sums / max(row_sums.mean(), 1e-9)
    data = X.data * (k1 + 1.0) / (k1 * length_norm[X.row] + X.data) * idf[X.col]
    return sp.csr_matrix((data.astype(np.float32), (X.row, X.col)), shape=X.shape)


def _top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row of a sparse matrix."""
    m = m.tocsr()
    indptr, indices, data = m.indptr, m.indices, m.data
    keep = np.zeros(len(data), dtype=bool)
    for r in range(m.shape[0]):
        lo, hi = indptr[r], indptr[r + 1]
        if hi - lo <= k:
            keep[lo:hi] = True
        else:
            keep[lo + np.argpartition(-data[lo:hi], k - 1)[:k]] = True
    rows = np.repeat(np.arange(m.shape[0]), np.diff(indptr))
    return sp.csr_matrix((data[keep], (rows[keep], indices[keep])), shape=m.shape)


RECOMMENDERS: dict[str, type[_Recommender]] = {
    "item-item": ItemItemRecommender,
    "svd": SVDRecommender,
    "popularity": PopularityRecommender,
}


def make_recommender(method: str, **params: Any) -> _Recommender:
    if method not in RECOMMENDERS:
        raise InputError(f"Unknown offer method {method!r}; choose one of {', '.join(METHODS)}.")
    return RECOMMENDERS[method](**params)


# --------------------------------------------------------------------------- explanations
def explain_offers(
    offers: pd.DataFrame, history: PurchaseHistory, co_counts: sp.csr_matrix | None = None, chunk: int = 200_000
) -> pd.Series:
    """Why each offer: the customer's product most often bought with it, as confidence and lift.

    "Customers who bought X also bought Y (31% of them, 6.2× the usual rate)"; offers with no
    co-purchase evidence are explained as best sellers. Vectorised over (offer, owned product) pairs.
    """
    X = history.bought.tocsr()
    if co_counts is None:
        co_counts = (X.T @ X).tocsr()
    co_counts = co_counts.tocsr()
    co_counts.sort_indices()
    n_bought = np.ravel(X.sum(axis=0))
    n_customers = X.shape[0]
    names = history.product_names.to_numpy()
    rows = history.rows_for(offers["customer_id"].tolist())
    items = history.products.get_indexer(offers["product_id"].astype(str))
    best_x = np.full(len(offers), -1)
    best_together = np.zeros(len(offers), dtype=np.int64)
    for lo in range(0, len(offers), chunk):
        idx = np.arange(lo, min(lo + chunk, len(offers)))
        idx = idx[(rows[idx] >= 0) & (items[idx] >= 0)]
        found, together, owner = _best_antecedents(X, co_counts, n_bought, rows[idx], items[idx])
        best_x[idx[owner]] = found
        best_together[idx[owner]] = together
    texts = []
    for x, k, y in zip(best_x, best_together, items, strict=True):
        if y < 0:
            texts.append("Best seller")
        elif x < 0:
            texts.append(f"Best seller: bought by {int(n_bought[y])} customers")
        else:
            n = max(int(n_bought[x]), 1)
            lift = (k / n) / max(n_bought[y] / n_customers, 1e-12)
            texts.append(
                f"Customers who bought {names[x]} also bought {names[y]} "
                f"({k} of {n} customers, {k / n:.0%}; {lift:.1f}× the usual rate)"
            )
    return pd.Series(texts, index=offers.index, name="explanation")


def _best_antecedents(
    X: sp.csr_matrix, co: sp.csr_matrix, n_bought: np.ndarray, rows: np.ndarray, items: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each (customer row, offered item): the owned product whose buyers most surely also bought it — the
    highest lower end of the 95% Wilson interval of that share, so that 25 of 30 buyers (83%) is better evidence
    than 1 of 2 (50%, which the plain share would prefer over 40 of 100).

    Returns that product, how many of its buyers also bought the item, and the positions (into rows/items)
    that had any evidence.
    """
    counts = np.diff(X.indptr)[rows]
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, int), np.empty(0), np.empty(0, int)
    pair_owner = np.repeat(np.arange(len(rows)), counts)
    # Positions of every owned product of every offer's customer in X.indices, without a Python loop.
    start = np.repeat(X.indptr[rows] - (np.cumsum(counts) - counts), counts)
    owned = X.indices[start + np.arange(total)]
    wanted = np.repeat(items, counts)
    together = np.asarray(co[owned, wanted]).ravel()
    keep = together > 0
    pair_owner, owned, together = pair_owner[keep], owned[keep], together[keep]
    sure, _ = wilson_interval(together.astype(np.float64), np.maximum(n_bought[owned], 1).astype(np.float64))
    order = np.lexsort((-sure, pair_owner))  # surest first within each offer (stable: lowest id on ties)
    first = order[np.r_[True, pair_owner[order][1:] != pair_owner[order][:-1]]] if len(order) else order
    return owned[first], together[first].astype(np.int64), pair_owner[first]


def next_best_offers(
    orders: pd.DataFrame,
    k: int = 5,
    method: str = "item-item",
    customer_ids: Sequence[str] | None = None,
    exclude_products: Sequence[str] = (),
    explain: bool = True,
    **params: Any,
) -> pd.DataFrame:
    """Top-k offers per customer with product names and explanations, from the whole order history."""
    history = PurchaseHistory.from_orders(orders, exclude_products)
    model = make_recommender(method, **params).fit(history)
    offers = model.recommend(customer_ids, k)
    offers["product_name"] = history.product_names.reindex(offers["product_id"]).to_numpy()
    if explain:
        offers["explanation"] = explain_offers(offers, history, getattr(model, "co_counts_", None))
    return offers


# --------------------------------------------------------------------------- evaluation
def evaluate_offers(
    orders: pd.DataFrame,
    holdout_start: pd.Timestamp | str,
    ks: Sequence[int] = (5, 10),
    methods: Sequence[str] = METHODS,
    holdout_end: pd.Timestamp | str | None = None,
    exclude_products: Sequence[str] = (),
    max_customers: int | None = None,
    seed: int = 0,
    params: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Hit-rate@k and recall@k on a time split, for each method and the popularity baseline.

    Models learn from orders before `holdout_start`; a customer counts when they bought before it
    and bought at least one product in the holdout that they had not bought or returned before and
    that existed in the training catalogue. hit-rate@k: share of those customers with at least one
    of their k offers bought; recall@k: mean share of their new products that were offered.
    """
    frame = orders.copy()
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    start = pd.Timestamp(holdout_start)
    train = frame[frame["ordered_at"] < start]
    test = frame[frame["ordered_at"] >= start]
    if holdout_end is not None:
        test = test[test["ordered_at"] < pd.Timestamp(holdout_end)]
    if train.empty or test.empty:
        raise InputError(f"The holdout start {start.date()} leaves no training or no holdout orders.")
    history = PurchaseHistory.from_orders(train, exclude_products)
    relevant = _holdout_purchases(test, history, exclude_products)
    customers = np.array(sorted(relevant))
    if max_customers is not None and len(customers) > max_customers:
        customers = np.sort(np.random.default_rng(seed).choice(customers, max_customers, replace=False))
    if len(customers) == 0:
        raise InputError("No customer bought a new product in the holdout: nothing to evaluate.")
    kmax = max(ks)
    results: dict[str, Any] = {
        "holdout_start": str(start.date()),
        "n_train_orders": len(train),
        "n_customers_evaluated": len(customers),
        "n_products": len(history.products),
        "mean_new_products_per_customer": float(np.mean([len(relevant[c]) for c in customers])),
        "models": {},
    }
    for method in methods:
        model = make_recommender(method, **(params or {}).get(method, {})).fit(history)
        recs = model.recommend(list(customers), kmax)
        results["models"][method] = _ranking_metrics(recs, relevant, customers, ks)
    return results


def _holdout_purchases(test: pd.DataFrame, history: PurchaseHistory, exclude: Sequence[str]) -> dict[str, set[str]]:
    buys = test[test["customer_id"].notna() & test["product_id"].notna()]
    if "is_return" in buys.columns:
        buys = buys[~buys["is_return"].astype("boolean").fillna(False).astype(bool)]
    buys = buys[~buys["product_id"].astype(str).isin(set(exclude))]
    rows = history.rows_for(buys["customer_id"].astype(str).tolist())
    cols = history.products.get_indexer(buys["product_id"].astype(str))
    ok = (rows >= 0) & (cols >= 0)
    pairs = pd.DataFrame({"r": rows[ok], "c": cols[ok]}).drop_duplicates()
    owned = history.owned.tocsr()
    out: dict[str, set[str]] = {}
    for r, group in pairs.groupby("r")["c"]:
        have = set(owned.indices[owned.indptr[r] : owned.indptr[r + 1]].tolist())
        new = set(group.tolist()) - have
        if new:
            out[str(history.customers[r])] = {str(history.products[c]) for c in new}
    return out


def _ranking_metrics(
    recs: pd.DataFrame, relevant: dict[str, set[str]], customers: np.ndarray, ks: Sequence[int]
) -> dict[str, float]:
    products = recs.groupby("customer_id", sort=False)["product_id"].apply(list).to_dict()
    out: dict[str, float] = {}
    for k in ks:
        hits, recalls = [], []
        for c in customers:
            rel = relevant[c]
            top = products.get(c, [])[:k]
            n_hit = sum(1 for p in top if p in rel)
            hits.append(n_hit > 0)
            recalls.append(n_hit / len(rel))
        out[f"hit_rate@{k}"] = float(np.mean(hits))
        out[f"recall@{k}"] = float(np.mean(recalls))
    return out
