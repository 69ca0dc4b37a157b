"""MaxDiff (best-worst scaling): balanced designs, and utilities by MNL or hierarchical Bayes.

Design: for each version (one per respondent, or shared), tasks are built greedily so that every
item is shown equally often (counts differ by at most one at every step) and item pairs appear
together as evenly as possible, with random tie-breaks and positions — a near balanced incomplete
block design, randomised per version.

Model: the sequential best-worst MNL. A task showing items S gives two choices: the best item
among S with utility +u, then the worst among S minus the best with utility -u. Utilities are
effects-coded (they sum to zero over items).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.surveys._base import z_value
from heedful.surveys.choice import ChoiceData, ChoiceEstimator, draw_summary


def maxdiff_design(
    n_items: int, items_per_task: int, n_tasks: int, n_versions: int = 1, seed: int = 0, n_candidates: int = 50
) -> pd.DataFrame:
    """A MaxDiff design: one row per (version, task, position) with the item index shown (0-based)."""
    if not 2 <= items_per_task <= n_items:
        raise InputError(f"items_per_task must be between 2 and the number of items ({n_items}).")
    if n_tasks < 1 or n_versions < 1:
        raise InputError("n_tasks and n_versions must be at least 1.")
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int, int]] = []
    for version in range(1, n_versions + 1):
        tasks = _balanced_tasks(n_items, items_per_task, n_tasks, n_candidates, rng)
        for task, chosen in enumerate(tasks, start=1):
            for position, item in enumerate(rng.permutation(chosen), start=1):
                rows.append((version, task, position, int(item)))
    return pd.DataFrame(rows, columns=["version", "task", "position", "item"])


def _balanced_tasks(n_items: int, k: int, n_tasks: int, n_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """Tasks (n_tasks, k) with exact item balance, then pair counts evened out by item swaps between tasks."""
    shown = np.zeros(n_items)
    together = np.zeros((n_items, n_items))
    tasks = np.zeros((n_tasks, k), dtype=np.int64)
    for t in range(n_tasks):
        # candidates: the least-shown items (exact balance), ties broken at random
        keys = shown[None, :] + rng.random((n_candidates, n_items))
        candidates = np.argsort(keys, axis=1)[:, :k]
        # keep the candidate whose items have been shown together least
        load = together[candidates[:, :, None], candidates[:, None, :]].sum(axis=(1, 2))
        chosen = candidates[int(np.argmin(load))]
        tasks[t] = chosen
        shown[chosen] += 1
        together[np.ix_(chosen, chosen)] += 1
    # swapping an item of one task with an item of another keeps every item's count: accept swaps
    # that lower the sum of squared pair counts (pairs shown together as evenly as possible)
    off = ~np.eye(n_items, dtype=bool)
    cost = float(np.sum(together[off] ** 2))
    for _ in range(30 * n_tasks if n_tasks > 1 else 0):
        t, u = rng.choice(n_tasks, 2, replace=False)
        i, j = rng.integers(k), rng.integers(k)
        a, b = tasks[t, i], tasks[u, j]
        if a in tasks[u] or b in tasks[t]:
            continue
        trial = together.copy()
        trial[np.ix_(tasks[t], tasks[t])] -= 1
        trial[np.ix_(tasks[u], tasks[u])] -= 1
        new_t, new_u = tasks[t].copy(), tasks[u].copy()
        new_t[i], new_u[j] = b, a
        trial[np.ix_(new_t, new_t)] += 1
        trial[np.ix_(new_u, new_u)] += 1
        trial_cost = float(np.sum(trial[off] ** 2))
        if trial_cost <= cost:
            tasks[t], tasks[u], together, cost = new_t, new_u, trial, trial_cost
    return tasks


def effects_matrix(n: int) -> np.ndarray:
    """(n, n-1) effects coding: level i < n-1 is e_i, the last level is -1 everywhere."""
    m = np.zeros((n, n - 1))
    m[: n - 1] = np.eye(n - 1)
    m[n - 1] = -1.0
    return m


class MaxDiff(ChoiceEstimator):
    """Best-worst scaling model.

    `fit(frame)` with long-format rows (respondent, task, item, best 0/1, worst 0/1) -> self.
    `summary`: per item, utility (zero-centred) with se and 95% interval, preference share (%)
    with interval, and the simple counts (shown, best, worst, best-minus-worst score).
    `individual_utilities_`: respondents × items (HB; the aggregate row for MNL).
    """

    def __init__(
        self, method: str = "hb", n_iter: int = 4000, burn_in: int = 2000, confidence: float = 0.95, seed: int = 0
    ) -> None:
        self.method = method
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.confidence = confidence
        self.seed = seed

    def fit(
        self,
        frame: pd.DataFrame,
        respondent: str = "respondent",
        task: str = "task",
        item: str = "item",
        best: str = "best",
        worst: str = "worst",
        progress: Callable[[int], object] | None = None,
    ) -> MaxDiff:
        missing = [c for c in (respondent, task, item, best, worst) if c not in frame.columns]
        if missing:
            raise InputError(f"MaxDiff data needs columns {missing}; found {list(frame.columns)}.")
        df = frame[[respondent, task, item, best, worst]].copy()
        df.columns = ["respondent", "task", "item", "best", "worst"]
        for col in ("best", "worst"):
            df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0).astype(int)
        df["item"] = df["item"].astype(str)
        items = sorted(df["item"].unique())
        if len(items) < 2:
            raise InputError("MaxDiff needs at least two items.")
        code = effects_matrix(len(items))
        item_index = df["item"].map({name: i for i, name in enumerate(items)}).to_numpy()
        df["key"] = df["respondent"].astype(str) + "\x1f" + df["task"].astype(str)
        best_item = df.loc[df["best"] == 1].set_index("key")["item"]
        dup = best_item.index[best_item.index.duplicated()]
        if len(dup) or len(best_item) != df["key"].nunique():
            raise InputError("Each MaxDiff task needs exactly one best and one worst item.")
        worst_pool = df["item"].to_numpy() != df["key"].map(best_item).to_numpy()
        x_best = code[item_index]
        rows_worst = np.flatnonzero(worst_pool)
        design = np.vstack([x_best, -x_best[rows_worst]])
        respondent_col = np.concatenate([df["respondent"].to_numpy(), df["respondent"].to_numpy()[rows_worst]])
        task_col = np.concatenate([(df["key"] + "\x1fb").to_numpy(), (df["key"] + "\x1fw").to_numpy()[rows_worst]])
        chosen = np.concatenate([df["best"].to_numpy(), df["worst"].to_numpy()[rows_worst]])
        data = ChoiceData.from_long(respondent_col, task_col, design, chosen, [f"item[{i}]" for i in items[:-1]])
        self._estimate(data, progress)
        self.items_ = items
        self._code = code
        counts = df.groupby("item").agg(
            shown=("item", "size"), best_count=("best", "sum"), worst_count=("worst", "sum")
        )
        counts["count_score"] = (counts["best_count"] - counts["worst_count"]) / counts["shown"]
        self._counts = counts.reindex(items)
        return self

    # utilities of every item (zero-centred) from coded parameter vectors (..., K) -> (..., items)
    def _utilities(self, coded: np.ndarray) -> np.ndarray:
        return np.asarray(coded @ self._code.T)

    @property
    def individual_utilities_(self) -> pd.DataFrame:
        self._check_fitted()
        index = self.respondents_ if self.method == "hb" else ["aggregate"]
        return pd.DataFrame(
            self._utilities(self.individual_), index=pd.Index(index, name="respondent"), columns=self.items_
        )

    @property
    def summary(self) -> pd.DataFrame:
        self._check_fitted()
        utilities = draw_summary(self._utilities(self.population_draws_), self.items_, self.confidence)
        point = self._utilities(self.coef_)
        utilities["estimate"] = point
        if self.method == "mnl":
            se = np.sqrt(np.diag(self._code @ self.cov_ @ self._code.T))
            z = z_value(self.confidence)
            utilities["se"], utilities["low"], utilities["high"] = se, point - z * se, point + z * se
        shares = self._shares(self.individual_draws_)
        alpha = (1 - self.confidence) / 2
        out = utilities.rename(columns={"estimate": "utility"})
        point_shares = shares.mean(axis=0) if self.method == "hb" else self._shares(self.individual_[None])[0]
        out["share"] = 100 * point_shares
        out["share_low"] = 100 * np.quantile(shares, alpha, axis=0)
        out["share_high"] = 100 * np.quantile(shares, 1 - alpha, axis=0)
        out.index.name = "item"
        return out.join(self._counts).sort_values("utility", ascending=False)

    def _shares(self, draws: np.ndarray) -> np.ndarray:
        """Preference share of each item among all items, averaged over respondents: (D, R, K) -> (D, items)."""
        u = self._utilities(draws)
        u = u - u.max(axis=-1, keepdims=True)
        p = np.exp(u)
        return np.asarray((p / p.sum(axis=-1, keepdims=True)).mean(axis=1))

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        if not self.identified_:
            return self._not_identified()
        return {"fit": self.fit_stats_, "items": self.summary.reset_index().to_dict(orient="records")}
