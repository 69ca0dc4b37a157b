"""`heedful serve`, `heedful users …` and `heedful tokens …`: run the web app and manage who may use it."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from heedful.cli.common import DbOption, JsonOption, console, emit_json, err_console, open_store, serve_web_app
from heedful.config import resolve_db_url
from heedful.errors import InputError
from heedful.services import accounts
from heedful.services.accounts import Role
from heedful.store import Store

users_app = typer.Typer(help="People who sign in to the web app, and their roles.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for scripts using the REST API.", no_args_is_help=True)


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    no_scheduler: Annotated[
        bool,
        typer.Option(
            "--no-scheduler",
            help="Do not run the scheduled jobs (monthly report, weekly digests, alert checks) in this server.",
        ),
    ] = False,
) -> None:
    """Start the web app (dashboard, REST API under /api/v1, docs at /docs) and its scheduled jobs."""
    import os

    url = resolve_db_url(db)
    os.environ["HEEDFUL_SCHEDULER"] = "0" if no_scheduler else "1"  # read by create_app() (docs/jobs.md)
    with open_store(url) as store:  # a bad URL or a locked file is one line here, not a server traceback
        has_users = bool(accounts.list_users(store))
    if not has_users:
        err_console.print("No users yet: add one with [bold]heedful users add EMAIL --role admin[/].")
    console.print(f"heedful is at [bold]http://{host}:{port}/[/]  (API docs: http://{host}:{port}/docs; Ctrl+C stops)")
    # proxy_headers: behind a TLS proxy on this machine, cookies get Secure and HSTS is sent.
    serve_web_app(url, host, port, proxy_headers=True, forwarded_allow_ips="127.0.0.1", log_level="info")


def _role(value: str) -> Role:
    try:
        return Role(value.lower())
    except ValueError:
        raise InputError(f"Role must be one of {', '.join(r.value for r in Role)}.") from None


@users_app.command("add")
def users_add(
    email: Annotated[str, typer.Argument(help="Sign-in e-mail.")],
    role: Annotated[str, typer.Option("--role", help="admin | analyst | viewer")] = "viewer",
    password: Annotated[
        str | None,
        typer.Option("--password", help="Password (10+ characters); asked for on a terminal, generated otherwise."),
    ] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add a user who can sign in to the web app."""
    chosen = password
    if chosen is None and sys.stdin.isatty() and not json_out:
        chosen = typer.prompt(
            "Password (empty: generate one)", default="", hide_input=True, confirmation_prompt=True, show_default=False
        )
    with open_store(db) as store:
        user, final = accounts.create_user(store, email, _role(role), chosen or None)
        accounts.record_audit(store, "user.create", actor="cli", target=user.email, detail={"role": user.role.value})
    generated = not chosen
    if json_out:
        emit_json(
            {
                "user_id": user.user_id,
                "email": user.email,
                "role": user.role.value,
                "password": final if generated else None,
            }
        )
        return
    console.print(f"Added {user.email} as {user.role.value}.")
    if generated:
        console.print(f"Password: [bold]{final}[/] (shown once; change it under Account after signing in)")


@users_app.command("list")
def users_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List users and their roles."""
    with open_store(db) as store:
        users = accounts.list_users(store)
    if json_out:
        emit_json([u.model_dump(mode="json") for u in users])
        return
    for u in users:
        console.print(f"{u.email:40} {u.role.value:8} {'active' if u.active else 'disabled'}")


def _find(store: Store, email: str) -> accounts.UserPublic:
    user = accounts.find_user(store, email)
    if user is None:
        raise InputError(f"No user with e-mail {email}; see `heedful users list`.")
    return user


@users_app.command("set-role")
def users_set_role(
    email: str, role: Annotated[str, typer.Argument(help="admin | analyst | viewer")], db: DbOption = None
) -> None:
    """Change a user's role."""
    with open_store(db) as store:
        user = _find(store, email)
        accounts.update_user(store, user.user_id, accounts.UserUpdate(role=_role(role)))
        accounts.record_audit(
            store, "user.update", actor="cli", target=user.email, detail={"role": [user.role.value, role]}
        )
    console.print(f"{email} is now {role}.")


@users_app.command("disable")
def users_disable(email: str, db: DbOption = None) -> None:
    """Stop a user from signing in (their API tokens stop working too)."""
    with open_store(db) as store:
        user = _find(store, email)
        accounts.update_user(store, user.user_id, accounts.UserUpdate(active=False))
        accounts.record_audit(
            store, "user.update", actor="cli", target=user.email, detail={"active": [user.active, False]}
        )
    console.print(f"{email} can no longer sign in.")


@tokens_app.command("create")
def tokens_create(
    email: Annotated[str, typer.Argument(help="The user the token acts as (with their role).")],
    name: Annotated[str, typer.Option(help="What the token is for.")] = "script",
    expires_days: Annotated[int | None, typer.Option(help="Stop accepting it after this many days.")] = None,
    db: DbOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create an API token; it is printed once (only its hash is stored)."""
    with open_store(db) as store:
        user = _find(store, email)
        record, token = accounts.create_token(store, user.user_id, name, expires_days)
        accounts.record_audit(
            store, "token.create", actor="cli", target=record.token_id, detail={"user": user.email, "name": name}
        )
    if json_out:
        emit_json({"token_id": record.token_id, "email": user.email, "role": user.role.value, "token": token})
        return
    console.print(f"Token for {user.email} ({user.role.value}), shown once:")
    typer.echo(token)
    console.print("Use it as: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/v1/customers")


@tokens_app.command("list")
def tokens_list(db: DbOption = None, json_out: JsonOption = False) -> None:
    """List API tokens (never the tokens themselves)."""
    with open_store(db) as store:
        tokens = accounts.list_tokens(store)
        emails = {u.user_id: u.email for u in accounts.list_users(store)}
    if json_out:
        emit_json([{**t.model_dump(mode="json"), "email": emails.get(t.user_id)} for t in tokens])
        return
    for t in tokens:
        state = "revoked" if t.revoked_at else "active"
        console.print(f"{t.token_id}  {emails.get(t.user_id, '?'):32} {t.name:20} {state}")


@tokens_app.command("revoke")
def tokens_revoke(token_id: str, db: DbOption = None) -> None:
    """Revoke an API token by its id."""
    with open_store(db) as store:
        accounts.revoke_token(store, token_id)
        accounts.record_audit(store, "token.revoke", actor="cli", target=token_id)
    console.print(f"Token {token_id} revoked.")


def register(app: typer.Typer) -> None:
    """Add `serve`, `users` and `tokens` to the root command."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
