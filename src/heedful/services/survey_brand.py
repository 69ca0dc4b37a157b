"""The business's name and colour on its public survey pages: the `brand` setting and readable colours from it.

The colour is any hex colour the business picks; the page never uses it where text would become hard to
read: header text is black or white, whichever contrasts more with it (WCAG 2 contrast at least 4.5:1, which
one of the two always reaches), and links and accents on the white page are darkened until they reach 4.5:1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from heedful.errors import InputError
from heedful.store.backend import Store
from heedful.store.settings_repo import delete_setting, get_setting, put_setting

KEY = "brand"
WHITE = "#ffffff"
DARK = "#000000"  # with white, one of the two always contrasts at least 4.58:1 with any colour
READABLE = 4.5  # WCAG 2 AA contrast for normal text
_HEX = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Brand:
    """The business's name and colour (#rrggbb) as its survey pages show them."""

    name: str
    colour: str


@dataclass(frozen=True)
class BrandStyle:
    """Colours for a branded page, each readable on what it is drawn on."""

    header_background: str
    header_text: str
    accent: str  # buttons and the progress bar (with `accent_text` on them)
    accent_text: str
    link: str  # on the page's white background


def normalise_colour(value: str) -> str:
    """'#1A6' or '1a66aa' -> '#11aa66' / '#1a66aa'; InputError (in words) when it is not a hex colour."""
    match = _HEX.match(value.strip())
    if not match:
        raise InputError(f"“{value.strip()}” is not a colour: write it as # and six hex digits, like #1a66aa.")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return "#" + digits


def _luminance(colour: str) -> float:
    """WCAG 2 relative luminance of '#rrggbb'."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two '#rrggbb' colours, from 1 (same) to 21 (black on white)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def text_on(background: str) -> str:
    """Black or white text, whichever is easier to read on `background`."""
    return DARK if contrast_ratio(DARK, background) >= contrast_ratio(WHITE, background) else WHITE


def readable_on_white(colour: str) -> str:
    """`colour`, darkened in small steps until text in it reads on white (contrast at least 4.5:1)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    current = colour
    while contrast_ratio(current, WHITE) < READABLE:
        rgb = [int(c * 0.92) for c in rgb]
        current = "#" + "".join(f"{c:02x}" for c in rgb)
    return current


def style_of(brand: Brand) -> BrandStyle:
    accent = readable_on_white(brand.colour)
    return BrandStyle(brand.colour, text_on(brand.colour), accent, text_on(accent), accent)


def brand(store: Store) -> Brand | None:
    """The saved brand, or None when none is set (the pages then look like the app)."""
    saved: Any = get_setting(store, KEY)
    if not isinstance(saved, dict) or not saved.get("name") or not saved.get("colour"):
        return None
    try:
        return Brand(str(saved["name"]), normalise_colour(str(saved["colour"])))
    except InputError:
        return None


def save_brand(store: Store, name: str, colour: str, actor: str) -> Brand:
    """Validate and save the business's name and colour for the public survey pages."""
    name = " ".join(name.split())
    if not name:
        raise InputError("Give the business's name as customers know it.")
    if len(name) > 80:
        raise InputError("The name is too long: use at most 80 characters.")
    saved = Brand(name, normalise_colour(colour))
    put_setting(store, KEY, {"name": saved.name, "colour": saved.colour}, actor)
    return saved


def forget_brand(store: Store) -> None:
    """Back to the app's own look on the public pages."""
    delete_setting(store, KEY)
