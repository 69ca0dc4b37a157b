"""Which language a text is in: the listening model reads English, so other languages are flagged, not guessed.

Language identification is py3langid's (a maintained, packaged langid.py model: 97 languages, offline).
A text is called non-English only with confidence: at least MIN_LETTERS letters and a normalised
probability of CONFIDENCE or more for another language (measured on 29,482 English reviews and review
sentences of `../shared/data`: none flagged at 0.8, one at 0.7). Short or unsure texts count as English.

A text that is plainly English is not sent to the model: at least two different words of ENGLISH_ONLY
(function words no other language common in Latin script spells the same way: not "is", "was", "of",
"to", "for", "my", "her", "just", "so", "also"…) making up at least ENGLISH_ONLY_SHARE of its words. That
only ever keeps a text from being flagged, never flags one. On 2,000 clothing reviews it settles 95% of
the texts long enough to ask the model about, and the model (~0.5 s to load) is not needed at all where
every text is settled so.
"""

from __future__ import annotations

import re
import threading
from typing import Any

MIN_LETTERS = 20
CONFIDENCE = 0.8
ENGLISH = "en"
ENGLISH_ONLY = frozenset(
    [
        "the",
        "and",
        "this",
        "that",
        "with",
        "but",
        "you",
        "they",
        "very",
        "have",
        "had",
        "were",
        "are",
        "not",
        "it",
        "would",
        "really",
        "because",
        "which",
        "what",
        "when",
        "she",
        "our",
        "your",
        "their",
        "been",
        "there",
        "these",
        "those",
        "than",
        "could",
        "should",
        "about",
        "i'm",
        "it's",
        "don't",
        "didn't",
    ]
)
ENGLISH_ONLY_SHARE = 0.15
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


_LOADING = threading.Lock()
_MODEL: list[Any] = []  # the identifier, once loaded


def _identifier() -> Any:
    with _LOADING:  # one load, whichever thread asks first (`load_in_background`)
        if not _MODEL:
            from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

            _MODEL.append(LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True))
        return _MODEL[0]


def load_in_background() -> None:
    """Start loading the model on a thread of its own: most of its ~0.35 s is LZMA decompression, which
    runs beside Python's other work (it releases the GIL). `non_english` then waits only for what is left."""
    if not _MODEL:
        threading.Thread(target=_identifier, name="heedful-langid", daemon=True).start()


def needs_model(text: str) -> bool:
    """Whether `non_english` asks the model about `text` (not plainly English, and long enough)."""
    return not plainly_english(text) and sum(ch.isalpha() for ch in text[:2000]) >= MIN_LETTERS


def plainly_english(text: str) -> bool:
    """Two different ENGLISH_ONLY words or more, making up ENGLISH_ONLY_SHARE of the words or more."""
    words = _WORD.findall(text[:2000].lower().replace("’", "'"))
    hits = [w for w in words if w in ENGLISH_ONLY]
    return len(set(hits)) >= 2 and len(hits) >= ENGLISH_ONLY_SHARE * len(words)


def non_english(text: str) -> str | None:
    """The ISO 639-1 code when `text` is confidently in another language than English, else None."""
    if not needs_model(text):
        return None
    code, probability = _identifier().classify(text[:2000])
    return str(code) if code != ENGLISH and probability >= CONFIDENCE else None
