"""Plotly figures of the customer-focus report. Each returns a `go.Figure`, or None when there is nothing to draw."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

STATUS_COLOURS = {
    "met": "#2e7d32",
    "at_risk": "#f9a825",
    "missed": "#c62828",
    "not_enough_data": "#78909c",
    "no_data": "#9e9e9e",
}
POSITIVE = "#2e7d32"
NEGATIVE = "#c62828"
NEUTRAL = "#607d8b"


def _layout(fig: go.Figure, title: str, height: int = 340, **extra: Any) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}},
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        font={"family": "DejaVu Sans, Arial, sans-serif", "size": 12},
        paper_bgcolor="white",
        plot_bgcolor="white",
        **extra,
    )
    fig.update_xaxes(gridcolor="#eceff1")
    fig.update_yaxes(gridcolor="#eceff1")
    return fig


def series_with_interval(
    series: pd.DataFrame, title: str, y_title: str, target: float | None = None
) -> go.Figure | None:
    """A monthly series as a line with its 95% interval band and the target as a dashed line."""
    s = series.dropna(subset=["value"])
    if s.empty:
        return None
    fig = go.Figure()
    fig.add_scatter(x=s["period"], y=s["high"], mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
    fig.add_scatter(
        x=s["period"],
        y=s["low"],
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(38,50,56,0.15)",
        name="95% interval",
    )
    fig.add_scatter(x=s["period"], y=s["value"], mode="lines+markers", name=y_title, line={"color": "#263238"})
    if target is not None:
        fig.add_hline(y=target, line_dash="dash", line_color=NEGATIVE, annotation_text="target")
    fig.update_xaxes(type="category")
    return _layout(fig, title, yaxis_title=y_title, showlegend=False)


def theme_balance(themes: pd.DataFrame, title: str = "What customers talk about") -> go.Figure | None:
    """Positive mentions to the right, negative to the left, one bar per theme."""
    if themes.empty:
        return None
    t = themes.sort_values("mentions").tail(12)
    names = t["label"] if "label" in t else t["theme"]  # the taxonomy's labels where the caller has them
    fig = go.Figure()
    fig.add_bar(y=names, x=-t["negative"], orientation="h", name="negative", marker_color=NEGATIVE)
    fig.add_bar(y=names, x=t["positive"], orientation="h", name="positive", marker_color=POSITIVE)
    return _layout(
        fig,
        title,
        height=max(260, 34 * len(t) + 110),
        barmode="relative",
        xaxis_title="mentions (negative ← | → positive)",
        legend={"orientation": "h", "y": -0.25},
    )


def need_status_chart(rows: pd.DataFrame, title: str = "Needs against target") -> go.Figure | None:
    """Each metric's attainment (value ÷ target, inverted where lower is better), coloured by status."""
    r = rows.dropna(subset=["value", "target"])
    r = r[r["target"] != 0]
    if r.empty:
        return None
    attainment = [
        (row.value / row.target) if row.direction == "higher" else (row.target / row.value if row.value else 2.0)
        for row in r.itertuples()
    ]
    r = r.assign(attainment=[min(a, 2.0) for a in attainment]).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            y=r["label"],
            x=r["attainment"],
            orientation="h",
            marker_color=[STATUS_COLOURS.get(s, NEUTRAL) for s in r["status"]],
            text=r["shown"],
            textposition="auto",
        )
    )
    fig.add_vline(x=1.0, line_dash="dash", line_color="#263238")
    return _layout(
        fig,
        title,
        height=max(260, 30 * len(r) + 110),
        xaxis_title="share of target reached (1 = on target)",
        showlegend=False,
    )


def value_by_segment(segments: pd.DataFrame, title: str = "Customer value by segment") -> go.Figure | None:
    if segments.empty:
        return None
    s = segments.sort_values("value")
    fig = go.Figure(go.Bar(y=s["segment"], x=s["value"], orientation="h", marker_color="#37474f"))
    return _layout(fig, title, height=max(240, 30 * len(s) + 110), xaxis_title="total expected value (CLV)")


def referral_funnel(counts: dict[str, int], title: str = "Referrals this period") -> go.Figure | None:
    if not any(counts.values()):
        return None
    fig = go.Figure(
        go.Funnel(y=list(counts), x=list(counts.values()), marker={"color": ["#546e7a", "#78909c", POSITIVE]})
    )
    return _layout(fig, title, height=280)


def worst_movers(movers: pd.DataFrame, title: str = "Measures that moved the wrong way") -> go.Figure | None:
    """Change in each measure, oriented so that bars to the left mean worse."""
    if movers.empty:
        return None
    m = movers.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            y=m["label"],
            x=m["z"],
            orientation="h",
            marker_color=[NEGATIVE if z < 0 else POSITIVE for z in m["z"]],
            text=m["shown"],
            textposition="auto",
        )
    )
    return _layout(
        fig,
        title,
        height=max(240, 30 * len(m) + 110),
        xaxis_title="change beyond normal month-to-month variation (negative = worse)",
    )


def tradeoff_scores(scores: pd.DataFrame, title: str) -> go.Figure | None:
    if scores.empty:
        return None
    s = scores.sort_values("score")
    fig = go.Figure(
        go.Bar(
            y=s["item"],
            x=s["score"],
            orientation="h",
            marker_color=[NEGATIVE if v < 0 else POSITIVE for v in s["score"]],
        )
    )
    return _layout(
        fig, title, height=max(240, 28 * len(s) + 110), xaxis_title="(times best − times worst) ÷ times shown"
    )
