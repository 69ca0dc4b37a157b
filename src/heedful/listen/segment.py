"""Sentence and clause splitting, so "food great, service slow" is heard as two opinions."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+|(?<=[.!?])(?=[A-Z])")
# Contrast words start a new opinion even without punctuation ("great food but slow service"). "even
# though" starts one clause: the split goes before "even", never between the two words ("Even" alone was a
# clause, and "though its good seafood" lost its subordinator).
_CONTRAST = re.compile(
    r"\s*(?:[,;:]\s*|\s-+\s|\s)(?=(?:but|however|although|even\s+though|(?<!\beven\s)though|whereas|yet|except)\b)",
    re.I,
)
_SOFT_BREAK = re.compile(r"\s*(?:[;:]|,|\s-+\s|\s–\s)\s*")
_WORD = re.compile(r"[A-Za-z0-9']+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "we",
        "you",
        "they",
        "he",
        "she",
        "my",
        "our",
        "your",
        "their",
        "me",
        "us",
        "them",
        "very",
        "so",
        "too",
        "also",
        "just",
        "really",
    ]
)


def split_sentences(text: str) -> list[str]:
    """Sentences of a text (punctuation kept); blank pieces dropped."""
    parts = _SENTENCE_END.split(text.strip())
    return [p.strip() for p in parts if p and p.strip() and _WORD.search(p)]


def _content_words(piece: str) -> int:
    return sum(1 for w in _WORD.findall(piece.lower()) if w not in _STOP)


def split_clauses(sentence: str, min_content_words: int = 2) -> list[str]:
    """Clauses of one sentence that each carry their own opinion.

    A comma, semicolon or dash splits only where both sides have at least `min_content_words` content
    words, so lists ("the food, service and decor were great") stay whole while
    "food great, service slow" splits. Contrast words (but, however, although…) always split.
    """
    clauses: list[str] = []
    for chunk in _CONTRAST.split(sentence):
        pieces = [p for p in _SOFT_BREAK.split(chunk) if p.strip()]
        merged: list[str] = []
        for piece in pieces:
            if merged and (_content_words(piece) < min_content_words or _content_words(merged[-1]) < min_content_words):
                merged[-1] = f"{merged[-1]}, {piece}"
            else:
                merged.append(piece)
        clauses.extend(m.strip() for m in merged if _WORD.search(m))
    return clauses or [sentence.strip()]


def segment(text: str) -> list[list[str]]:
    """Sentences, each as its list of clauses."""
    return [split_clauses(s) for s in split_sentences(text)]
