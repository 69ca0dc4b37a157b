"""Overview page: customers, revenue, active customers, NPS/CSAT and top themes, with monthly trends."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from heedful.services import dashboard
from heedful.services.listen import label_of
from heedful.services.listen import overview as listen_overview
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import csv_response, figure, render

router = APIRouter(tags=["pages"], include_in_schema=False)
#: what the overview shows of each top theme (the Listening page's figures), on the page and in its CSV
TOP_THEME_COLUMNS = ["theme", "mentions", "negative_share", "negative_low", "negative_high"]
log = logging.getLogger("heedful.web")


def _survey_trend(scores: pd.DataFrame) -> pd.DataFrame:
    """NPS and CSAT overall and per month, computed by the surveys package's estimators."""
    from heedful.surveys.nps import CustomerSatisfaction, NetPromoterScore

    rows: list[dict[str, Any]] = []
    for kind, estimator in (("nps", NetPromoterScore), ("csat", CustomerSatisfaction)):
        sub = scores[scores["kind"] == kind]
        for month, group in [("all", sub), *sub.groupby("month")]:
            if group.empty:
                continue
            try:
                params = estimator().fit(group["value"].to_numpy()).params_
            except Exception:  # answers outside the scale: shown as missing rather than failing the page
                continue
            value = float(params["nps"]) if kind == "nps" else float(params["top_box"]) * 100
            rows.append({"kind": kind, "month": month, "value": value, "n": int(params["n"])})
    return pd.DataFrame(rows, columns=["kind", "month", "value", "n"])


def overview_data(store: Store) -> dict[str, Any]:
    """Everything the overview shows, computed in one go (and cached until the data changes)."""
    figures = dashboard.overview_figures(store)
    # the Listening page's figures (`services.listen.overview`), so a theme's mentions and negative share
    # read the same on both pages
    listening = listen_overview(store)
    top = listening["themes"].head(8)
    if top.empty:
        top = pd.DataFrame(columns=TOP_THEME_COLUMNS)
    scores = dashboard.survey_scores(store)
    survey = _survey_trend(scores) if not scores.empty else pd.DataFrame(columns=["kind", "month", "value", "n"])
    return {
        "figures": figures,
        "monthly": figures["monthly"],
        "themes": top,
        "theme_trend": dashboard.theme_trend(listening["trends"], list(top["theme"].head(5))),
        "survey": survey,
    }


def _chart_data(request: Request, store: Store) -> dict[str, Any]:
    cache: AggregateCache = request.app.state.aggregates
    data: dict[str, Any] = cache.get(store, "overview", overview_data)
    return data


def case_counts(store: Store) -> dict[str, Any] | None:
    """Open and overdue cases for the overview card, and open / overdue / resolved this month per department
    (`departments`); None where there are none to speak of (an empty store, or a store whose cases table
    has not been created yet)."""
    try:
        if "cases" not in store.list_tables() or store.count("cases") == 0:
            return None
        from heedful.services.cases import case_figures

        figures = case_figures(store)
    except Exception:  # the cases area is not installed or not migrated here: the card is left out
        log.debug("No case figures for the overview", exc_info=True)
        return None
    if figures.empty:
        return None
    counts: dict[str, Any] = {
        key: int(pd.to_numeric(figures[key], errors="coerce").fillna(0).sum()) if key in figures else 0
        for key in ("open", "overdue")
    }
    keep = [c for c in ("department", "department_name", "open", "overdue", "resolved_this_month") if c in figures]
    rows = figures[keep].fillna(0)
    busy = rows[[c for c in ("open", "overdue", "resolved_this_month") if c in rows]].sum(axis=1) > 0
    counts["departments"] = rows[busy].to_dict(orient="records")
    return counts


@router.get("/")
def overview(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    data = _chart_data(request, store)
    monthly: pd.DataFrame = data["monthly"]
    survey: pd.DataFrame = data["survey"]
    tt: pd.DataFrame = data["theme_trend"]
    months = sorted({*monthly.get("month", []), *survey.get("month", []), *tt.get("month", [])} - {"all"})
    label = {  # the partial month says so, on a second line under its name
        m: text.replace(" (", "<br>(")
        for m, text in dashboard.month_labels(months, data["figures"]["data_end"]).items()
    }
    partial_months = dashboard.partial_months(months, data["figures"]["data_end"])
    # month axes list the months in calendar order, whichever trace names a month first
    month_axis = {"xaxis": {"categoryorder": "array", "categoryarray": [label[m] for m in months], "automargin": True}}
    charts: list[dict[str, str]] = []
    if not monthly.empty:
        partial = list(monthly["partial"])
        charts.append(
            {
                "name": "revenue",
                "title": "Revenue per month",
                "figure": figure(
                    [
                        {
                            "type": "bar",
                            "x": [label[m] for m in monthly["month"]],
                            "y": list(monthly["revenue"]),
                            "name": "revenue",
                            "marker": {"color": ["#b9cde6" if p else "#2563a8" for p in partial]},
                        }
                    ],
                    {"yaxis": {"title": {"text": "revenue"}}, **month_axis},
                ),
            }
        )
        charts.append(
            {
                "name": "active_customers",
                "title": "Customers ordering per month",
                "figure": figure(
                    [
                        {
                            "type": "scatter",
                            "mode": "lines+markers",
                            "x": [label[m] for m in monthly["month"]],
                            "y": list(monthly["active_customers"]),
                            "line": {"color": "#0f766e"},
                            "marker": {"symbol": ["circle-open" if p else "circle" for p in partial], "size": 8},
                        }
                    ],
                    {"yaxis": {"title": {"text": "customers"}}, **month_axis},
                ),
            }
        )
    headline_scores = (
        {row.kind: row for row in survey[survey["month"] == "all"].itertuples()} if not survey.empty else {}
    )
    trend = survey[survey["month"] != "all"]
    if not trend.empty:
        charts.append(
            {
                "name": "survey",
                "title": "NPS and CSAT (% satisfied) per month",
                "figure": figure(
                    [
                        {
                            "type": "scatter",
                            "mode": "lines+markers",
                            "name": kind.upper(),
                            "x": [label[m] for m in g["month"]],
                            "y": list(g["value"]),
                        }
                        for kind, g in trend.groupby("kind")
                    ],
                    month_axis,
                ),
            }
        )
    themes: pd.DataFrame = data["themes"]
    if not themes.empty:
        charts.append(
            {
                "name": "themes",
                "title": "Top themes (mentions; darker = more negative)",
                "figure": figure(
                    [
                        {
                            "type": "bar",
                            "orientation": "h",
                            "y": [label_of(t) for t in themes["theme"]][::-1],
                            "x": list(themes["mentions"])[::-1],
                            "marker": {
                                "color": list(themes["negative_share"])[::-1],
                                "colorscale": "Reds",
                                "cmin": 0,
                                "cmax": 1,
                            },
                        }
                    ],
                    {"margin": {"l": 140, "r": 20, "t": 30, "b": 40}, "yaxis": {"automargin": True}},
                ),
            }
        )
        charts.append(
            {
                "name": "theme_trend",
                "title": "Top themes per month (mentions; open marker: partial month)",
                "figure": figure(
                    [
                        {
                            "type": "scatter",
                            "mode": "lines+markers",
                            "name": label_of(t),
                            "x": [label[m] for m in g["month"]],
                            "y": list(g["mentions"]),
                            "marker": {
                                "symbol": ["circle-open" if m in partial_months else "circle" for m in g["month"]],
                                "size": 7,
                            },
                        }
                        for t, g in tt.groupby("theme", sort=False)
                    ],
                    {
                        "yaxis": {"title": {"text": "mentions"}},
                        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
                        "margin": {"l": 50, "r": 20, "t": 70, "b": 50},
                        "height": 440,
                        **month_axis,
                    },
                ),
            }
        )
    return render(
        request,
        "overview.html",
        {
            "figures": data["figures"],
            "charts": charts,
            "scores": headline_scores,
            "themes": themes,
            "cases": case_counts(store),
        },
    )


@router.get("/overview/chart/{name}.csv")
def overview_chart_csv(request: Request, store: StoreDep, user: ViewerUser, name: str) -> Response:
    data = _chart_data(request, store)
    frames = {
        "revenue": data["monthly"][["month", "revenue", "orders", "partial"]]
        if not data["monthly"].empty
        else data["monthly"],
        "active_customers": data["monthly"][["month", "active_customers", "partial"]]
        if not data["monthly"].empty
        else data["monthly"],
        "survey": data["survey"],
        "themes": data["themes"][TOP_THEME_COLUMNS],
        "theme_trend": data["theme_trend"],
    }
    if name not in frames:
        raise HTTPException(404, f"No chart {name!r} on the overview.")
    return csv_response(frames[name], f"overview-{name}.csv")
