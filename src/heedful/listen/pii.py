"""Redaction of personal data in quotes: e-mails, phone numbers, card numbers (Luhn-checked), names.

Limits: names are found only in common patterns ("my name is X", "I'm X", greetings and sign-offs
such as "Hi Anna," or "Thanks, John Smith", titles like "Mr Brown"); other names pass through.
Phone numbers need at least 8 digits, so short numbers (order ids, prices) stay.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_CARD_CANDIDATE = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
PHONE = re.compile(r"(?<![\w])(?:\+|00)?\d[\d\s().-]{6,}\d(?![\w])")
_NAME = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+)?"
_NAME_PATTERNS = (
    re.compile(rf"(\b(?:my name is|my name's|i am|i'm|this is|call me|name:)\s+)({_NAME})", re.I),
    re.compile(rf"(\b(?:Mr|Mrs|Ms|Miss|Dr|Prof)\.?\s+)({_NAME})"),
    re.compile(
        rf"(\b(?:[Hh]i|[Hh]ello|[Dd]ear|[Hh]ey|[Tt]hanks|[Tt]hank you|[Rr]egards|[Cc]heers),?\s+)({_NAME})(?=\s*[,!.\n]|$)"
    ),
    re.compile(
        rf"(\b(?:agent|rep|representative|advisor|driver|waiter|waitress|manager)\s+(?:named\s+|called\s+)?)({_NAME})\b"
    ),
)
# Words that follow "I'm" etc. and are not names.
_NOT_NAMES = frozenset(
    [
        "so",
        "very",
        "not",
        "really",
        "happy",
        "sad",
        "sorry",
        "disappointed",
        "glad",
        "sure",
        "going",
        "writing",
        "a",
        "an",
        "the",
        "still",
        "just",
        "also",
        "never",
        "always",
        "here",
        "there",
        "done",
        "satisfied",
        "impressed",
    ]
)


def luhn_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn checksum used by payment cards."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 and luhn_valid(digits) else match.group(0)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[PHONE]" if 8 <= len(digits) <= 15 else match.group(0)


def _name(match: re.Match[str]) -> str:
    name = match.group(2)
    if name.split()[0].lower() in _NOT_NAMES:
        return match.group(0)
    return f"{match.group(1)}[NAME]"


def redact(text: str, names: bool = True) -> str:
    """The text with e-mails, card numbers, phone numbers and (where detectable) person names replaced."""
    if not text:
        return text
    out = EMAIL.sub("[EMAIL]", text)
    out = _CARD_CANDIDATE.sub(_card, out)
    out = PHONE.sub(_phone, out)
    if names:
        for pattern in _NAME_PATTERNS:
            out = pattern.sub(_name, out)
    return out
