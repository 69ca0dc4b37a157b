"""Listening page: themes customers raise, how they feel about each, who owns it, what is changing,
and what they say in their own (redacted) words — bad news first. Also `/api/v1/listen/themes`."""

from __future__ import annotations

import json
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from heedful.services import listen as listen_service
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import csv_response, figure, records, render

router = APIRouter()
PAGE: dict[str, Any] = {"include_in_schema": False}
Period = Annotated[str, Query(pattern="^[WMQ]$", description="W, M or Q.")]
TREND_THEMES = 6


def overview_data(request: Request, store: Store, period: str) -> dict[str, Any]:
    cache: AggregateCache = request.app.state.aggregates
    return cache.get(store, f"listen.overview.{period}", lambda s: listen_service.overview(s, period))  # type: ignore[no-any-return]


def _charts(data: dict[str, Any]) -> list[dict[str, str]]:
    themes: pd.DataFrame = data["themes"]
    if themes.empty:
        return []
    top = themes.head(12).iloc[::-1]
    charts = [
        {
            "name": "themes",
            "title": "Mentions per theme, split by how customers feel about it",
            "figure": figure(
                [
                    {
                        "type": "bar",
                        "orientation": "h",
                        "name": name,
                        "y": list(top["label"]),
                        "x": list(counts),
                        "marker": {"color": colour},
                    }
                    for name, counts, colour in (
                        ("negative", top["negative_mentions"], "#b91c1c"),
                        (
                            "neutral (named, no opinion)",
                            top["mentions"] - top["negative_mentions"] - top["positive_mentions"],
                            "#9ca3af",
                        ),
                        ("positive", top["positive_mentions"], "#15803d"),
                    )
                ],
                {
                    "barmode": "stack",
                    "margin": {"l": 200, "r": 20, "t": 30, "b": 40},
                    "legend": {"orientation": "h", "y": -0.15, "traceorder": "normal"},
                    # a label for every bar: at a fixed height Plotly showed every other theme's name
                    "yaxis": {"dtick": 1, "automargin": True},
                    "height": 160 + 26 * len(top),
                },
            ),
        }
    ]
    trends: pd.DataFrame = data["trends"]
    keep = list(themes["theme"].head(TREND_THEMES))
    labels = dict(zip(themes["theme"], themes["label"], strict=True))
    trend = trends[trends["theme"].isin(keep)]
    if trend["period"].nunique() > 1:
        charts.append(
            {
                "name": "trend",
                "title": f"Share of feedback mentioning the top {len(keep)} themes, per period",
                "figure": figure(
                    [
                        {
                            "type": "scatter",
                            "mode": "lines+markers",
                            "name": labels.get(t, t),
                            "x": list(g["period"]),
                            "y": list(g["share"]),
                        }
                        for t, g in trend.groupby("theme", sort=False)
                    ],
                    {"yaxis": {"tickformat": ".0%"}},
                ),
            }
        )
    return charts


def _chart_frame(data: dict[str, Any], name: str) -> pd.DataFrame | None:
    if name == "themes":
        return data["themes"]
    if name == "trend":
        return data["trends"]
    return None


def _with_owner_names(store: Store, themes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Themes with their department and journey stage as the journey configuration names them."""
    from heedful.services.journey import load_config

    config = load_config(store)
    return [
        {
            **t,
            "department": config.department_name(t["department"]) if t.get("department") else None,
            "journey_stage": config.stage_name(t["journey_stage"]) if t.get("journey_stage") else None,
        }
        for t in themes
    ]


@router.get("/listen", **PAGE)
def listen_page(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    period: Period = "M",
    theme: Annotated[str | None, Query(max_length=80)] = None,
    sentiment: Annotated[str | None, Query(pattern="^(positive|negative|neutral|mixed)$")] = None,
) -> Response:
    data = overview_data(request, store, period)
    themes: pd.DataFrame = data["themes"]
    counts = dict(zip(data["sentiment"].get("sentiment", []), data["sentiment"].get("items", []), strict=True))
    items = int(data["items"])
    flagged = themes[themes["emerging"] | themes["worsening"]] if not themes.empty else themes
    labels = dict(zip(themes["theme"], themes["label"], strict=True)) if not themes.empty else {}
    return render(
        request,
        "listen.html",
        {
            "section": "listen",
            "period": period,
            "items": items,
            "shares": {k: (counts.get(k, 0) / items if items else None) for k in ("positive", "negative", "mixed")},
            "themes": _with_owner_names(store, records(themes)),
            "flagged": _with_owner_names(store, records(flagged)),
            "charts": _charts(data),
            "quotes": records(listen_service.quotes(store, theme, sentiment)) if items else [],
            "theme": theme,
            "theme_label": labels.get(theme or "", theme),
            "sentiment": sentiment,
            "latest_label": data.get("latest_label"),
        },
    )


@router.get("/listen/themes.csv", **PAGE)
def themes_csv(request: Request, store: StoreDep, user: ViewerUser, period: Period = "M") -> Response:
    return csv_response(overview_data(request, store, period)["themes"], "themes.csv")


@router.get("/listen/chart/{name}.csv", **PAGE)
def chart_csv(request: Request, name: str, store: StoreDep, user: ViewerUser, period: Period = "M") -> Response:
    frame = _chart_frame(overview_data(request, store, period), name)
    if frame is None:
        return Response(status_code=404)
    return csv_response(frame, f"{name}.csv")


@router.get("/api/v1/listen/themes", tags=["listen"])
def themes_api(request: Request, store: StoreDep, user: ViewerUser, period: Period = "M") -> dict[str, Any]:
    """Every theme mentioned in classified feedback: mentions, share of feedback, negative share with its
    95% Wilson interval, owner (department, journey stage), and the emerging / worsening flags of the
    latest period against the three before (Benjamini-Hochberg q-values)."""
    data = overview_data(request, store, period)
    themes: pd.DataFrame = data["themes"]
    return {
        "period": period,
        "items": int(data["items"]),
        "themes": json.loads(themes.to_json(orient="records")) if not themes.empty else [],
    }
