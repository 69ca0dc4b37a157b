"""Advocate stories: consent scopes, what may be published where, and the HTML snippet for approved ones."""

from __future__ import annotations

import html

import pandas as pd

from heedful.errors import InputError

SCOPES = ("website", "social", "sales")
SCOPE_LABELS = {"website": "our website", "social": "social media", "sales": "sales decks"}


def check_scopes(scopes: list[str] | tuple[str, ...] | set[str]) -> set[str]:
    """The consent scopes given, validated; a story with no scope cannot be published anywhere."""
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise InputError(f"Unknown consent scope(s) {sorted(unknown)}: use {', '.join(SCOPES)}.")
    return set(scopes)


def publishable(stories: pd.DataFrame, scope: str | None = None) -> pd.DataFrame:
    """Approved stories, optionally only those whose author consented to `scope`."""
    if stories.empty:
        return stories
    approved = stories[stories["status"] == "approved"]
    if scope is not None:
        check_scopes([scope])
        approved = approved[approved[f"consent_{scope}"].fillna(False).astype(bool)]
    return approved.reset_index(drop=True)


def stories_html(stories: pd.DataFrame) -> str:
    """A self-contained HTML snippet (escaped) of stories, to paste into a website or deck."""
    items = []
    for rec in stories.itertuples(index=False):
        author = f"<footer>{html.escape(str(rec.author_name))}</footer>" if isinstance(rec.author_name, str) else ""
        items.append(
            '<blockquote class="heedful-story">'
            f"<h3>{html.escape(str(rec.title))}</h3><p>{html.escape(str(rec.body))}</p>{author}</blockquote>"
        )
    return '<section class="heedful-stories">\n' + "\n".join(items) + "\n</section>\n"
