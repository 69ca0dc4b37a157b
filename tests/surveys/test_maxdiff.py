"""MaxDiff: balanced designs, and recovery of known utilities by MNL and hierarchical Bayes."""

from __future__ import annotations

import numpy as np
import pytest
from tests.surveys.simulate import simulate_maxdiff

from heedful.errors import InputError
from heedful.surveys.maxdiff import MaxDiff, maxdiff_design

TRUE = np.array([-1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.25])
TRUE = TRUE - TRUE.mean()


def test_design_shows_every_item_equally_often_and_pairs_near_evenly() -> None:
    design = maxdiff_design(n_items=10, items_per_task=5, n_tasks=12, n_versions=20, seed=1)
    for _, version in design.groupby("version"):
        counts = version["item"].value_counts().reindex(range(10), fill_value=0)
        assert counts.nunique() == 1 and counts.iloc[0] == 6  # 12 tasks * 5 / 10 items
        together = np.zeros((10, 10))
        for _, task in version.groupby("task"):
            items = task["item"].to_numpy()
            assert len(set(items)) == 5
            together[np.ix_(items, items)] += 1
        off = together[~np.eye(10, dtype=bool)]
        assert off.max() - off.min() <= 3
    # versions are randomised, not copies
    first = design[design.version == 1]["item"].to_numpy()
    second = design[design.version == 2]["item"].to_numpy()
    assert not np.array_equal(first, second)


def test_design_rejects_more_items_per_task_than_items() -> None:
    with pytest.raises(InputError):
        maxdiff_design(4, 5, 3)


def test_mnl_recovers_known_utilities() -> None:
    data, _ = simulate_maxdiff(TRUE, n_respondents=200, n_tasks=8, per_task=4, spread=0.0, seed=2)
    model = MaxDiff(method="mnl").fit(data)
    table = model.summary
    estimate = table["utility"].reindex([f"item{i}" for i in range(len(TRUE))]).to_numpy()
    assert np.max(np.abs(estimate - TRUE)) < 0.2
    inside = (table["low"] <= TRUE[[int(i[4:]) for i in table.index]]) & (
        TRUE[[int(i[4:]) for i in table.index]] <= table["high"]
    )
    assert inside.mean() >= 0.75
    assert table["share"].sum() == pytest.approx(100.0)
    assert table.index[0] == "item7" and table.index[-1] == "item0"


def test_hb_recovers_population_order_and_individual_utilities() -> None:
    data, truth = simulate_maxdiff(TRUE, n_respondents=120, n_tasks=10, per_task=4, spread=0.8, seed=3)
    model = MaxDiff(method="hb", n_iter=1500, burn_in=750, seed=1).fit(data)
    table = model.summary
    estimate = table["utility"].reindex([f"item{i}" for i in range(len(TRUE))]).to_numpy()
    assert np.corrcoef(estimate, TRUE)[0, 1] > 0.97
    individual = model.individual_utilities_.reindex(columns=[f"item{i}" for i in range(len(TRUE))])
    order = [int(r[1:]) - 1 for r in individual.index]
    per_person = [np.corrcoef(individual.to_numpy()[k], truth[order[k]])[0, 1] for k in range(len(order))]
    assert np.mean(per_person) > 0.7
    assert model.fit_stats_["acceptance"] > 0.1


def test_task_without_best_answer_is_refused() -> None:
    data, _ = simulate_maxdiff(TRUE, n_respondents=3, n_tasks=2, per_task=4, spread=0.0, seed=4)
    data.loc[data.index[:4], "best"] = 0
    with pytest.raises(InputError, match="best"):
        MaxDiff(method="mnl").fit(data)
