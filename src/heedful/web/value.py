"""Value page: RFM segments, CLV distribution, cohort retention, model fit and holdout (from heedful.value)."""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from heedful.store import Store
from heedful.web import queries
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import csv_response, figure, records, render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _value_function(name: str) -> Any:
    """A function of heedful.value, or None while that package does not offer it."""
    try:
        module = importlib.import_module("heedful.value")
    except ImportError:
        return None
    return getattr(module, name, None)


def cohort_table(store: Store) -> pd.DataFrame:
    """Share of each first-order cohort still ordering k periods later, from heedful.value.cohorts."""
    cohorts = _value_function("cohorts")
    if cohorts is None or store.count("orders") == 0:
        return pd.DataFrame()
    result = cohorts(store.table("orders"))
    frame = result.to_pandas() if hasattr(result, "to_pandas") else result
    if hasattr(frame, "retention_"):
        frame = frame.retention_
    return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame()


def _cohort_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """Long (cohort, period, retention) or wide (cohort × period) -> wide, for the heat-map."""
    if frame.empty:
        return frame
    cols = set(frame.columns)
    if {"cohort", "period", "retention"} <= cols:
        wide = frame.pivot_table(index="cohort", columns="period", values="retention")
        wide.index = wide.index.astype(str)
        return wide
    return frame


def _data(request: Request, store: Store) -> dict[str, pd.DataFrame]:
    cache: queries.AggregateCache = request.app.state.aggregates
    return {
        "segments": cache.get(store, "value.segments", queries.segment_summary),
        "clv": cache.get(store, "value.clv", queries.clv_histogram),
        "models": cache.get(store, "value.models", queries.value_models),
        "cohorts": cache.get(store, "value.cohorts", lambda s: _cohort_matrix(cohort_table(s))),
    }


@router.get("/value")
def value_page(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    data = _data(request, store)
    charts: list[dict[str, str]] = []
    seg = data["segments"]
    if not seg.empty:
        charts.append(
            {
                "name": "segments",
                "title": "Customers per RFM segment",
                "figure": figure(
                    [
                        {
                            "type": "bar",
                            "x": list(seg["segment"]),
                            "y": list(seg["customers"]),
                            "marker": {"color": "#2563a8"},
                        }
                    ],
                    {"xaxis": {"automargin": True}},
                ),
            }
        )
    clv = data["clv"]
    if not clv.empty:
        charts.append(
            {
                "name": "clv",
                "title": "Customer lifetime value (customers per CLV band; top 1% in the last band)",
                "figure": figure(
                    [
                        {
                            "type": "bar",
                            "x": [round(v, 2) for v in clv["clv_from"]],
                            "y": list(clv["customers"]),
                            "marker": {"color": "#0f766e"},
                        }
                    ],
                    {"xaxis": {"title": {"text": "CLV from"}}, "bargap": 0.05},
                ),
            }
        )
    cohorts = data["cohorts"]
    if not cohorts.empty:
        charts.append(
            {
                "name": "cohorts",
                "title": "Cohort retention (share of each first-order cohort ordering again)",
                "figure": figure(
                    [
                        {
                            "type": "heatmap",
                            "z": cohorts.to_numpy().tolist(),
                            "x": [str(c) for c in cohorts.columns],
                            "y": [str(i) for i in cohorts.index],
                            "colorscale": "Blues",
                            "zmin": 0,
                        }
                    ],
                    {
                        "yaxis": {"autorange": "reversed", "type": "category"},
                        "xaxis": {"title": {"text": "periods since first order"}},
                    },
                ),
            }
        )
    return render(
        request,
        "value.html",
        {"charts": charts, "segments": records(seg), "models": records(data["models"])},
    )


@router.get("/value/chart/{name}.csv")
def value_chart_csv(request: Request, store: StoreDep, user: ViewerUser, name: str) -> Response:
    data = _data(request, store)
    if name not in data:
        raise HTTPException(404, f"No chart {name!r} on the value page.")
    frame = data[name]
    if name == "cohorts" and not frame.empty:
        frame = frame.reset_index()
    return csv_response(frame, f"value-{name}.csv")
