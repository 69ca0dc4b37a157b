"""The web app: dashboard pages (Jinja2 + HTMX), the REST API under /api/v1, accounts and roles.

from heedful.web import create_app, seed_demo_admin
app = create_app("duckdb:///heedful.duckdb")
"""

from __future__ import annotations

from typing import Any

from heedful.services.accounts import Role, seed_demo_admin

__all__ = ["Role", "create_app", "seed_demo_admin"]


def create_app(db_url: str | None = None, **options: Any) -> Any:
    """`heedful.web.app.create_app`, imported on first use (it loads FastAPI, Plotly and the routers)."""
    from heedful.web.app import create_app as build

    return build(db_url, **options)
