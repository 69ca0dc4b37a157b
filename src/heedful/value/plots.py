"""Plotly figures for the value models: tracking curve, P(alive) matrix, frequency/recency heat-map,
calibration vs holdout. Each returns a `go.Figure` (export with `fig.write_html` / `fig.write_image`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from heedful.value.btyd import TransactionModel


def tracking_plot(tracking: pd.DataFrame, cumulative: bool = True) -> go.Figure:
    """Actual vs model-expected repeat transactions over time (from `holdout.tracking_curve`)."""
    suffix = "cumulative_" if cumulative else ""
    actual = tracking[f"{suffix}actual"] if cumulative else tracking["actual"]
    predicted = tracking[f"{suffix}predicted"] if cumulative else tracking["predicted"]
    fig = go.Figure()
    fig.add_scatter(x=tracking["start"], y=actual, name="actual", mode="lines")
    fig.add_scatter(x=tracking["start"], y=predicted, name="model", mode="lines", line={"dash": "dash"})
    if "holdout" in tracking.columns and tracking["holdout"].any():
        fig.add_vline(x=tracking.loc[tracking["holdout"].idxmax(), "start"], line_dash="dot", line_color="grey")
    title = "Cumulative repeat transactions" if cumulative else "Repeat transactions per period"
    fig.update_layout(title=title, xaxis_title="period", yaxis_title="repeat transactions")
    return fig


def _grid(
    model: TransactionModel, max_frequency: int | None, max_T: float | None
) -> tuple[np.ndarray, np.ndarray, float]:
    summary = getattr(model, "_summary", None)
    top_x = (
        max_frequency if max_frequency is not None else int(summary["frequency"].max()) if summary is not None else 20
    )
    T = max_T if max_T is not None else float(summary["T"].max()) if summary is not None else 52.0
    return np.arange(0, top_x + 1, dtype=np.float64), np.linspace(0, T, 40), T


def p_alive_matrix(model: TransactionModel, max_frequency: int | None = None, max_T: float | None = None) -> go.Figure:
    """P(alive) of a customer of age T by frequency (x axis) and recency (y axis)."""
    xs, recencies, T = _grid(model, max_frequency, max_T)
    x, t_x = np.meshgrid(xs, recencies)
    z = model._p_alive(x.ravel(), t_x.ravel(), np.full(x.size, T)).reshape(x.shape)
    z = np.where((x == 0) & (t_x > 0), np.nan, z)  # recency is 0 when there is no repeat purchase
    fig = go.Figure(
        go.Heatmap(x=xs, y=recencies, z=z, colorscale="Viridis", zmin=0, zmax=1, colorbar={"title": "P(alive)"})
    )
    fig.update_layout(
        title=f"Probability alive, customers of age {T:.0f}", xaxis_title="frequency", yaxis_title="recency"
    )
    return fig


def frequency_recency_heatmap(
    model: TransactionModel, t: float = 1.0, max_frequency: int | None = None, max_T: float | None = None
) -> go.Figure:
    """Expected purchases in the next `t` time units by frequency and recency."""
    xs, recencies, T = _grid(model, max_frequency, max_T)
    x, t_x = np.meshgrid(xs, recencies)
    z = model._conditional_purchases(t, x.ravel(), t_x.ravel(), np.full(x.size, T)).reshape(x.shape)
    z = np.where((x == 0) & (t_x > 0), np.nan, z)
    fig = go.Figure(go.Heatmap(x=xs, y=recencies, z=z, colorscale="Viridis", colorbar={"title": "purchases"}))
    fig.update_layout(
        title=f"Expected purchases in the next {t:g} time units (age {T:.0f})",
        xaxis_title="frequency",
        yaxis_title="recency",
    )
    return fig


def calibration_holdout_plot(by_frequency: pd.DataFrame) -> go.Figure:
    """Mean holdout purchases, actual vs predicted, by calibration frequency (`holdout.calibration_vs_holdout`)."""
    fig = go.Figure()
    fig.add_scatter(x=by_frequency["frequency"], y=by_frequency["actual"], name="actual", mode="lines+markers")
    fig.add_scatter(
        x=by_frequency["frequency"],
        y=by_frequency["predicted"],
        name="model",
        mode="lines+markers",
        line={"dash": "dash"},
    )
    fig.update_layout(
        title="Holdout purchases by calibration frequency",
        xaxis_title="purchases in calibration period",
        yaxis_title="mean purchases in holdout period",
    )
    return fig
