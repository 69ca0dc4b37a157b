"""Rendering helpers shared by the page routers: Jinja2 templates, Plotly charts with CSV export, tables."""

from __future__ import annotations

import io
import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from heedful.exports import frame_to_csv
from heedful.jsonable import to_jsonable
from heedful.web.deps import csrf_token

if TYPE_CHECKING:
    from heedful.store import Store

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _number(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    try:
        return f"{float(value):,.{digits}f}"
    except (TypeError, ValueError):
        return str(value)


def _percent(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{float(value) * 100:.{digits}f}%"


def _metric(value: Any, kind: str) -> str:
    """A journey metric as every output shows it (`services.journey.metric_text`)."""
    from heedful.services.journey import metric_text

    return metric_text(None if value is None else float(value), kind)


def _when(value: Any) -> str:
    if value is None or value is pd.NaT:
        return "–"
    if isinstance(value, datetime | pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


templates.env.filters["number"] = _number
templates.env.filters["percent"] = _percent
templates.env.filters["metric"] = _metric
templates.env.filters["when"] = _when


def _theme(value: Any) -> str:
    """A theme id (or the stored ";"-joined list of them) as labels."""
    from heedful.services.listen import label_of, theme_labels
    from heedful.themes import decode_themes

    labels = theme_labels()
    return ", ".join(label_of(t, labels) for t in decode_themes(value))


templates.env.filters["theme"] = _theme
templates.env.filters["basename"] = lambda value: Path(str(value)).name if value else ""
templates.env.globals["csrf_token"] = csrf_token


def page_terms(request: Request) -> tuple[str | None, int, int | None]:
    """(the business's currency, the months the stored CLV covers, the days the stored churn risks look ahead),
    as `services.customers.business_currency`, `value_horizon` and `churn_horizon` give them, cached together
    with the page aggregates: one fingerprint of the store per page, however many terms its figures need."""
    from heedful.services.customers import business_currency, churn_horizon, value_horizon
    from heedful.value import DEFAULT_HORIZON_MONTHS

    store = getattr(request.state, "store", None)
    cache = getattr(request.app.state, "aggregates", None)
    if store is None:
        return None, DEFAULT_HORIZON_MONTHS, None

    def terms(s: Store) -> tuple[str | None, int, int | None]:
        return business_currency(s), value_horizon(s), churn_horizon(s)

    value: tuple[str | None, int, int | None] = terms(store) if cache is None else cache.get(store, "page_terms", terms)
    return value


def money_terms(request: Request) -> tuple[str | None, int]:
    """(the business's currency, the months the stored CLV covers): `page_terms` without the churn horizon."""
    currency, horizon, _ = page_terms(request)
    return currency, horizon


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    """Render a page; every template gets `request`, `user` (or None) and `csrf_token(request)`."""
    ctx: dict[str, Any] = {"user": getattr(request.state, "user", None), "current": template.removesuffix(".html")}
    ctx.update(context or {})
    if "currency" not in ctx or "horizon" not in ctx or "churn_days" not in ctx:
        # every money figure names its currency (None: the data do not say), a CLV the months it covers and a
        # churn risk the days it looks ahead ("Churn risk (90 days)")
        currency, horizon, churn_days = page_terms(request)
        ctx.setdefault("currency", currency)
        ctx.setdefault("horizon", horizon)
        ctx.setdefault("churn_days", churn_days)
    return templates.TemplateResponse(request, template, ctx, status_code=status_code)


def figure(data: list[dict[str, Any]], layout: dict[str, Any] | None = None) -> str:
    """A Plotly figure as JSON for `data-figure` (drawn by static/app.js with plotly.min.js)."""
    base_layout: dict[str, Any] = {
        "margin": {"l": 50, "r": 20, "t": 30, "b": 50},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"family": "system-ui, sans-serif", "size": 13, "color": "#1f2933"},
    }
    base_layout.update(layout or {})
    return json.dumps(to_jsonable({"data": data, "layout": base_layout}))


def csv_response(frame: pd.DataFrame, filename: str) -> Response:
    """A chart's data as a CSV download."""
    buf = io.StringIO()
    frame_to_csv(frame, buf)
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts with NaN/NaT turned into None, for templates."""
    out: list[dict[str, Any]] = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return out
