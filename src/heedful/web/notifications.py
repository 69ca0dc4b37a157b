"""Notifications: each person manages what they hear about (admins anyone's), and admins read the delivery log.

`/notifications` lists subscriptions and adds or removes them; `/notifications/log` shows every queued message
with its status, tries and last problem, with "Retry now" for failed ones and "Send what is due now". Every
route calls one use case of `heedful.services.notifications`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from heedful.cases.notify import STATUSES
from heedful.errors import ConfigError, InputError, NotFoundError
from heedful.services import notifications as service
from heedful.services.accounts import Role, UserPublic
from heedful.web.deps import AdminUser, StoreDep, ViewerUser
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
LOG_SIZE = 200
STATUS_PATTERN = "^(|" + "|".join(STATUSES) + ")$"


def _flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session["flash"] = {"kind": kind, "text": text}


def _take_flash(request: Request) -> dict[str, str] | None:
    flash = request.session.pop("flash", None)
    return flash if isinstance(flash, dict) else None


def _manages_all(user: UserPublic) -> bool:
    """Admins manage everyone's subscriptions; everyone else their own."""
    return user.role.allows(Role.admin)


@router.get("/notifications")
def notifications_page(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    manages_all = _manages_all(user)
    subscriptions = service.list_subscriptions(store, None if manages_all else user.email)
    return render(
        request,
        "notifications.html",
        {
            "section": "notifications",
            "subscriptions": subscriptions,
            "choices": service.choices(store),
            "manages_all": manages_all,
            "flash": _take_flash(request),
        },
    )


@router.post("/notifications/subscriptions")
def add_subscription(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    event: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "email",
    target: Annotated[str, Form()] = "",
    department: Annotated[str, Form()] = "",
    theme: Annotated[str, Form()] = "",
    alert_kind: Annotated[str, Form()] = "",
    email: Annotated[str, Form()] = "",
) -> Response:
    manages_all = _manages_all(user)
    who = email.strip() if manages_all and email.strip() else user.email
    if channel == "webhook" and not manages_all:
        _flash(request, "Only admins add webhooks (a webhook posts to an address outside heedful).", "error")
        return RedirectResponse("/notifications", status_code=303)
    try:
        made = service.subscribe(
            store,
            who,
            event,
            channel=channel,
            target=target,
            department=department or None,
            theme=theme or None,
            alert_kind=alert_kind or None,
            actor=user.email,
        )
    except InputError as exc:
        _flash(request, str(exc), "error")
    else:
        _flash(request, f"Subscribed {made['email']} to “{made['event_label']}” ({made['to']}).")
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/subscriptions/{subscription_id}/delete")
def remove_subscription(request: Request, store: StoreDep, user: ViewerUser, subscription_id: str) -> Response:
    try:
        service.unsubscribe(store, subscription_id, email=None if _manages_all(user) else user.email)
    except NotFoundError as exc:
        _flash(request, str(exc), "error")
    else:
        _flash(request, "Subscription removed.")
    return RedirectResponse("/notifications", status_code=303)


@router.get("/notifications/log")
def delivery_log_page(
    request: Request,
    store: StoreDep,
    user: AdminUser,
    status: Annotated[str, Query(pattern=STATUS_PATTERN)] = "",
) -> Response:
    log = service.delivery_log(store, status=status or None, limit=LOG_SIZE)
    return render(
        request,
        "notifications_log.html",
        {
            "section": "notifications",
            "messages": log["messages"],
            "counts": log["counts"],
            "statuses": STATUSES,
            "status": status,
            "limit": LOG_SIZE,
            "flash": _take_flash(request),
        },
    )


def _sent_words(result: dict[str, Any]) -> str:
    parts = [f"Sent {result['sent']}"]
    if result["retrying"]:
        parts.append(f"{result['retrying']} will be tried again")
    if result["failed"]:
        parts.append(f"{result['failed']} failed for good")
    if result["waiting_for_mail"]:
        parts.append(f"{result['waiting_for_mail']} e-mails wait until a mail server is set on the Settings page")
    return "; ".join(parts) + "."


@router.post("/notifications/log/send")
def send_due(request: Request, store: StoreDep, user: AdminUser) -> Response:
    """Send what is due now (the server's scheduler does this every minute)."""
    try:
        result = service.deliver_due(store)
    except ConfigError as exc:
        _flash(request, str(exc), "error")
    else:
        _flash(request, _sent_words(result))
    return RedirectResponse("/notifications/log", status_code=303)


@router.post("/notifications/log/{message_id}/retry")
def retry_message(request: Request, store: StoreDep, user: AdminUser, message_id: str) -> Response:
    try:
        entry = service.retry_now(store, message_id)
    except (InputError, NotFoundError, ConfigError) as exc:
        _flash(request, str(exc), "error")
    else:
        if entry["status"] == "sent":
            _flash(request, f"Sent to {entry['to']}.")
        elif entry["status"] == "pending" and entry["channel"] == "email" and not entry["last_error"]:
            _flash(request, "It waits until a mail server is set on the Settings page.", "error")
        else:
            _flash(request, f"Not sent: {entry['last_error'] or 'the try failed'}", "error")
    return RedirectResponse("/notifications/log", status_code=303)
