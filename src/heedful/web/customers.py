"""Customers: a searchable, sortable list with value figures, and one profile page per customer."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from heedful.store import Store
from heedful.web import queries
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50


def customer_profile(store: Store, customer_id: str) -> dict[str, Any]:
    """The unified profile from the data hub (heedful.ingest.profile)."""
    from heedful.ingest.profile import customer_profile as build_profile

    return build_profile(store, customer_id)


@router.get("/customers")
def customer_list(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    q: str = "",
    segment: str = "",
    sort: Annotated[str, Query(pattern="^(" + "|".join(queries.CUSTOMER_SORTS) + ")$")] = "clv",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    query = queries.CustomerQuery(
        q=q, segment=segment, sort=sort, order=order, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    rows, total = queries.customer_page(store, query)
    pages = max(1, -(-total // PAGE_SIZE))

    def link(**change: Any) -> str:
        params = {"q": q, "segment": segment, "sort": sort, "order": order, "page": page, **change}
        return "/customers?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    context = {
        "rows": rows.to_dict(orient="records"),
        "total": total,
        "page": page,
        "pages": pages,
        "q": q,
        "segment": segment,
        "segments": queries.segments(store),
        "sort": sort,
        "order": order,
        "link": link,
        "columns": [
            ("customer_id", "Customer"),
            ("country", "Country"),
            ("segment", "Segment"),
            ("clv", "CLV"),
            ("p_alive", "P(alive)"),
            ("churn_risk", "Churn risk"),
            ("frequency", "Repeat orders"),
            ("monetary_value", "Avg. order value"),
        ],
    }
    # HTMX search-as-you-type swaps only the results.
    template = (
        "customers_rows.html"
        if request.headers.get("hx-request") and request.headers.get("hx-target") == "results"
        else "customers.html"
    )
    return render(request, template, context)


def _timeline(profile: dict[str, Any]) -> list[dict[str, Any]]:
    """Orders, feedback, answers and referrals on one time axis, newest first (display only)."""
    if isinstance(profile.get("timeline"), list):
        events = [dict(e) for e in profile["timeline"]]
    else:
        events = []
        for kind, time_key in (
            ("orders", "ordered_at"),
            ("feedback", "created_at"),
            ("answers", "answered_at"),
            ("referrals", "created_at"),
        ):
            for item in _items(profile.get(kind)):
                events.append({"kind": kind.rstrip("s"), "at": item.get(time_key) or item.get("at"), **item})
    for event in events:
        event["at"] = pd.to_datetime(event.get("at"), errors="coerce")
    # Newest first; events without a time go last.
    return sorted(
        events,
        key=lambda e: (not pd.isna(e["at"]), e["at"] if not pd.isna(e["at"]) else pd.Timestamp.min),
        reverse=True,
    )


def _items(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, pd.DataFrame):
        return list(value.to_dict(orient="records"))
    return [dict(v) for v in value]


@router.get("/customers/{customer_id}")
def customer_detail(request: Request, store: StoreDep, user: ViewerUser, customer_id: str) -> Response:
    profile = customer_profile(store, customer_id)
    customer = profile.get("customer") or {}
    value_rows = store.query("SELECT * FROM customer_value WHERE customer_id = ?", [customer_id])
    value = value_rows.iloc[0].to_dict() if not value_rows.empty else None
    timeline = _timeline(profile)
    return render(
        request,
        "customer.html",
        {
            "customer_id": customer_id,
            "customer": customer,
            "profile": profile,
            "summary": profile.get("summary") or {},
            "value": value,
            "timeline": timeline[:500],
            "timeline_total": len(timeline),
        },
    )
