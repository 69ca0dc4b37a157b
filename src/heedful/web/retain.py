"""Retain page: customers ranked by value at risk with reasons and actions, and their next-best offers."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from heedful.store import Store
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import csv_response, records, render

router = APIRouter()
PAGE: dict[str, Any] = {"include_in_schema": False}
API_DOC: dict[str, Any] = {"tags": ["retain"]}


def at_risk_table(store: Store, top: int = 50) -> pd.DataFrame:
    """Stored churn scores (from `heedful retain at-risk`), highest value at risk first."""
    from heedful.services import retain as retain_service

    return retain_service.stored_at_risk(store, top)


def offers_for(store: Store, customer_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Stored next-best offers per customer, in rank order."""
    from heedful.services import retain as retain_service

    return {c: records(frame) for c, frame in retain_service.stored_offers(store, customer_ids).items()}


@router.get("/retain", **PAGE)
def retain_page(
    request: Request, store: StoreDep, user: ViewerUser, top: Annotated[int, Query(ge=1, le=500)] = 50
) -> Response:
    from heedful.services import retain as retain_service  # imported on first use: it loads heavy libraries

    table = at_risk_table(store, top)
    offers = offers_for(store, table["customer_id"].astype(str).tolist())
    return render(
        request,
        "retain.html",
        {
            "section": "retain",
            "customers": records(table),
            "offers": offers,
            "summary": retain_service.at_risk_summary(store),
            "quality": retain_service.churn_model_quality(store),
        },
    )


@router.get("/retain/at-risk.csv", **PAGE)
def retain_csv(store: StoreDep, user: ViewerUser, top: Annotated[int, Query(ge=1, le=100000)] = 1000) -> Response:
    table = at_risk_table(store, top)
    table["reasons"] = table["reasons"].map("; ".join)
    return csv_response(table, "at_risk.csv")


@router.get("/api/v1/retain/at-risk", **API_DOC)
def api_at_risk(store: StoreDep, user: ViewerUser, top: Annotated[int, Query(ge=1, le=10000)] = 50) -> JSONResponse:
    """Customers ranked by value at risk (CLV × churn risk), with reasons and a suggested action."""
    from heedful.services import retain as retain_service  # imported on first use: it loads heavy libraries

    return JSONResponse(
        {
            "customers": records(at_risk_table(store, top).astype({"scored_at": str})),
            "value_at_risk": retain_service.value_at_risk(store),
            "model": retain_service.churn_model_quality(store),
        }
    )


@router.get("/api/v1/retain/offers/{customer_id}", **API_DOC)
def api_offers(store: StoreDep, user: ViewerUser, customer_id: str) -> JSONResponse:
    """A customer's next-best offers (from `heedful retain offers`), with why."""
    return JSONResponse({"customer_id": customer_id, "offers": offers_for(store, [customer_id]).get(customer_id, [])})
