"""Simulated respondents with known utilities, for recovery tests and benchmarks (clearly simulated)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from heedful.surveys.conjoint import cbc_design
from heedful.surveys.maxdiff import maxdiff_design


def simulate_maxdiff(
    true_utilities: np.ndarray, n_respondents: int, n_tasks: int, per_task: int, spread: float, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Best-worst answers of respondents whose utilities are N(true, spread²); returns (long data, individual truths)."""
    rng = np.random.default_rng(seed)
    n_items = len(true_utilities)
    individual = true_utilities + spread * rng.standard_normal((n_respondents, n_items))
    design = maxdiff_design(n_items, per_task, n_tasks, n_versions=n_respondents, seed=seed)
    rows = []
    for (version, task), group in design.groupby(["version", "task"], sort=False):
        shown = group["item"].to_numpy()
        u = individual[version - 1, shown] + rng.gumbel(size=len(shown))
        best = int(np.argmax(u))
        rest = [i for i in range(len(shown)) if i != best]
        worst_u = -individual[version - 1, shown[rest]] + rng.gumbel(size=len(rest))
        worst = rest[int(np.argmax(worst_u))]
        for j, item in enumerate(shown):
            rows.append((f"r{version}", task, f"item{item}", int(j == best), int(j == worst)))
    return pd.DataFrame(rows, columns=["respondent", "task", "item", "best", "worst"]), individual


def simulate_conjoint(
    attributes: dict[str, list[object]],
    true_partworths: dict[str, np.ndarray],
    price_levels: list[float] | None,
    price_coef: float,
    n_respondents: int,
    n_tasks: int,
    n_alternatives: int,
    spread: float,
    seed: int,
) -> pd.DataFrame:
    """CBC choices of heterogeneous respondents (part-worths N(true, spread²), price coefficient fixed sign)."""
    rng = np.random.default_rng(seed)
    attrs = dict(attributes)
    if price_levels is not None:
        attrs["price"] = list(price_levels)
    n_versions = min(n_respondents, 30)  # respondents share 30 randomised versions, as in a fielded study
    versions = cbc_design(attrs, n_alternatives, n_tasks, n_versions=n_versions, seed=seed)
    design = pd.concat(
        [versions[versions["version"] == r % n_versions + 1].assign(version=r + 1) for r in range(n_respondents)],
        ignore_index=True,
    )
    utility = np.zeros(len(design))
    resp = design["version"].to_numpy() - 1
    for name, levels in attributes.items():
        true = np.asarray(true_partworths[name], float)
        individual = true + spread * rng.standard_normal((n_respondents, len(levels)))
        individual -= individual.mean(axis=1, keepdims=True)
        codes = design[name].map({lv: i for i, lv in enumerate(levels)}).to_numpy()
        utility += individual[resp, codes]
    if price_levels is not None:
        coef = price_coef * np.exp(0.2 * rng.standard_normal(n_respondents))
        utility += coef[resp] * design["price"].to_numpy(float)
    utility += rng.gumbel(size=len(design))
    design["u"] = utility
    design["chosen"] = (design.groupby(["version", "task"])["u"].transform("max") == design["u"]).astype(int)
    design["respondent"] = "r" + design["version"].astype(str)
    return design.drop(columns=["u", "version"])
