"""Retain page: customers ranked by value at risk with reasons and actions, and their next-best offers."""

from __future__ import annotations

import json
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
    frame = store.query(
        "SELECT customer_id, churn_risk, clv, value_at_risk, action, reasons, scored_at FROM churn_scores "
        "ORDER BY value_at_risk DESC NULLS LAST, churn_risk DESC LIMIT ?",
        [int(top)],
    )
    frame["reasons"] = [_reason_texts(r) for r in frame["reasons"]]
    return frame


def _reason_texts(value: Any) -> list[str]:
    try:
        items = json.loads(value) if isinstance(value, str) else []
    except json.JSONDecodeError:
        return []
    return [f"{i.get('feature')} = {i.get('value')}" for i in items if isinstance(i, dict)]


def offers_for(store: Store, customer_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Stored next-best offers per customer, in rank order."""
    if not customer_ids:
        return {}
    marks = ", ".join("?" for _ in customer_ids)
    frame = store.query(
        f"SELECT customer_id, rank, product_id, product_name, explanation FROM offers "
        f"WHERE customer_id IN ({marks}) ORDER BY customer_id, rank",
        customer_ids,
    )
    return {str(c): records(g.drop(columns=["customer_id"])) for c, g in frame.groupby("customer_id")}


@router.get("/retain", **PAGE)
def retain_page(
    request: Request, store: StoreDep, user: ViewerUser, top: Annotated[int, Query(ge=1, le=500)] = 50
) -> Response:
    table = at_risk_table(store, top)
    offers = offers_for(store, table["customer_id"].astype(str).tolist())
    summary = store.query(
        "SELECT COUNT(*) AS customers, SUM(value_at_risk) AS total_value_at_risk, AVG(churn_risk) AS mean_risk "
        "FROM churn_scores"
    )
    return render(
        request,
        "retain.html",
        {
            "section": "retain",
            "customers": records(table),
            "offers": offers,
            "summary": records(summary)[0] if len(summary) else {},
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
    return JSONResponse({"customers": records(at_risk_table(store, top).astype({"scored_at": str}))})


@router.get("/api/v1/retain/offers/{customer_id}", **API_DOC)
def api_offers(store: StoreDep, user: ViewerUser, customer_id: str) -> JSONResponse:
    """A customer's next-best offers (from `heedful retain offers`), with why."""
    return JSONResponse({"customer_id": customer_id, "offers": offers_for(store, [customer_id]).get(customer_id, [])})
