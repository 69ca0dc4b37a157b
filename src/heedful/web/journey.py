"""Journey pages: needs along the journey with their scorecards, department pages, alerts, the
customer-focus report as a page (and as PDF / HTML downloads), and the needs file in Settings."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from heedful.errors import HeedfulError, InputError
from heedful.journey.config import METRIC_KINDS, dump_config, parse_config
from heedful.journey.internal import AUDIENCES, internal_summary
from heedful.journey.metrics import JourneyData
from heedful.journey.scorecard import Scorecard
from heedful.report.report import render_html, write_pdf
from heedful.services import accounts
from heedful.services import journey as service
from heedful.services.report import build_report
from heedful.store import Store
from heedful.web.cache import AggregateCache
from heedful.web.deps import AdminUser, AnalystUser, StoreDep, ViewerUser, client_ip
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

PeriodQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


def _period(store: Store, period: str | None) -> str | None:
    try:
        return service.resolve_period(store, period)
    except InputError:
        return None


def _data(request: Request, store: Store, period: str) -> JourneyData:
    """The journey tables for `period`, cached until data lands (the app's aggregate cache) or
    operations figures are imported."""
    cache: AggregateCache = request.app.state.aggregates
    operations = store.count("operations")
    return cache.get(store, f"journey.data.{period}.{operations}", lambda s: service.load_journey_data(s, period))  # type: ignore[no-any-return]


def _scorecard(
    request: Request, store: Store, period: str, department: str | None = None, audience: str = "external"
) -> Scorecard:
    return service.scorecard_for(store, period, department, audience, data=_data(request, store, period))


def _by_stage(card: Scorecard, stage_order: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"id": sid, "name": name, "needs": [n.to_dict() for n in card.needs if n.need.stage == sid]}
        for sid, name in stage_order
    ]


@router.get("/journey")
def journey_page(
    request: Request, store: StoreDep, user: ViewerUser, period: PeriodQuery = None, audience: str = "external"
) -> Response:
    """Every need along the journey: value with interval against target, status and trend."""
    if audience not in AUDIENCES:
        raise HTTPException(404, f"No audience {audience!r}.")
    config = service.load_config(store)
    chosen = _period(store, period)
    context: dict[str, Any] = {"period": chosen, "audience": audience, "audiences": AUDIENCES, "section": "journey"}
    context["explicit"] = period is not None
    if chosen is not None:
        card = _scorecard(request, store, chosen, audience=audience)
        context["coverage"] = card.coverage
        context["stages"] = _by_stage(card, [(s.id, s.name) for s in config.ordered_stages()])
        context["departments"] = card.department_summary()
        if audience != "external":
            context["internal"] = internal_summary(_data(request, store, chosen), chosen, audience)
    context["alerts"] = service.load_alerts(store, audience=audience).head(10).to_dict(orient="records")
    context["closed_loop"] = _closed_loop(store) if audience == "external" else None
    return render(request, "journey.html", context)


def _closed_loop(store: Store) -> dict[str, Any] | None:
    """Did following up work (`services.cases.closed_loop_figures`)? None where no case was ever opened."""
    if "cases" not in store.list_tables() or store.count("cases") == 0:
        return None
    from heedful.services.cases import closed_loop_figures

    return closed_loop_figures(store)


@router.get("/journey/departments/{department_id}")
def department_page(
    request: Request, store: StoreDep, user: ViewerUser, department_id: str, period: PeriodQuery = None
) -> Response:
    """What one department owns: its needs, how they are met, the quotes and customers behind them."""
    config = service.load_config(store)
    if department_id not in {d.id for d in config.departments}:
        raise HTTPException(404, f"No department {department_id!r}.")
    chosen = _period(store, period)
    card = _scorecard(request, store, chosen, department=department_id) if chosen else None
    alerts = service.load_alerts(store)
    alerts = alerts[alerts["department_id"] == department_id] if not alerts.empty else alerts
    return render(
        request,
        "journey_department.html",
        {
            "section": "journey",
            "period": chosen,
            "department": next(d for d in config.departments if d.id == department_id),
            "needs": [n.to_dict() for n in card.needs] if card else [],
            "coverage": card.coverage if card else None,
            "alerts": alerts.head(20).to_dict(orient="records"),
        },
    )


@router.get("/journey/alerts")
def alerts_page(request: Request, store: StoreDep, user: ViewerUser, since: PeriodQuery = None) -> Response:
    alerts = service.load_alerts(store, since=since)
    return render(
        request,
        "journey_alerts.html",
        {"section": "journey", "alerts": alerts.to_dict(orient="records"), "since": since},
    )


@router.post("/journey/alerts/run")
def run_alerts(request: Request, store: StoreDep, user: AnalystUser) -> Response:
    """Detect this month's alerts now (the same as `heedful journey alerts --since <this month>`)."""
    period = _period(store, None)
    if period is None:
        raise InputError("There is no data yet to raise alerts on.")
    found = service.run_alerts(store, [period])
    accounts.record_audit(
        store, "journey.alerts", user=user, target=period, detail={"alerts": len(found)}, ip=client_ip(request)
    )
    return RedirectResponse("/journey/alerts", status_code=303)


@router.get("/journey/report")
def report_page(request: Request, store: StoreDep, user: ViewerUser, period: PeriodQuery = None) -> Response:
    """The customer-focus report as a page (charts drawn by the app's Plotly), with downloads."""
    chosen = _period(store, period)
    body = (
        render_html(build_report(store, chosen, data=_data(request, store, chosen)), standalone=False)
        if chosen
        else None
    )
    return render(request, "journey_report.html", {"section": "journey", "period": chosen, "report_html": body})


@router.get("/journey/report.{fmt}")
def report_download(
    request: Request, store: StoreDep, user: ViewerUser, fmt: str, period: PeriodQuery = None
) -> Response:
    """The report as a file: HTML with interactive charts, or PDF printed by headless Chromium."""
    if fmt not in ("html", "pdf"):
        raise HTTPException(404, "The report is available as .html or .pdf.")
    chosen = _period(store, period)
    if chosen is None:
        raise InputError("There is no data yet to report on.")
    report = build_report(store, chosen, data=_data(request, store, chosen))
    filename = f"customer-focus-{chosen}.{fmt}"
    if fmt == "html":
        return Response(
            render_html(report),
            media_type="text/html",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    folder = tempfile.mkdtemp(prefix="heedful-report-")
    out = Path(folder) / filename
    write_pdf(render_html(report, for_print=True), out)
    return FileResponse(
        out,
        media_type="application/pdf",
        filename=filename,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get("/journey/settings")
def needs_settings(request: Request, store: StoreDep, user: AdminUser, message: str | None = None) -> Response:
    return _settings_page(request, store, message=message)


def _settings_page(
    request: Request, store: Store, *, message: str | None = None, error: str | None = None, text: str | None = None
) -> Response:
    return render(
        request,
        "journey_settings.html",
        {
            "section": "settings",
            "yaml": text if text is not None else dump_config(service.load_config(store)),
            "kinds": METRIC_KINDS,
            "message": message,
            "error": error,
        },
        status_code=422 if error else 200,
    )


@router.get("/journey/needs.yaml")
def needs_export(store: StoreDep, user: ViewerUser) -> Response:
    return Response(
        dump_config(service.load_config(store)),
        media_type="application/yaml",
        headers={"Content-Disposition": 'attachment; filename="needs.yaml"'},
    )


@router.post("/journey/settings")
async def needs_import(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    yaml_text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Replace stages, departments and needs from a pasted or uploaded needs file; errors name their line."""
    source = "needs file"
    if file is not None and file.filename:
        yaml_text = (await file.read()).decode("utf-8", errors="replace")
        source = file.filename
    try:
        config = parse_config(yaml_text, source=source)
    except HeedfulError as exc:
        return _settings_page(request, store, error=str(exc), text=yaml_text)
    counts = service.save_config(store, config)
    accounts.record_audit(store, "journey.needs.import", user=user, target=source, detail=counts, ip=client_ip(request))
    return RedirectResponse(
        f"/journey/settings?message=Imported+{counts['needs']}+needs,+{counts['stages']}+stages,+"
        f"{counts['departments']}+departments",
        status_code=303,
    )
