"""REST API under /api/v1: customers, orders, feedback, imports and value results.

Token authentication for scripts (`Authorization: Bearer hf_…`, from `heedful tokens create`) or the
browser session; limit/offset pagination with `total` and `next_offset`; errors are RFC 9457
application/problem+json documents (see app.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import pandas as pd
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel

from heedful.errors import NotFoundError
from heedful.jsonable import to_jsonable
from heedful.services import dashboard
from heedful.services.accounts import UserPublic, UtcDatetime
from heedful.store import Store
from heedful.themes import decode_themes, theme_filter_sql
from heedful.web.customers import customer_profile
from heedful.web.deps import AnalystUser, StoreDep, ViewerUser, client_ip
from heedful.web.imports import ENTITIES, quarantine_rows, run_import

PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}
router = APIRouter(
    prefix="/api/v1",
    tags=["api"],
    responses={401: {"description": "Not signed in", **PROBLEM}, 403: {"description": "Role not allowed", **PROBLEM}},
)

T = TypeVar("T", bound=BaseModel)
Limit = Annotated[int, Query(ge=1, le=1000, description="Items per page (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=2**53, description="Items to skip.")]  # beyond BIGINT the SQL fails


class Page(BaseModel, Generic[T]):
    """One page of a list: `next_offset` is null on the last page.

    Lists that take a cursor (`after`) also give `next_after`: pass it back to get the next page
    without an offset, which stays fast however deep the page.
    """

    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None
    next_after: str | None = None


class CustomerPublic(BaseModel):
    customer_id: str
    kind: str
    name: str | None = None
    email: str | None = None
    company: str | None = None
    country: str | None = None
    city: str | None = None
    first_seen_at: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    source: str | None = None


class OrderPublic(BaseModel):
    order_line_id: str
    order_id: str
    customer_id: str | None = None
    ordered_at: UtcDatetime
    product_id: str | None = None
    product_name: str | None = None
    quantity: float
    unit_price: float
    amount: float
    currency: str | None = None
    country: str | None = None
    is_return: bool
    status: str | None = None


class FeedbackPublic(BaseModel):
    feedback_id: str
    channel: str
    customer_id: str | None = None
    author_kind: str
    title: str | None = None
    text: str
    rating: float | None = None
    rating_scale: float | None = None
    created_at: UtcDatetime
    language: str | None = None
    product_id: str | None = None
    source: str | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    themes: list[str] = []


class ImportPublic(BaseModel):
    import_id: str
    entity: str
    preset: str
    source_file: str
    started_at: UtcDatetime
    finished_at: UtcDatetime | None = None
    accepted: int | None = None
    rejected: int | None = None
    duplicates: int | None = None
    status: str


class QuarantinedRow(BaseModel):
    line: int
    error: str
    raw: dict[str, Any]


class ImportDetail(ImportPublic):
    quarantine: list[QuarantinedRow]


class ImportResultPublic(BaseModel):
    import_id: str
    accepted: int
    rejected: int
    duplicates: int
    quarantine: list[dict[str, Any]]


class CustomerValuePublic(BaseModel):
    customer_id: str
    model: str
    frequency: float | None = None
    recency: float | None = None
    T: float | None = None
    monetary_value: float | None = None
    p_alive: float | None = None
    expected_purchases: float | None = None
    expected_spend: float | None = None
    clv: float | None = None
    rfm_score: str | None = None
    segment: str | None = None
    churn_risk: float | None = None
    computed_at: UtcDatetime


class SegmentPublic(BaseModel):
    segment: str
    customers: int
    total_clv: float | None = None
    mean_clv: float | None = None
    mean_p_alive: float | None = None


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe values; missing ones (NaN, NaT) become None."""
    out: dict[str, Any] = to_jsonable(
        {k: None if v is pd.NaT or (isinstance(v, float) and v != v) else v for k, v in row.items()}
    )
    return out


def _missing_to_none(row: dict[str, Any]) -> dict[str, Any]:
    """Plain DB-API values (no DataFrame in between): only NaN needs mapping to None."""
    return {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}


def _page(
    store: Store,
    model: type[T],
    select: str,
    source: str,
    where: list[str],
    params: list[Any],
    order: str,
    limit: int,
    offset: int,
    total: int | None = None,
) -> Page[T]:
    """One page of `select` (the model's fields, from `_columns`) with the total count (unless given)."""
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    sql = f"SELECT {select} FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?"
    if total is None:  # the count rides along with the page: one statement, not two
        counted = f"SELECT (SELECT COUNT(*) FROM {source}{clause}) AS total_, {sql.removeprefix('SELECT ')}"
        rows = store.fetchall(counted, [*params, *params, limit, offset])
        if rows:
            total = int(rows[0][0])
            rows = [r[1:] for r in rows]
        else:  # past the last page: no row to carry the count
            total = int(store.fetchall(f"SELECT COUNT(*) FROM {source}{clause}", params)[0][0])
    else:
        rows = store.fetchall(sql, [*params, limit, offset])
    names = list(model.model_fields)
    items = [model.model_validate(_missing_to_none(dict(zip(names, r, strict=True)))) for r in rows]
    next_offset = offset + limit if offset + limit < total else None
    return Page[model](items=items, total=total, limit=limit, offset=offset, next_offset=next_offset)  # type: ignore[valid-type]


def _columns(model: type[BaseModel], prefix: str = "") -> str:
    # Aliased in quotes: PostgreSQL folds unquoted names to lower case (`T` would come back as `t`).
    # The source column quoted too: the schema creates `customer_value."T"` with its capital.
    return ", ".join(f'{prefix}"{name}" AS "{name}"' for name in model.model_fields)


# ---------------------------------------------------------------- me
@router.get("/me", summary="The user behind this session or token")
def me(user: ViewerUser) -> UserPublic:
    return user


# ---------------------------------------------------------------- customers
@router.get("/customers", summary="Customers, searchable and filterable", response_model=Page[CustomerPublic])
def list_customers(
    store: StoreDep,
    user: ViewerUser,
    q: Annotated[str | None, Query(description="Text in id, name, e-mail or company.")] = None,
    kind: Annotated[str | None, Query(description="customer | prospect | staff | partner")] = None,
    country: str | None = None,
    after: Annotated[
        str | None, Query(description="Cursor: customers with an id after this one (from next_after).")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Response:
    where: list[str] = []
    params: list[Any] = []
    if q:
        like = f"LIKE ? {dashboard.LIKE_ESCAPE}"  # the text is matched literally: % and _ are no wildcards
        where.append(
            f"(lower(customer_id) {like} OR lower(name) {like} OR lower(email) {like} OR lower(company) {like})"
        )
        params.extend([dashboard.contains_pattern(q.lower())] * 4)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if country:
        where.append("country = ?")
        params.append(country)
    total: int | None = None
    if after is not None:  # the total counts every match; next_offset follows the rows after the cursor
        total = int(store.fetchall(f"SELECT COUNT(*) FROM customers{_where(where)}", params)[0][0])
        where.append("customer_id > ?")
        params.append(after)
    page = _page(
        store, CustomerPublic, _columns(CustomerPublic), "customers", where, params, "customer_id", limit, offset
    )
    more = page.next_offset is not None
    page.total = page.total if total is None else total
    page.next_after = page.items[-1].customer_id if more and page.items else None
    # Validated once here; answered as JSON directly (the hot read of the load benchmark).
    return Response(page.model_dump_json(), media_type="application/json")


def _where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


@router.get("/customers/{customer_id}", summary="One customer")
def get_customer(store: StoreDep, user: ViewerUser, customer_id: str) -> CustomerPublic:
    frame = store.query(f"SELECT {_columns(CustomerPublic)} FROM customers WHERE customer_id = ?", [customer_id])
    if frame.empty:
        raise NotFoundError(f"No customer {customer_id}.")
    return CustomerPublic.model_validate(_clean(frame.iloc[0].to_dict()))


@router.get("/customers/{customer_id}/profile", summary="Unified profile: orders, feedback, answers, referrals")
def get_profile(store: StoreDep, user: ViewerUser, customer_id: str) -> dict[str, Any]:
    profile: dict[str, Any] = to_jsonable(customer_profile(store, customer_id))
    return profile


# ---------------------------------------------------------------- orders
@router.get("/orders", summary="Order lines, filterable by customer and time")
def list_orders(
    store: StoreDep,
    user: ViewerUser,
    customer_id: str | None = None,
    order_id: str | None = None,
    since: Annotated[datetime | None, Query(description="Ordered at or after (ISO 8601).")] = None,
    until: Annotated[datetime | None, Query(description="Ordered before (ISO 8601).")] = None,
    include_returns: bool = True,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[OrderPublic]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("customer_id", customer_id), ("order_id", order_id)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if since:
        where.append("ordered_at >= ?")
        params.append(since.replace(tzinfo=None))
    if until:
        where.append("ordered_at < ?")
        params.append(until.replace(tzinfo=None))
    if not include_returns:
        where.append("NOT is_return")
    return _page(
        store, OrderPublic, _columns(OrderPublic), "orders", where, params, "ordered_at, order_line_id", limit, offset
    )


# ---------------------------------------------------------------- feedback
@router.get("/feedback", summary="Feedback with listening results, filterable")
def list_feedback(
    store: StoreDep,
    user: ViewerUser,
    customer_id: str | None = None,
    channel: str | None = None,
    sentiment: Annotated[str | None, Query(description="positive | negative | neutral | mixed")] = None,
    theme: Annotated[str | None, Query(description="Theme id from the taxonomy.")] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[FeedbackPublic]:
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("f.customer_id", customer_id), ("f.channel", channel), ("e.sentiment", sentiment)):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    if theme:
        condition, pattern = theme_filter_sql("e.themes", theme)
        where.append(condition)
        params.append(pattern)
    if since:
        where.append("f.created_at >= ?")
        params.append(since.replace(tzinfo=None))
    if until:
        where.append("f.created_at < ?")
        params.append(until.replace(tzinfo=None))
    base_cols = [c for c in FeedbackPublic.model_fields if c not in ("sentiment", "sentiment_score", "themes")]
    select = ", ".join(f"f.{c}" for c in base_cols) + ", e.sentiment, e.sentiment_score, e.themes"
    source = "feedback f LEFT JOIN feedback_enriched e ON e.feedback_id = f.feedback_id"
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    frame = store.query(
        f"SELECT {select} FROM {source}{clause} ORDER BY f.created_at, f.feedback_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    total = int(store.fetchall(f"SELECT COUNT(*) FROM {source}{clause}", params)[0][0])
    items = []
    for row in frame.to_dict(orient="records"):
        clean = _clean(row)
        clean["themes"] = decode_themes(clean.get("themes"))
        items.append(FeedbackPublic.model_validate(clean))
    return Page[FeedbackPublic](
        items=items,
        total=total,
        limit=limit,
        offset=offset,
        next_offset=offset + limit if offset + limit < total else None,
    )


# ---------------------------------------------------------------- imports
@router.get("/imports", summary="Import runs, newest first")
def list_imports(
    store: StoreDep, user: ViewerUser, entity: str | None = None, limit: Limit = 100, offset: Offset = 0
) -> Page[ImportPublic]:
    where, params = (["entity = ?"], [entity]) if entity else ([], [])
    return _page(
        store,
        ImportPublic,
        _columns(ImportPublic),
        "imports",
        where,
        params,
        "started_at DESC, import_id",
        limit,
        offset,
    )


@router.get("/imports/{import_id}", summary="One import run with its quarantined rows")
def get_import(store: StoreDep, user: ViewerUser, import_id: str) -> ImportDetail:
    frame = store.query(f"SELECT {_columns(ImportPublic)} FROM imports WHERE import_id = ?", [import_id])
    if frame.empty:
        raise NotFoundError(f"No import {import_id}.")
    record = _clean(frame.iloc[0].to_dict())
    return ImportDetail.model_validate({**record, "quarantine": quarantine_rows(store, import_id)})


@router.post("/imports", status_code=201, summary="Upload a file to import (analyst)")
def create_import(
    request: Request,
    store: StoreDep,
    user: AnalystUser,
    file: Annotated[UploadFile, File(description="CSV, Excel, Parquet or JSON Lines file")],
    entity: Annotated[str, Form(description=" | ".join(ENTITIES))],
    preset: Annotated[str, Form()] = "generic",
) -> ImportResultPublic:
    summary = run_import(store, user, client_ip(request), file.filename or "upload.csv", file.file, entity, preset)
    return ImportResultPublic.model_validate(_clean(summary))


# ---------------------------------------------------------------- value
VALUE_SORTS = {
    "clv": "clv",
    "p_alive": "p_alive",
    "churn_risk": "churn_risk",
    "customer_id": "customer_id",
    "frequency": "frequency",
}


@router.get("/value", summary="Per-customer value results (CLV, P(alive), RFM segment, churn risk)")
def list_value(
    store: StoreDep,
    user: ViewerUser,
    segment: str | None = None,
    min_clv: float | None = None,
    sort: Annotated[str, Query(pattern="^(" + "|".join(VALUE_SORTS) + ")$")] = "clv",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    limit: Limit = 100,
    offset: Offset = 0,
) -> Page[CustomerValuePublic]:
    where: list[str] = []
    params: list[Any] = []
    if segment:
        where.append("segment = ?")
        params.append(segment)
    if min_clv is not None:
        where.append("clv >= ?")
        params.append(min_clv)
    ordering = f"{VALUE_SORTS[sort]} {'ASC' if order == 'asc' else 'DESC'} NULLS LAST, customer_id"
    return _page(
        store,
        CustomerValuePublic,
        _columns(CustomerValuePublic),
        "customer_value",
        where,
        params,
        ordering,
        limit,
        offset,
    )


@router.get("/value/segments", summary="Customers and value per RFM segment")
def value_segments(store: StoreDep, user: ViewerUser) -> list[SegmentPublic]:
    return [SegmentPublic.model_validate(_clean(r)) for r in dashboard.segment_summary(store).to_dict(orient="records")]


@router.get("/value/{customer_id}", summary="Value results of one customer")
def get_value(store: StoreDep, user: ViewerUser, customer_id: str) -> CustomerValuePublic:
    frame = store.query(
        f"SELECT {_columns(CustomerValuePublic)} FROM customer_value WHERE customer_id = ?", [customer_id]
    )
    if frame.empty:
        raise NotFoundError(f"No value results for customer {customer_id}; run `heedful value clv` first.")
    return CustomerValuePublic.model_validate(_clean(frame.iloc[0].to_dict()))
