"""Customers: a searchable, sortable list with value figures, and one profile page per customer."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from heedful.services import dashboard
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.deps import StoreDep, ViewerUser
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

PAGE_SIZE = 50
CACHED_ROWS = 1000  # unsearched list pages before this row are cached


def customer_profile(store: Store, customer_id: str) -> dict[str, Any]:
    """The unified profile from the data hub (identity, orders, feedback, survey answers, referrals, value)."""
    from heedful.services import customers

    return customers.profile(store, customer_id)  # feedback quotes and free-text answers without personal data


@router.get("/customers")
def customer_list(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    q: str = "",
    segment: str = "",
    sort: Annotated[str, Query(pattern="^(" + "|".join(dashboard.CUSTOMER_SORTS) + ")$")] = "clv",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    page: Annotated[int, Query(ge=1)] = 1,
) -> Response:
    query = dashboard.CustomerQuery(
        q=q, segment=segment, sort=sort, order=order, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    if q.strip() or query.offset >= CACHED_ROWS:
        rows, total = dashboard.customer_page(store, query)
    else:  # the first pages of each ordering are kept until the data changes
        cache: AggregateCache = request.app.state.aggregates
        rows, total = cache.get(store, f"customers:{query}", lambda s: dashboard.customer_page(s, query))
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
        "segments": dashboard.segments(store),
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
            ("monetary_value", "Avg. repeat order"),  # monetary_value: the mean of the repeat purchases only
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
    """Recent orders, feedback, survey answers and referrals on one time axis, newest first (display only)."""
    orders = profile.get("orders") or {}
    referrals = profile.get("referrals") or {}
    events: list[dict[str, Any]] = []
    events += [{"kind": "order", "at": o.get("ordered_at"), **o} for o in orders.get("recent") or []]
    events += [{"kind": "feedback", "at": f.get("created_at"), **f} for f in profile.get("feedback") or []]
    events += [{"kind": "answer", "at": a.get("answered_at"), **a} for a in profile.get("survey_answers") or []]
    events += [
        {"kind": "referral", "at": r.get("created_at"), "role": "advocate", **r} for r in referrals.get("made") or []
    ]
    events += [
        {"kind": "referral", "at": r.get("created_at"), "role": "referred", **r}
        for r in referrals.get("referred_by") or []
    ]
    for event in events:
        event["at"] = pd.to_datetime(event.get("at"), errors="coerce")
    # Newest first; events without a time go last.
    return sorted(
        events,
        key=lambda e: (not pd.isna(e["at"]), e["at"] if not pd.isna(e["at"]) else pd.Timestamp.min),
        reverse=True,
    )


@router.get("/customers/{customer_id}")
def customer_detail(request: Request, store: StoreDep, user: ViewerUser, customer_id: str) -> Response:
    profile = customer_profile(store, customer_id)
    customer = {
        **(profile.get("identity") or {}),
        "kind": profile.get("kind"),
        "first_seen_at": profile.get("first_seen_at"),
        "source": profile.get("source"),
    }
    orders = {k: v for k, v in (profile.get("orders") or {}).items() if k != "recent"}
    value = profile.get("value")
    if value:
        from heedful.services.value import describe_model

        value = {**value, "model_words": describe_model(str(value.get("model") or "rfm"))}
    return render(
        request,
        "customer.html",
        {
            "customer_id": customer_id,
            "customer": customer,
            "orders": orders,
            "currency": orders.get("currency"),
            "value": value,
            "timeline": _timeline(profile),
        },
    )
