"""The one codec for an item's list of theme ids as stored in `feedback_enriched.themes`.

The column holds the ids joined by ";" in the item's own order (main theme first); "" or NULL means no
theme. Every reader and writer goes through these functions, so the encoding lives in one place. A leaf
like `errors.py` and `stats.py`: any package may import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

SEPARATOR = ";"


def encode_themes(themes: Iterable[str]) -> str:
    """Theme ids -> the stored text ("" for none); order kept, blanks and repeats dropped."""
    seen: dict[str, None] = {}
    for theme in themes:
        text = str(theme).strip()
        if text and SEPARATOR not in text:
            seen.setdefault(text, None)
        elif text:
            raise ValueError(f"a theme id may not contain {SEPARATOR!r}: {text!r}")
    return SEPARATOR.join(seen)


def decode_themes(value: Any) -> list[str]:
    """The stored text -> theme ids, in order; NULL, NaN and "" give []."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return []
    return [t for t in str(value).split(SEPARATOR) if t]


def mention_polarity(themes: Any, theme_sentiments: Any, item_sentiment: Any) -> np.ndarray:
    """Each mention's polarity, one per (item, theme) row: the theme's own in the item's `theme_sentiments`
    (its JSON object theme id -> positive | negative | neutral), else the item's sentiment, else "neutral".
    The one rule by which the Listening page, its trends, the journey scorecard and the alerts read a
    mention. Arrow's kernels do the reading: it runs over millions of mentions."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    names = np.asarray(themes, dtype=object)
    item = np.asarray(item_sentiment, dtype=object)
    out = np.where([isinstance(v, str) and v != "" for v in item], item, "neutral").astype(object)
    if not len(names):
        return out
    found = pa.array(np.asarray(theme_sentiments, dtype=object), type=pa.string(), from_pandas=True)
    found = pc.fill_null(found, "")
    for name in pd.unique(names):
        mask = names == name
        pattern = '"' + re.escape(str(name)) + r'"\s*:\s*"(?P<s>\w+)"'
        own = pc.struct_field(pc.extract_regex(found.filter(pa.array(mask)), pattern), [0])
        own_np = own.to_numpy(zero_copy_only=False)
        out[mask] = np.where(pd.isna(own_np), out[mask], own_np)
    return out


def theme_lists(values: pd.Series) -> pd.Series:
    """A column of stored texts -> a column of lists of theme ids (same index)."""
    return values.map(decode_themes)


def main_theme(values: pd.Series) -> pd.Series:
    """A column of stored texts -> each item's main (first) theme id, "" where it has none."""
    return values.map(lambda v: next(iter(decode_themes(v)), ""))


def explode_themes(frame: pd.DataFrame, column: str = "themes", name: str = "theme") -> pd.DataFrame:
    """One row per (item, theme): `frame` with `column` decoded into `name`; items without a theme dropped."""
    out = frame.assign(**{name: theme_lists(frame[column])}).explode(name)
    return out[out[name].notna() & (out[name] != "")]


def theme_filter_sql(column: str, theme: str) -> tuple[str, str]:
    """A SQL condition (with one `?` parameter) true where the stored `column` lists `theme`, and its parameter.

    Wildcards in the theme id are literal.
    """
    escaped = theme.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"('{SEPARATOR}' || {column} || '{SEPARATOR}') LIKE ? ESCAPE '\\'", f"%{SEPARATOR}{escaped}{SEPARATOR}%"


def humanise(theme_id: str) -> str:
    """A theme id no taxonomy labels, in words: "cold_soup" -> "Cold soup"."""
    text = str(theme_id).replace("_", " ").replace("-", " ").strip()
    return text[:1].upper() + text[1:]
