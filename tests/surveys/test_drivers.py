"""Key-driver analysis ranks drivers by how much they move the outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.surveys.drivers import KeyDrivers


def _ratings(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    delivery = common + rng.normal(size=n)
    support = common + rng.normal(size=n)
    packaging = common + rng.normal(size=n)  # correlated with the others but without own effect
    nps = 2.0 * delivery + 0.8 * support + 0.0 * packaging + rng.normal(scale=1.5, size=n)
    return pd.DataFrame({"nps": nps, "delivery": delivery, "support": support, "packaging": packaging})


def test_strongest_driver_comes_first_and_weights_sum_to_100() -> None:
    model = KeyDrivers(n_bootstrap=100).fit(_ratings(600, 1), outcome="nps")
    table = model.summary
    assert list(table.index) == ["delivery", "support", "packaging"]
    assert table["relative_weight"].sum() == pytest.approx(100.0)
    assert 0 < model.r2_ < 1
    # the driver with no effect of its own gets a near-zero coefficient, the strongest a clear one
    assert abs(table.loc["packaging", "beta"]) < 0.1
    assert table.loc["delivery", "beta_low"] > 0.3
    assert table.loc["delivery", "relative_weight_low"] > table.loc["packaging", "relative_weight_high"]


def test_too_few_answers_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="at least"):
        KeyDrivers().fit(_ratings(4, 2), outcome="nps")
