"""CLV: discounting, horizon and the link between expected purchases and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.value import BetaGeo, GammaGamma, ParetoNBD, clv_table, fit_clv_models

CUSTOMERS = pd.DataFrame(
    {
        "frequency": [0.0, 2.0, 10.0, 10.0],
        "recency": [0.0, 30.0, 38.0, 5.0],
        "T": [38.0, 38.0, 39.0, 39.0],
        "monetary_value": [0.0, 20.0, 40.0, 40.0],
    },
    index=pd.Index(["new", "steady", "loyal", "lapsed"], name="customer_id"),
)
BG = BetaGeo.from_params(r=0.243, alpha=4.414, a=0.793, b=2.426)
GG = GammaGamma.from_params(p=6.25, q=3.74, v=15.44)


def test_undiscounted_clv_is_expected_purchases_times_expected_spend() -> None:
    table = clv_table(BG, GG, CUSTOMERS, horizon_months=12, discount_rate=0.0, time_unit="W")
    np.testing.assert_allclose(table["clv"], table["expected_purchases"] * table["expected_spend"], rtol=1e-10)


def test_discounting_lowers_value_and_longer_horizons_raise_it() -> None:
    base = clv_table(BG, GG, CUSTOMERS, horizon_months=12, discount_rate=0.0)["clv"]
    discounted = clv_table(BG, GG, CUSTOMERS, horizon_months=12, discount_rate=0.02)["clv"]
    longer = clv_table(BG, GG, CUSTOMERS, horizon_months=24, discount_rate=0.02)["clv"]
    assert (discounted < base).all()
    assert (longer.reindex(discounted.index) > discounted).all()


def test_recent_frequent_buyers_are_worth_more_than_lapsed_ones() -> None:
    table = clv_table(ParetoNBD.from_params(r=0.553, alpha=10.578, s=0.606, beta=11.669), GG, CUSTOMERS)
    assert table.index[0] == "loyal"
    assert table.loc["loyal", "clv"] > table.loc["lapsed", "clv"]
    assert table.loc["loyal", "p_alive"] > table.loc["lapsed", "p_alive"]


def test_model_clv_method_agrees_with_the_table() -> None:
    table = clv_table(BG, GG, CUSTOMERS, horizon_months=6, discount_rate=0.01, time_unit="W")
    spend = GG.expected_spend(CUSTOMERS)
    direct = BG.expected_clv(spend, CUSTOMERS, horizon_months=6, discount_rate=0.01, time_unit="W")
    assert direct.to_dict() == pytest.approx(table["clv"].to_dict())


def test_time_unit_changes_the_scale_not_the_value() -> None:
    """The same customers in days with alpha scaled by 7 give the same CLV as in weeks."""
    days = CUSTOMERS.assign(recency=CUSTOMERS["recency"] * 7, T=CUSTOMERS["T"] * 7)
    bg_days = BetaGeo.from_params(r=0.243, alpha=4.414 * 7, a=0.793, b=2.426)
    weeks = clv_table(BG, GG, CUSTOMERS, time_unit="W")["clv"]
    in_days = clv_table(bg_days, GG, days, time_unit="D")["clv"]
    assert in_days.to_dict() == pytest.approx(weeks.to_dict(), rel=1e-9)


def test_clv_for_the_fitted_customers_reuses_the_fit_grouping_and_gives_the_same_table() -> None:
    from heedful.value.simulate import simulate_bgnbd

    summary = simulate_bgnbd(3000, r=0.5, alpha=6.0, a=0.8, b=2.5, T=np.linspace(20, 52, 3000), seed=4)
    summary["monetary_value"] = np.where(summary["frequency"] > 0, 10 + summary.index.to_numpy() % 17, 0.0)
    fitted = BetaGeo().fit(summary)
    assert fitted.histories_ is not None
    fresh = BetaGeo.from_params(**fitted.params_)  # no fit grouping: groups its customers itself
    reused = clv_table(fitted, GG, summary)
    pd.testing.assert_frame_equal(reused, clv_table(fresh, GG, summary), check_exact=True)
    # other customers (one history changed) are grouped anew, not mapped onto the fit's groups
    changed = summary.copy()
    changed.iloc[7, changed.columns.get_loc("frequency")] += 1
    pd.testing.assert_frame_equal(clv_table(fitted, GG, changed), clv_table(fresh, GG, changed), check_exact=True)
    direct = fitted.expected_clv(GG.expected_spend(summary), summary)
    assert direct.to_dict() == pytest.approx(reused["clv"].to_dict())


def test_the_table_is_ordered_like_sort_values_ties_and_missing_values_included() -> None:
    from heedful.value._compute import descending_order

    values = np.array([3.0, 1.0, np.nan, 3.0, 2.0, 1.0, np.nan, 3.0, 0.0, 2.0] * 50)
    frame = pd.DataFrame({"v": values})
    want = frame.sort_values("v", ascending=False).index.to_numpy()
    np.testing.assert_array_equal(descending_order(values), want)


def test_table_with_integer_summary_columns_keeps_their_dtype() -> None:
    """The all-float fast path builds one block; other column types take the general path, same values."""
    ints = CUSTOMERS.assign(frequency=CUSTOMERS["frequency"].astype(int))
    table = clv_table(BG, GG, ints)
    assert table["frequency"].dtype == np.int64
    floats = clv_table(BG, GG, CUSTOMERS)
    pd.testing.assert_frame_equal(table.astype({"frequency": float}), floats, check_exact=True)


def test_side_by_side_fits_equal_fits_one_after_the_other() -> None:
    from heedful.value.simulate import simulate_transactions
    from heedful.value.summary import transaction_summary

    summary = transaction_summary(simulate_transactions(3000, seed=5), time_unit="W")
    together, spend = fit_clv_models(summary, BetaGeo(), GammaGamma())
    alone, spend_alone = BetaGeo().fit(summary), GammaGamma().fit(summary)
    assert spend is not None and together.converged_ and spend.converged_
    pd.testing.assert_series_equal(together.params_, alone.params_)
    pd.testing.assert_series_equal(spend.params_, spend_alone.params_)
    assert fit_clv_models(summary, BetaGeo())[1] is None


def test_side_by_side_fits_raise_the_spend_models_error() -> None:
    no_repeat_value = CUSTOMERS.assign(monetary_value=0.0)
    with pytest.raises(InputError, match="repeat purchases of positive value"):
        fit_clv_models(no_repeat_value, BetaGeo(), GammaGamma())
