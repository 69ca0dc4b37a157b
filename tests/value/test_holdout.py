"""Holdout evaluation and tracking curves on CDNOW (39 + 39 weeks)."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.value import (
    BetaGeo,
    GammaGamma,
    evaluate_holdout,
    repeat_transactions_by_day,
    tracking_curve,
    transaction_summary,
)
from heedful.value.summary import EPOCH


def test_holdout_block_compares_predicted_and_actual(cdnow_transactions: pd.DataFrame) -> None:
    summary = transaction_summary(cdnow_transactions, calibration_end="1997-09-30", observation_end="1998-06-30")
    model = BetaGeo().fit(summary)
    repeats, births = repeat_transactions_by_day(cdnow_transactions, observation_end="1998-06-30")
    tracking = tracking_curve(
        model, repeats, births, time_unit_days=7, calibration_end_day=(pd.Timestamp("1997-09-30").date() - EPOCH).days
    )
    block = evaluate_holdout(model, summary, tracking)
    assert block["actual_total"] == summary["frequency_holdout"].sum()
    assert block["duration"] == pytest.approx(39.0)
    # BG/NBD tracks the aggregate within about 15% on CDNOW (FHL 2005, figure 3) and beats a zero forecast
    assert abs(block["predicted_total"] / block["actual_total"] - 1) < 0.15
    assert block["mae"] < summary["frequency_holdout"].abs().mean()
    # the tracking curve counts every repeat transaction in the 78 weeks
    assert tracking["actual"].sum() == repeats["n"].sum()
    calib = tracking[~tracking["holdout"]]
    assert abs(calib["actual"].sum() / calib["predicted"].sum() - 1) < 0.05
    spend = evaluate_holdout(GammaGamma().fit(summary), summary)
    assert spend["n_customers"] > 0 and spend["mae"] > 0
