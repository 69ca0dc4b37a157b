"""Conjoint: balanced near-orthogonal designs; MNL and HB recover known part-worths and WTP; simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.surveys.simulate import simulate_conjoint

from heedful.errors import InputError
from heedful.surveys.conjoint import Conjoint, cbc_design, d_error

ATTRS = {"brand": ["A", "B", "C"], "speed": ["fast", "mid", "slow"], "colour": ["blue", "red"]}
TRUE = {"brand": np.array([0.8, 0.0, -0.8]), "speed": np.array([1.0, 0.0, -1.0]), "colour": np.array([-0.3, 0.3])}
PRICE_COEF = -0.05  # utility per currency unit: WTP(fast vs slow) = 2.0 / 0.05 = 40


def test_design_is_level_balanced_with_minimal_overlap() -> None:
    attrs = {"a": [1, 2, 3], "b": ["x", "y", "z", "w"], "c": ["p", "q"]}
    design = cbc_design(attrs, n_alternatives=3, n_tasks=12, n_versions=5, seed=2)
    assert len(design) == 5 * 12 * 3
    for _, version in design.groupby("version"):
        for name in attrs:
            counts = version[name].value_counts()
            assert counts.max() - counts.min() <= 1, (name, counts.to_dict())
        for _, task in version.groupby("task"):
            assert task["a"].nunique() == 3 and task["b"].nunique() == 3  # no overlap where levels allow
            assert len(task[list(attrs)].drop_duplicates()) == 3


def test_design_is_more_efficient_than_random_profiles() -> None:
    attrs = {"a": [1, 2, 3], "b": ["x", "y", "z"], "c": ["p", "q"], "d": ["m", "n", "o", "r"]}
    design = cbc_design(attrs, n_alternatives=3, n_tasks=12, n_versions=10, seed=3)
    rng = np.random.default_rng(0)
    random_design = design.copy()
    for name, levels in attrs.items():
        random_design[name] = rng.choice(np.array(levels, dtype=object), size=len(design))
    assert d_error(design, attrs) < d_error(random_design, attrs)


def _data(n: int, spread: float, seed: int) -> pd.DataFrame:
    return simulate_conjoint(ATTRS, TRUE, [10, 20, 30, 40], PRICE_COEF, n, 12, 3, spread, seed)


def test_mnl_recovers_part_worths_and_willingness_to_pay() -> None:
    model = Conjoint(method="mnl", price_col="price").fit(_data(400, 0.0, 1))
    table = model.summary.set_index(["attribute", "level"])
    assert table.loc[("speed", "fast"), "utility"] == pytest.approx(1.0, abs=0.15)
    assert table.loc[("brand", "C"), "utility"] == pytest.approx(-0.8, abs=0.15)
    assert table.loc[("price", "per unit"), "utility"] == pytest.approx(PRICE_COEF, abs=0.01)
    # WTP of slow relative to fast (the reference level, alphabetically first)
    wtp = table.loc[("speed", "slow")]
    assert wtp["wtp"] == pytest.approx(-40, rel=0.2)
    assert wtp["wtp_low"] < wtp["wtp"] < wtp["wtp_high"]
    importance = model.importance_
    assert importance["importance"].sum() == pytest.approx(100)
    assert importance.index[0] in {"speed", "price"} and importance.index[-1] == "colour"


def test_hb_recovers_relative_part_worths_and_wtp() -> None:
    model = Conjoint(method="hb", price_col="price", n_iter=1500, burn_in=750, seed=2).fit(_data(150, 0.4, 5))
    table = model.summary.set_index(["attribute", "level"])
    estimate = np.array(
        [table.loc[("brand", lv), "utility"] for lv in ATTRS["brand"]]
        + [table.loc[("speed", lv), "utility"] for lv in ATTRS["speed"]]
    )
    truth = np.concatenate([TRUE["brand"], TRUE["speed"]])
    assert np.corrcoef(estimate, truth)[0, 1] > 0.98
    assert table.loc[("speed", "slow"), "wtp"] == pytest.approx(-40, rel=0.3)
    individual = model.individual_utilities_
    assert len(individual) == 150
    assert (individual["speed[fast]"] > individual["speed[slow]"]).mean() > 0.8


def test_simulator_gives_more_share_to_the_better_offer() -> None:
    model = Conjoint(method="mnl", price_col="price").fit(_data(200, 0.0, 7))
    offers = pd.DataFrame(
        [
            {"brand": "A", "speed": "fast", "colour": "red", "price": 25},
            {"brand": "C", "speed": "slow", "colour": "blue", "price": 25},
        ]
    )
    for method in ("logit", "first_choice", "randomized_first_choice"):
        shares = model.simulate(offers, method=method)
        assert shares["share"].sum() == pytest.approx(100)
        assert shares.loc[0, "share"] > shares.loc[1, "share"]
    cheaper = offers.assign(price=[25, 10])
    assert (
        model.simulate(cheaper, method="logit").loc[1, "share"] > model.simulate(offers, method="logit").loc[1, "share"]
    )


def test_simulator_refuses_unknown_levels() -> None:
    model = Conjoint(method="mnl", price_col="price").fit(_data(50, 0.0, 8))
    with pytest.raises(InputError, match="Unknown level"):
        model.simulate(pd.DataFrame([{"brand": "Z", "speed": "fast", "colour": "red", "price": 10}]))
