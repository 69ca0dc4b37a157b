"""The Plotly figures build from fitted models and evaluation tables."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from heedful.value import BetaGeo, calibration_vs_holdout
from heedful.value.plots import calibration_holdout_plot, frequency_recency_heatmap, p_alive_matrix, tracking_plot


def test_figures_from_a_fitted_model(cdnow_summary: pd.DataFrame) -> None:
    model = BetaGeo().fit(cdnow_summary)
    matrix = p_alive_matrix(model, max_frequency=20)
    assert isinstance(matrix, go.Figure)
    z = matrix.data[0].z
    assert z[0][0] == 1.0  # no repeat purchase -> alive under BG/NBD
    heat = frequency_recency_heatmap(model, t=10)
    assert heat.data[0].type == "heatmap"
    summary = cdnow_summary.assign(frequency_holdout=cdnow_summary["frequency"], duration_holdout=39.0)
    by_freq = calibration_vs_holdout(model, summary)
    fig = calibration_holdout_plot(by_freq)
    assert [trace.name for trace in fig.data] == ["actual", "model"]
    tracking = pd.DataFrame({"start": ["1997-01-01", "1997-01-08"], "actual": [1.0, 2.0], "predicted": [1.5, 2.5]})
    tracking["cumulative_actual"] = tracking["actual"].cumsum()
    tracking["cumulative_predicted"] = tracking["predicted"].cumsum()
    assert list(tracking_plot(tracking).data[1].y) == [1.5, 4.0]
