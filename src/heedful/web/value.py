"""Value page: RFM segments, CLV distribution, cohort retention, model fit and holdout (from heedful.value)."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from heedful.jsonable import to_jsonable
from heedful.services import accounts, dashboard
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.deps import AnalystUser, StoreDep, ViewerUser, client_ip
from heedful.web.templating import csv_response, figure, money_terms, records, render

router = APIRouter(tags=["pages"], include_in_schema=False)


def cohort_table(store: Store) -> pd.DataFrame:
    """Share of each first-order cohort buying k months later (the last 24 cohorts), cohort × months."""
    from heedful.services import value as value_service  # imported on first use: it loads the value models

    return value_service.cohort_retention(store, last=24)


def _data(request: Request, store: Store) -> dict[str, pd.DataFrame]:
    cache: AggregateCache = request.app.state.aggregates
    return {
        "segments": cache.get(store, "value.segments", dashboard.segment_summary),
        "clv": cache.get(store, "value.clv", dashboard.clv_histogram),
        "models": cache.get(store, "value.models", dashboard.value_models),
        "cohorts": cache.get(store, "value.cohorts", cohort_table),
    }


def _fit_charts(fit: dict[str, Any] | None) -> list[dict[str, str]]:
    """Tracking (actual vs predicted repeat purchases per week) and calibration-vs-holdout charts of the last fit."""
    if not fit or not fit.get("holdout"):
        return []
    charts = []
    tracking = pd.DataFrame(fit["holdout"].get("tracking") or [])
    if not tracking.empty:
        charts.append(
            {
                "name": "tracking",
                "title": f"Repeat purchases per week: actual vs {fit['model']} (holdout from {fit['holdout']['calibration_end']})",
                "figure": figure(
                    [
                        {
                            "type": "scatter",
                            "mode": "lines",
                            "name": "actual",
                            "x": list(tracking["start"]),
                            "y": list(tracking["actual"]),
                        },
                        {
                            "type": "scatter",
                            "mode": "lines",
                            "name": "predicted",
                            "x": list(tracking["start"]),
                            "y": list(tracking["predicted"]),
                            "line": {"dash": "dash"},
                        },
                    ],
                    {
                        "shapes": [
                            {
                                "type": "line",
                                "xref": "x",
                                "yref": "paper",
                                "x0": fit["holdout"]["calibration_end"],
                                "x1": fit["holdout"]["calibration_end"],
                                "y0": 0,
                                "y1": 1,
                                "line": {"color": "#6b7280", "dash": "dot"},
                            }
                        ]
                    },
                ),
            }
        )
    by_freq = pd.DataFrame(fit["holdout"].get("by_calibration_frequency") or [])
    if not by_freq.empty:
        charts.append(
            {
                "name": "holdout",
                "title": "Mean holdout purchases by calibration-period repeat purchases",
                "figure": figure(
                    [
                        {
                            "type": "bar",
                            "name": "actual",
                            "x": list(by_freq["frequency"]),
                            "y": list(by_freq["actual"]),
                        },
                        {
                            "type": "bar",
                            "name": "predicted",
                            "x": list(by_freq["frequency"]),
                            "y": list(by_freq["predicted"]),
                        },
                    ],
                    {
                        "barmode": "group",
                        "xaxis": {"title": {"text": "repeat purchases in calibration (last bar: or more)"}},
                    },
                ),
            }
        )
    return charts


def _fit_rows(fit: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not fit:
        return []
    params, stderr, ci95 = fit.get("params") or {}, fit.get("stderr") or {}, fit.get("ci95") or {}
    rows = []
    for name, estimate in params.items():
        low_high = ci95.get(name) or [None, None]
        rows.append(
            {
                "parameter": name,
                "estimate": estimate,
                "std_error": stderr.get(name),
                "ci95_low": low_high[0],
                "ci95_high": low_high[1],
            }
        )
    return rows


@router.get("/value")
def value_page(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    from heedful.services import value as value_service  # imported on first use: it loads the value models

    data = _data(request, store)
    currency, horizon = money_terms(request)  # render()'s, cached with the page aggregates
    fit: dict[str, Any] | None = getattr(request.app.state, "value_fit", None)
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
                    {
                        "xaxis": {
                            "title": {"text": f"CLV over {horizon} months from ({currency or 'currency not known'})"}
                        },
                        "bargap": 0.05,
                    },
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
                            "colorscale": [[0, "#f0f5fb"], [1, "#1d4f91"]],  # light = few stay, dark = many
                            "zmin": 0,
                            "zmax": 1,
                            "hovertemplate": "cohort %{y}, period %{x}: %{z:.0%}<extra></extra>",
                        }
                    ],
                    {
                        "yaxis": {"autorange": "reversed", "type": "category", "automargin": True},
                        "xaxis": {"title": {"text": "periods since first order"}},
                    },
                ),
            }
        )
    charts.extend(_fit_charts(fit))
    return render(
        request,
        "value.html",
        {
            "charts": charts,
            "segments": records(seg),
            "models": [
                {**m, "description": value_service.describe_model(str(m["model"]))} for m in records(data["models"])
            ],
            "fit": None if fit is None else {**fit, "model_words": value_service.describe_model(fit["model"])},
            "fit_rows": _fit_rows(fit),
            # the first is selected: the default model
            "model_names": sorted(("bgnbd", "mbgnbd", "pareto-nbd"), key=lambda m: m != value_service.DEFAULT_MODEL),
            "model_labels": value_service.MODEL_NAMES,
            "currency": currency,
            "horizon": horizon,
            "default_calibration_end": value_service.default_calibration_end(store),
        },
    )


@router.post("/value/run")
def run_value(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    """Recompute CLV (the default transaction model + Gamma-Gamma) and RFM segments into customer_value."""
    from heedful.services import value as value_service  # imported on first use: it loads the value models

    result = value_service.compute_customer_value(store)
    accounts.record_audit(store, "value.run", user=user, target="customer_value", detail=result, ip=client_ip(request))
    return RedirectResponse("/value", status_code=303)


@router.post("/value/fit")
def fit_value_model(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    model: Annotated[str, Form(pattern="^(bgnbd|mbgnbd|pareto-nbd)$")],
    calibration_end: Annotated[str, Form()],
) -> Response:
    """Fit a model on the orders up to `calibration_end` and check its predictions on the rest (holdout)."""
    from heedful.services import value as value_service  # imported on first use: it loads the value models

    table, cols = value_service.load_orders(store)
    report = value_service.fit_report(table, cols, model, "W", calibration_end=calibration_end or None)
    request.app.state.value_fit = to_jsonable(report)
    summary = (
        {k: report["holdout"].get(k) for k in ("actual_total", "predicted_total", "mae")} if report["holdout"] else {}
    )
    accounts.record_audit(
        store,
        "value.fit",
        user=user,
        target=model,
        detail={"calibration_end": calibration_end, **summary},
        ip=client_ip(request),
    )
    return RedirectResponse("/value#fit", status_code=303)


@router.get("/value/chart/{name}.csv")
def value_chart_csv(request: Request, store: StoreDep, user: ViewerUser, name: str) -> Response:
    data: dict[str, pd.DataFrame] = dict(_data(request, store))
    fit = getattr(request.app.state, "value_fit", None)
    if fit and fit.get("holdout"):
        data["tracking"] = pd.DataFrame(fit["holdout"].get("tracking") or [])
        data["holdout"] = pd.DataFrame(fit["holdout"].get("by_calibration_frequency") or [])
    if name not in data:
        raise HTTPException(404, f"No chart {name!r} on the value page.")
    frame = data[name]
    if name == "cohorts" and not frame.empty:
        frame = frame.reset_index()
    return csv_response(frame, f"value-{name}.csv")
