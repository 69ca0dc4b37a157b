"""Choice-based conjoint: designs, part-worth utilities (MNL / HB), importance, WTP, market simulator.

Design: tasks are built one at a time from random candidates; each candidate gives every attribute
the levels used least so far in this version, without repeating a level inside a task where the
attribute has enough levels (minimal overlap). Of the candidates, the one keeping level counts and
two-way level co-occurrences most even (near-orthogonal) is kept. Every version is randomised.

Model: categorical attributes are effects-coded (part-worths sum to zero per attribute); the price
column, when named, enters linearly (one coefficient, estimated on standardised price and reported
per currency unit), which gives willingness to pay for a level as its utility gain over the
attribute's first level divided by the price disutility of one unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import InputError
from heedful.surveys._base import z_value
from heedful.surveys.choice import ChoiceData, ChoiceEstimator, draw_summary, share_of_preference
from heedful.surveys.maxdiff import effects_matrix


def cbc_design(
    attributes: dict[str, list[Any]],
    n_alternatives: int = 3,
    n_tasks: int = 12,
    n_versions: int = 1,
    seed: int = 0,
    n_candidates: int = 30,
) -> pd.DataFrame:
    """A choice-based conjoint design: one row per (version, task, alternative) with a level per attribute."""
    if not attributes or any(len(levels) < 2 for levels in attributes.values()):
        raise InputError("Every conjoint attribute needs at least two levels.")
    if n_alternatives < 2:
        raise InputError("A choice task needs at least two alternatives.")
    rng = np.random.default_rng(seed)
    names = list(attributes)
    sizes = [len(attributes[a]) for a in names]
    pairs = [(a, b) for a in range(len(names)) for b in range(a + 1, len(names))]
    rows: list[dict[str, Any]] = []
    for version in range(1, n_versions + 1):
        level_counts = [np.zeros(s) for s in sizes]
        pair_counts = {p: np.zeros((sizes[p[0]], sizes[p[1]])) for p in pairs}
        for task in range(1, n_tasks + 1):
            # (candidates, alternatives, attributes): least-used levels first, no overlap where possible
            cand = np.stack(
                [_least_used_levels(level_counts[a], n_alternatives, n_candidates, rng) for a in range(len(names))],
                axis=2,
            )
            distinct = np.array([len({tuple(r) for r in c}) == n_alternatives for c in cand])
            if not distinct.any():
                raise InputError(
                    "Attributes have too few levels to make distinct alternatives; add levels or alternatives."
                )
            # cost of adding the task: level counts (balance) weigh most, then two-way co-occurrence
            cost = np.zeros(n_candidates)
            for a in range(len(names)):
                cost += 100 * level_counts[a][cand[:, :, a]].sum(axis=1)
            for a, b in pairs:
                cost += pair_counts[(a, b)][cand[:, :, a], cand[:, :, b]].sum(axis=1)
            cost[~distinct] = np.inf
            best = cand[int(np.argmin(cost))]
            for a in range(len(names)):
                np.add.at(level_counts[a], best[:, a], 1)
            for a, b in pairs:
                np.add.at(pair_counts[(a, b)], (best[:, a], best[:, b]), 1)
            for j, profile in enumerate(best, start=1):
                rows.append(
                    {"version": version, "task": task, "alternative": j}
                    | {names[a]: attributes[names[a]][profile[a]] for a in range(len(names))}
                )
    return pd.DataFrame(rows)


def _least_used_levels(counts: np.ndarray, n: int, n_candidates: int, rng: np.random.Generator) -> np.ndarray:
    """(candidates, n) levels of one attribute: least used first, no repeat until all are used, random ties."""
    n_levels = len(counts)
    picks: list[np.ndarray] = []
    local = np.broadcast_to(counts, (n_candidates, n_levels)).copy()
    while (taken := sum(p.shape[1] for p in picks)) < n:
        order: np.ndarray = np.argsort(local + rng.random((n_candidates, n_levels)), axis=1)
        take = order[:, : min(n_levels, n - taken)]
        picks.append(take)
        np.put_along_axis(local, take, np.take_along_axis(local, take, axis=1) + 1, axis=1)
    chosen = np.concatenate(picks, axis=1)
    return np.asarray(rng.permuted(chosen, axis=1))


def d_error(design: pd.DataFrame, attributes: dict[str, list[Any]]) -> float:
    """D-error of a design under zero utilities (lower is better): det(information)^(-1/K)."""
    blocks = []
    for name, levels in attributes.items():
        codes = design[name].map({lv: i for i, lv in enumerate(levels)}).to_numpy()
        blocks.append(effects_matrix(len(levels))[codes])
    x = np.hstack(blocks)
    info = np.zeros((x.shape[1], x.shape[1]))
    for _, idx in design.groupby(["version", "task"]).indices.items():
        xt = x[idx]
        xt = xt - xt.mean(axis=0)
        info += xt.T @ xt / len(idx)
    sign, logdet = np.linalg.slogdet(info)
    return float(np.exp(-logdet / x.shape[1])) if sign > 0 else float("inf")


@dataclass(frozen=True)
class _Attribute:
    name: str
    levels: list[str]
    start: int
    code: np.ndarray  # (levels, params)


class Conjoint(ChoiceEstimator):
    """Choice-based conjoint model (MNL aggregate or hierarchical Bayes individual part-worths).

    `fit(frame, price_col=...)` with long-format rows (respondent, task, alternative, one column per
    attribute, chosen 0/1) -> self. Outputs: `summary` (part-worth per level with interval and WTP),
    `importance_`, `individual_utilities_`, `simulate(profiles)` (market shares with intervals).
    """

    def __init__(
        self,
        method: str = "hb",
        price_col: str | None = None,
        n_iter: int = 4000,
        burn_in: int = 2000,
        confidence: float = 0.95,
        seed: int = 0,
    ) -> None:
        self.method = method
        self.price_col = price_col
        self.n_iter = n_iter
        self.burn_in = burn_in
        self.confidence = confidence
        self.seed = seed

    def fit(
        self,
        frame: pd.DataFrame,
        respondent: str = "respondent",
        task: str = "task",
        alternative: str = "alternative",
        chosen: str = "chosen",
        attributes: list[str] | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> Conjoint:
        missing = [c for c in (respondent, task, alternative, chosen) if c not in frame.columns]
        if missing:
            raise InputError(f"Conjoint data needs columns {missing}; found {list(frame.columns)}.")
        attributes = attributes or [c for c in frame.columns if c not in (respondent, task, alternative, chosen)]
        if self.price_col is not None and self.price_col not in attributes:
            raise InputError(f"Price column {self.price_col!r} not found among {attributes}.")
        frame = frame.sort_values([respondent, task, alternative], kind="stable")
        blocks: list[np.ndarray] = []
        self._attributes: list[_Attribute] = []
        names: list[str] = []
        start = 0
        for name in attributes:
            if name == self.price_col:
                continue
            values = frame[name].astype(str)
            levels = _ordered_levels(frame[name])
            code = effects_matrix(len(levels))
            if len(levels) < 2:
                raise InputError(f"Attribute {name!r} has a single level; it cannot explain any choice.")
            blocks.append(code[values.map({lv: i for i, lv in enumerate(levels)}).to_numpy()])
            self._attributes.append(_Attribute(name, levels, start, code))
            names.extend(f"{name}[{lv}]" for lv in levels[:-1])
            start += len(levels) - 1
        self._price_index: int | None = None
        if self.price_col is not None:
            price = pd.to_numeric(frame[self.price_col], errors="coerce")
            if price.isna().any():
                raise InputError(f"Price column {self.price_col!r} must be numeric in every row.")
            self._price_mean, self._price_sd = float(price.mean()), float(price.std(ddof=0) or 1.0)
            self._price_range = (float(price.min()), float(price.max()))
            blocks.append(((price.to_numpy(float) - self._price_mean) / self._price_sd)[:, None])
            self._price_index = start
            names.append(self.price_col)
        design = np.hstack(blocks)
        data = ChoiceData.from_long(
            frame[respondent].to_numpy(),
            frame[task].to_numpy(),
            design,
            pd.to_numeric(frame[chosen], errors="coerce").fillna(0).to_numpy(),
            names,
        )
        self._estimate(data, progress)
        return self

    # ------------------------------------------------------------------ derived quantities
    def _price_per_unit(self, coded: np.ndarray) -> np.ndarray:
        assert self._price_index is not None
        return np.asarray(coded[..., self._price_index] / self._price_sd)

    def _level_utilities(self, coded: np.ndarray) -> list[np.ndarray]:
        return [coded[..., a.start : a.start + a.code.shape[1]] @ a.code.T for a in self._attributes]

    def _importance(self, coded: np.ndarray) -> np.ndarray:
        """Attribute importance (%) per parameter vector (..., K) -> (..., attributes)."""
        ranges = [u.max(axis=-1) - u.min(axis=-1) for u in self._level_utilities(coded)]
        if self._price_index is not None:
            lo, hi = self._price_range
            ranges.append(np.abs(self._price_per_unit(coded)) * (hi - lo))
        stacked = np.stack(ranges, axis=-1)
        return np.asarray(100 * stacked / np.maximum(stacked.sum(axis=-1, keepdims=True), 1e-12))

    @property
    def attribute_names_(self) -> list[str]:
        return [a.name for a in self._attributes] + ([self.price_col] if self.price_col else [])

    @property
    def importance_(self) -> pd.DataFrame:
        """Importance (% of the utility range) per attribute: mean over respondents, with interval."""
        self._check_fitted()
        per_draw = self._importance(self.individual_draws_).mean(axis=1)
        # HB: posterior mean of the average importance; MNL: importance at the estimate
        point = per_draw.mean(axis=0) if self.method == "hb" else self._importance(self.individual_).mean(axis=0)
        alpha = (1 - self.confidence) / 2
        return pd.DataFrame(
            {
                "importance": point,
                "low": np.quantile(per_draw, alpha, axis=0),
                "high": np.quantile(per_draw, 1 - alpha, axis=0),
            },
            index=pd.Index(self.attribute_names_, name="attribute"),
        ).sort_values("importance", ascending=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Part-worth utility per attribute level (zero-centred) with se and interval, and WTP vs the first level."""
        self._check_fitted()
        z = z_value(self.confidence)
        rows: list[pd.DataFrame] = []
        point_levels = self._level_utilities(self.coef_)
        draw_levels = self._level_utilities(self.population_draws_)
        price_draws = self._price_per_unit(self.population_draws_) if self._price_index is not None else None
        for attr, point, draws in zip(self._attributes, point_levels, draw_levels, strict=True):
            table = draw_summary(draws, attr.levels, self.confidence).rename(columns={"estimate": "utility"})
            table["utility"] = point
            if self.method == "mnl":
                block = slice(attr.start, attr.start + attr.code.shape[1])
                se = np.sqrt(np.diag(attr.code @ self.cov_[block, block] @ attr.code.T))
                table["se"], table["low"], table["high"] = se, point - z * se, point + z * se
            if price_draws is not None:
                unit = -self._price_per_unit(self.coef_)
                table["wtp"] = (point - point[0]) / unit
                wtp_draws = (draws - draws[:, :1]) / -price_draws[:, None]
                alpha = (1 - self.confidence) / 2
                table["wtp_low"] = np.quantile(wtp_draws, alpha, axis=0)
                table["wtp_high"] = np.quantile(wtp_draws, 1 - alpha, axis=0)
            table.insert(0, "attribute", attr.name)
            rows.append(table.rename_axis("level").reset_index())
        if self._price_index is not None:
            coef = float(self._price_per_unit(self.coef_))
            price_draws_unit = self._price_per_unit(self.population_draws_)
            price_se = float(np.sqrt(self.cov_[self._price_index, self._price_index]) / self._price_sd)
            alpha = (1 - self.confidence) / 2
            if self.method == "mnl":
                bounds = (coef - z * price_se, coef + z * price_se)
            else:
                q = np.quantile(price_draws_unit, [alpha, 1 - alpha])
                bounds = (float(q[0]), float(q[1]))
            price_row = {"attribute": self.price_col, "level": "per unit", "utility": coef, "se": price_se}
            rows.append(pd.DataFrame([price_row | {"low": bounds[0], "high": bounds[1]}]))
        return pd.concat(rows, ignore_index=True)

    @property
    def individual_utilities_(self) -> pd.DataFrame:
        """Part-worths per respondent (HB; the single aggregate row for MNL), one column per attribute level."""
        self._check_fitted()
        cols: dict[str, np.ndarray] = {}
        for attr, u in zip(self._attributes, self._level_utilities(self.individual_), strict=True):
            for i, lv in enumerate(attr.levels):
                cols[f"{attr.name}[{lv}]"] = u[:, i]
        if self._price_index is not None:
            cols[f"{self.price_col}[per unit]"] = self._price_per_unit(self.individual_)
        index = self.respondents_ if self.method == "hb" else ["aggregate"]
        return pd.DataFrame(cols, index=pd.Index(index, name="respondent"))

    def _profile_design(self, profiles: pd.DataFrame) -> np.ndarray:
        blocks = []
        for attr in self._attributes:
            if attr.name not in profiles.columns:
                raise InputError(f"Product profiles need a value for attribute {attr.name!r}.")
            values = profiles[attr.name].astype(str)
            unknown = sorted(set(values) - set(attr.levels))
            if unknown:
                raise InputError(f"Unknown level(s) {unknown} of {attr.name!r}; known: {attr.levels}.")
            blocks.append(attr.code[values.map({lv: i for i, lv in enumerate(attr.levels)}).to_numpy()])
        if self._price_index is not None:
            assert self.price_col is not None
            if self.price_col not in profiles.columns:
                raise InputError(f"Product profiles need a price in column {self.price_col!r}.")
            price = pd.to_numeric(profiles[self.price_col], errors="coerce").to_numpy(float)
            blocks.append(((price - self._price_mean) / self._price_sd)[:, None])
        return np.hstack(blocks)

    def simulate(
        self, profiles: pd.DataFrame, method: str = "randomized_first_choice", n_draws: int = 200
    ) -> pd.DataFrame:
        """Market simulator: share of each product profile (rows of `profiles`) with an interval.

        "If we offer A against competitor B, what share?" — pass one row per product. Methods:
        logit (share of preference), first_choice, randomized_first_choice (default).
        """
        self._check_fitted()
        x = self._profile_design(profiles)
        rng = np.random.default_rng(self.seed)
        sims = np.stack([share_of_preference(d @ x.T, method, rng, 20) for d in self.individual_draws_[:100]])
        if self.method == "hb":
            point = sims.mean(axis=0)  # posterior mean share: consistent with its interval
        else:
            point = share_of_preference(self.individual_ @ x.T, method, rng, n_draws)
        alpha = (1 - self.confidence) / 2
        out = profiles.reset_index(drop=True).copy()
        out["share"] = 100 * point
        out["share_low"] = 100 * np.quantile(sims, alpha, axis=0)
        out["share_high"] = 100 * np.quantile(sims, 1 - alpha, axis=0)
        return out

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        if not self.identified_:
            return self._not_identified()
        return {
            "fit": self.fit_stats_,
            "utilities": self.summary.to_dict(orient="records"),
            "importance": self.importance_.reset_index().to_dict(orient="records"),
        }


def _ordered_levels(values: pd.Series) -> list[str]:
    """Levels in numeric order where they are numbers, else alphabetical (the first is the WTP reference)."""
    uniques = sorted(set(values.astype(str)))
    numeric = pd.to_numeric(pd.Series(uniques), errors="coerce")
    if numeric.notna().all():
        return [u for _, u in sorted(zip(numeric, uniques, strict=True))]
    return uniques
