"""Sign in and out, and the signed-in user's own account page (password, API tokens)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from heedful.errors import InputError
from heedful.services import accounts
from heedful.services.credentials import verify_password
from heedful.web.deps import StoreDep, ViewerUser, client_ip, csrf_token
from heedful.web.security import new_csrf_token
from heedful.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect after sign-in would help phishing."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    csrf_token(request)
    return render(request, "login.html", {"next": _safe_next(next), "email": "", "error": None})


@router.post("/login")
def login(
    request: Request,
    store: StoreDep,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    throttle = request.app.state.login_throttle
    ip = client_ip(request)
    wait = throttle.retry_after(email, ip)
    if wait:
        if throttle.first_refusal(email, ip):  # one audit row per lockout, not one per refused attempt
            accounts.record_audit(store, "login.locked", actor=email, ip=ip)
        error = f"Too many failed sign-ins. Try again in {max(1, wait // 60)} minute(s)."
        response = render(request, "login.html", {"next": _safe_next(next), "email": email, "error": error}, 429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = accounts.authenticate(store, email, password)
    if user is None:
        throttle.failed(email, ip)
        accounts.record_audit(store, "login.failed", actor=email, ip=ip)
        error = "E-mail or password is wrong, or the account is disabled."
        return render(request, "login.html", {"next": _safe_next(next), "email": email, "error": error}, 401)
    throttle.succeeded(email, ip)
    # A fresh session on sign-in: a token planted before sign-in is worthless after it.
    request.session.clear()
    request.session.update({"uid": user.user_id, "csrf": new_csrf_token(), "_iat": request.app.state.clock()})
    accounts.record_audit(store, "login", user=user, ip=ip)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, store: StoreDep) -> Response:
    user_id = request.session.get("uid")
    if user_id:  # on the server too: a copy of this cookie stops working now
        accounts.end_sessions(store, str(user_id), at=request.app.state.clock())
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/account")
def account(request: Request, store: StoreDep, user: ViewerUser) -> Response:
    return render(
        request,
        "account.html",
        {"tokens": accounts.list_tokens(store, user.user_id), "new_token": None, "message": None},
    )


@router.post("/account/tokens")
def create_token(
    request: Request, store: StoreDep, user: ViewerUser, name: Annotated[str, Form()] = "script"
) -> Response:
    record, token = accounts.create_token(store, user.user_id, name.strip() or "script")
    accounts.record_audit(
        store, "token.create", user=user, target=record.token_id, detail={"name": record.name}, ip=client_ip(request)
    )
    tokens = accounts.list_tokens(store, user.user_id)
    return render(request, "account.html", {"tokens": tokens, "new_token": token, "message": None})


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(request: Request, store: StoreDep, user: ViewerUser, token_id: str) -> Response:
    accounts.revoke_token(store, token_id, user.user_id)
    accounts.record_audit(store, "token.revoke", user=user, target=token_id, ip=client_ip(request))
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password")
def change_password(
    request: Request,
    store: StoreDep,
    user: ViewerUser,
    current: Annotated[str, Form()],
    new: Annotated[str, Form()],
) -> Response:
    stored = store.fetchall("SELECT password_hash FROM users WHERE user_id = ?", [user.user_id])
    if not verify_password(current, stored[0][0] if stored else None):
        raise InputError("The current password is wrong.")
    now = request.app.state.clock()
    accounts.update_user(store, user.user_id, accounts.UserUpdate(password=new), at=now)
    request.session["_iat"] = now  # this session carries on; every other one (a copied cookie) is ended
    accounts.record_audit(store, "user.password", user=user, target=user.email, ip=client_ip(request))
    tokens = accounts.list_tokens(store, user.user_id)
    return render(request, "account.html", {"tokens": tokens, "new_token": None, "message": "Password changed."})
