"""Text as people wrote it: exports from web shops and help desks often carry HTML character references
("didn&#39;t", "R&amp;D", "&quot;soft&quot;"); the model reads, and quotes show, the characters they stand for."""

from __future__ import annotations

import html
import re

#: a numeric (&#39; &#x27;) or named (&amp; &quot;) character reference
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def readable(text: str) -> str:
    """`text` with its HTML character references decoded; unchanged (the same object) where it has none.

    Only whole references are decoded ("fish & chips" and "AT&T" stay as written)."""
    if "&" not in text or _REFERENCE.search(text) is None:
        return text
    return _REFERENCE.sub(lambda m: html.unescape(m.group(0)), text)
