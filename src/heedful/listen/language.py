"""Which language a text is in: the listening model reads English, so other languages are flagged, not guessed.

Language identification is py3langid's (a maintained, packaged langid.py model: 97 languages, offline).
A text is called non-English only with confidence: at least MIN_LETTERS letters and a normalised
probability of CONFIDENCE or more for another language (measured on 29,482 English reviews and review
sentences of `../shared/data`: none flagged at 0.8, one at 0.7). Short or unsure texts count as English.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MIN_LETTERS = 20
CONFIDENCE = 0.8
ENGLISH = "en"


@lru_cache(maxsize=1)
def _identifier() -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def non_english(text: str) -> str | None:
    """The ISO 639-1 code when `text` is confidently in another language than English, else None."""
    if sum(ch.isalpha() for ch in text[:2000]) < MIN_LETTERS:
        return None
    code, probability = _identifier().classify(text[:2000])
    return str(code) if code != ENGLISH and probability >= CONFIDENCE else None
