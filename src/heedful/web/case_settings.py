"""Settings for the closed loop: the case rules (admins change them, everyone may read them) and the mail
server replies and notifications are sent through (admins), both saved in the web app.

Case rules go through `heedful.services.case_rules`, mail through `heedful.services.mail`; these routes
only turn the form into the rules' shape, call the service and show what it says next to the field.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from heedful.cases.rules import PRIORITIES, TRIGGERS, CaseRules
from heedful.errors import ConfigError
from heedful.services import accounts, mail
from heedful.services import case_rules as rules_service
from heedful.services.accounts import Role
from heedful.services.journey import load_config
from heedful.store import Store
from heedful.web.deps import AdminUser, StoreDep, ViewerUser, client_ip
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)

TRIGGER_LABELS = {
    "survey": "Unhappy survey answers",
    "feedback": "Negative feedback",
    "alert": "Journey alerts",
    "churn": "Valuable customers at risk",
}
SENTIMENTS = {"negative": "Negative", "mixed": "Mixed"}
AUDIENCES = {"external": "Customers", "staff": "Staff", "partner": "Partners"}
# settings shown as percentages on the page and stored as shares
PERCENT_FIELDS = ("triggers.churn.min_risk", "triggers.churn.top_value_share", "holdout_share")
PERCENT_WORDS = {
    "triggers.churn.min_risk": "must be a percentage from 0 to 100",
    "triggers.churn.top_value_share": "must be a percentage above 0, at most 100",
    "holdout_share": f"must be a percentage from 0 to {rules_service.MAX_HOLDOUT_SHARE:.0%}",
}
NUMBER_FIELDS = ("triggers.survey.nps_max", "triggers.survey.csat_max", "triggers.survey.ces_max")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# ---------------------------------------------------------------- case rules
def _flash(request: Request, text: str) -> None:
    request.session["flash"] = {"kind": "ok", "text": text}


def _take_flash(request: Request) -> str | None:
    flash = request.session.pop("flash", None)
    return str(flash["text"]) if isinstance(flash, dict) and flash.get("text") else None


def _number_text(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else str(value)


def rules_form(rules: CaseRules) -> dict[str, Any]:
    """The rules as the form's fields (dotted paths, as the service names them) and their shown values."""
    form: dict[str, Any] = {}
    for trigger in TRIGGERS:
        settings = getattr(rules.triggers, trigger)
        form[f"triggers.{trigger}.enabled"] = settings.enabled
        form[f"triggers.{trigger}.department"] = settings.department
    for path in NUMBER_FIELDS:
        form[path] = _number_text(getattr(rules.triggers.survey, path.rsplit(".", 1)[1]))
    form["triggers.feedback.sentiments"] = list(rules.triggers.feedback.sentiments)
    form["triggers.alert.audiences"] = list(rules.triggers.alert.audiences)
    form["triggers.churn.min_risk"] = _number_text(rules.triggers.churn.min_risk * 100)
    form["triggers.churn.top_value_share"] = _number_text(rules.triggers.churn.top_value_share * 100)
    form["holdout_share"] = _number_text(rules.holdout_share * 100)
    for priority in PRIORITIES:
        form[f"sla_hours.{priority}"] = _number_text(rules.sla_hours.hours(priority))
        for department, sla in rules.departments.items():
            form[f"departments.{department}.{priority}"] = _number_text(sla.hours(priority))
    return form


def _percent_share(text: str) -> float | str:
    """A percentage typed on the page as the share the rules store (text that is no number is passed on as
    it is, so the rules' validation names the field)."""
    try:
        return float(text.strip().rstrip("%").replace(",", ".")) / 100
    except ValueError:
        return text


def change_from_form(form: FormData, departments: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The posted form as (a change in the rules' shape, the values to show again if it is refused)."""
    shown: dict[str, Any] = {}
    triggers: dict[str, dict[str, Any]] = {}
    for trigger in TRIGGERS:
        enabled = form.get(f"triggers.{trigger}.enabled") == "on"
        department = str(form.get(f"triggers.{trigger}.department") or "")
        shown[f"triggers.{trigger}.enabled"] = enabled
        shown[f"triggers.{trigger}.department"] = department
        triggers[trigger] = {"enabled": enabled, **({"department": department} if department else {})}
    for path in NUMBER_FIELDS:
        text = str(form.get(path) or "").strip()
        shown[path] = text
        triggers["survey"][path.rsplit(".", 1)[1]] = text.replace(",", ".")
    sentiments = [s for s in form.getlist("triggers.feedback.sentiments") if s in SENTIMENTS]
    audiences = [a for a in form.getlist("triggers.alert.audiences") if a in AUDIENCES]
    shown["triggers.feedback.sentiments"], shown["triggers.alert.audiences"] = sentiments, audiences
    triggers["feedback"]["sentiments"] = sentiments
    triggers["alert"]["audiences"] = audiences
    percents: dict[str, Any] = {}
    for path in PERCENT_FIELDS:
        text = str(form.get(path) or "").strip()
        shown[path] = text
        percents[path] = _percent_share(text)
    triggers["churn"]["min_risk"] = percents["triggers.churn.min_risk"]
    triggers["churn"]["top_value_share"] = percents["triggers.churn.top_value_share"]
    default_sla = {p: str(form.get(f"sla_hours.{p}") or "").strip() for p in PRIORITIES}
    shown.update({f"sla_hours.{p}": v for p, v in default_sla.items()})
    per_department: dict[str, dict[str, str]] = {}
    for department in departments:
        typed = {p: str(form.get(f"departments.{department}.{p}") or "").strip() for p in PRIORITIES}
        shown.update({f"departments.{department}.{p}": v for p, v in typed.items()})
        if any(typed.values()) and typed != default_sla:  # empty fields follow the default SLA
            per_department[department] = {p: v or default_sla[p] for p, v in typed.items()}
    change = {
        "triggers": triggers,
        "sla_hours": default_sla,
        "departments": per_department,
        "holdout_share": percents["holdout_share"],
    }
    return change, shown


def _rules_page(
    request: Request,
    store: Store,
    user: accounts.UserPublic,
    *,
    form: dict[str, Any] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rules, saved = rules_service.current_rules(store)
    config = load_config(store)
    # the rules speak of shares (0 to 1), the page of percentages
    problems = {path: PERCENT_WORDS.get(path, text) for path, text in (problems or {}).items()}
    return render(
        request,
        "case_settings.html",
        {
            "section": "settings" if user.role.allows(Role.admin) else "cases",
            "form": form if form is not None else rules_form(rules),
            "problems": problems,
            "saved": saved,
            "can_change": user.role.allows(Role.admin),
            "triggers": TRIGGER_LABELS,
            "priorities": PRIORITIES,
            "departments": [(d.id, d.name) for d in config.departments],
            "sentiments": SENTIMENTS,
            "audiences": AUDIENCES,
            "flash": _take_flash(request),
        },
        status_code=status_code,
    )


@router.get("/settings/cases")
def case_rules_page(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    """The case rules: which signals open a case, their thresholds, the SLA per department, the holdout."""
    return _rules_page(request, store, user)


@router.post("/settings/cases")
async def save_case_rules(request: Request, store: StoreDep, user: AdminUser) -> Response:
    departments = [d.id for d in load_config(store).departments]
    change, shown = change_from_form(await request.form(), departments)
    try:
        rules = rules_service.save_rules(store, change, user.email)
    except rules_service.RulesProblem as problem:
        return _rules_page(request, store, user, form=shown, problems=problem.problems, status_code=400)
    accounts.record_audit(
        store, "case_rules.save", user=user, detail=rules.model_dump(mode="json"), ip=client_ip(request)
    )
    _flash(request, "Case rules saved; the next run that opens cases uses them.")
    return RedirectResponse("/settings/cases", status_code=303)


@router.post("/settings/cases/reset")
def reset_case_rules(request: Request, store: StoreDep, user: AdminUser) -> Response:
    rules_service.reset_rules(store)
    accounts.record_audit(store, "case_rules.reset", user=user, ip=client_ip(request))
    _flash(request, "The saved case rules are forgotten: the rules file, or the shipped rules, apply again.")
    return RedirectResponse("/settings/cases", status_code=303)


# ---------------------------------------------------------------- mail
def _mail_form(store: Store) -> tuple[dict[str, Any], str]:
    """The mail settings in use as form values, and where they come from ("saved", "file" or "off")."""
    saved = mail.saved_delivery_settings(store)
    try:
        settings = saved if saved is not None else mail.delivery_settings(store)
    except ConfigError:
        settings = None
    source = "saved" if saved is not None else "file" if settings is not None and settings.configured else "off"
    smtp = settings.smtp if settings is not None else None
    webhook = settings.webhook if settings is not None else None
    form = {
        "host": smtp.host if smtp else "",
        "port": str(smtp.port) if smtp else "587",
        "sender": smtp.sender if smtp else "",
        "recipients": ", ".join(smtp.recipients) if smtp else "",
        "username": (smtp.username or "") if smtp else "",
        "password_env": (smtp.password_env or "") if smtp else "",
        "security": ("ssl" if smtp.ssl else "starttls" if smtp.starttls else "none") if smtp else "starttls",
        "webhook_url": webhook.url if webhook else "",
    }
    return form, source


def _mail_page(
    request: Request,
    store: Store,
    *,
    form: dict[str, Any] | None = None,
    problem: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> Response:
    current, source = _mail_form(store)
    return render(
        request,
        "mail_settings.html",
        {
            "section": "settings",
            "form": form if form is not None else current,
            "source": source,
            "problem": problem,
            "message": message or _take_flash(request),
        },
        status_code=status_code,
    )


def settings_from_form(form: dict[str, str]) -> dict[str, Any]:
    """The mail form as `[journey.alerts]`-shaped settings; ValueError says in words what to fix first."""
    values: dict[str, Any] = {}
    if form["host"]:
        if not form["port"].isdigit() or not 0 < int(form["port"]) < 65536:
            raise ValueError("The port must be a number from 1 to 65535 (often 587, 465 or 25).")
        if form["password_env"] and not _ENV_NAME.match(form["password_env"]):
            raise ValueError(
                "Give the name of the environment variable that holds the password (like SMTP_PASSWORD), "
                "not the password itself: heedful never stores a password."
            )
        sender = form["sender"] or "heedful@localhost"
        recipients = [r.strip() for r in re.split(r"[,;\s]+", form["recipients"]) if r.strip()]
        values["smtp"] = {
            "host": form["host"],
            "port": int(form["port"]),
            "sender": sender,
            "recipients": recipients or [sender],
            "username": form["username"] or None,
            "password_env": form["password_env"] or None,
            "starttls": form["security"] == "starttls",
            "ssl": form["security"] == "ssl",
        }
    elif any(form[k] for k in ("username", "password_env")):
        raise ValueError("Give the mail server's host name (like smtp.example.com).")
    if form["webhook_url"]:
        if not form["webhook_url"].startswith(("https://", "http://")):
            raise ValueError("The webhook address must start with https:// (or http://).")
        values["webhook"] = {"url": form["webhook_url"]}
    if not values:
        raise ValueError("Give a mail server (host) or a webhook address, or use heedful.toml instead.")
    return values


@router.get("/settings/mail")
def mail_settings_page(request: Request, store: StoreDep, user: AdminUser) -> Response:
    """Where replies, notifications and reports are sent from: the mail server and an optional webhook."""
    return _mail_page(request, store)


@router.post("/settings/mail")
def save_mail_settings(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    host: Annotated[str, Form()] = "",
    port: Annotated[str, Form()] = "587",
    sender: Annotated[str, Form()] = "",
    recipients: Annotated[str, Form()] = "",
    username: Annotated[str, Form()] = "",
    password_env: Annotated[str, Form()] = "",
    security: Annotated[str, Form(pattern="^(none|starttls|ssl)$")] = "starttls",
    webhook_url: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "host": host.strip(),
        "port": port.strip(),
        "sender": sender.strip(),
        "recipients": recipients.strip(),
        "username": username.strip(),
        "password_env": password_env.strip(),
        "security": security,
        "webhook_url": webhook_url.strip(),
    }
    try:
        saved = mail.save_delivery_settings(store, settings_from_form(form), user.email)
    except (ValueError, ConfigError) as exc:
        return _mail_page(request, store, form=form, problem=str(exc), status_code=400)
    detail = saved.model_dump(mode="json", exclude_none=True)
    accounts.record_audit(store, "mail_settings.save", user=user, detail=detail, ip=client_ip(request))
    _flash(request, "Mail settings saved; replies and notifications use them from now on.")
    return RedirectResponse("/settings/mail", status_code=303)


@router.post("/settings/mail/test")
def send_test_message(request: Request, store: StoreDep, user: AdminUser) -> Response:
    """Send a test e-mail to the signed-in admin with the settings in use; say what happened in words."""
    try:
        server = mail.send_test_message(store, user.email)
    except ConfigError as exc:
        return _mail_page(request, store, problem=str(exc))
    return _mail_page(request, store, message=f"A test message was sent to {user.email} via {server}.")


@router.post("/settings/mail/forget")
def forget_mail_settings(request: Request, store: StoreDep, user: AdminUser) -> Response:
    mail.forget_delivery_settings(store)
    accounts.record_audit(store, "mail_settings.forget", user=user, ip=client_ip(request))
    _flash(request, "The saved mail settings are forgotten: heedful.toml and the environment apply again.")
    return RedirectResponse("/settings/mail", status_code=303)
