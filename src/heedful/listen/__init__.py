"""Listening: sentiment, themes, ownership by department and journey stage, discovery, trends, PII redaction.

Pure functions and estimators over texts and tables; nothing here opens a database, reads a file or prints.
"""

from __future__ import annotations

from heedful.listen.classify import Classifier, classify_texts
from heedful.listen.pii import redact
from heedful.listen.segment import split_clauses, split_sentences
from heedful.listen.taxonomy import Taxonomy, Theme, default_taxonomy, parse_taxonomy

__all__ = [
    "Classifier",
    "Taxonomy",
    "Theme",
    "classify_texts",
    "default_taxonomy",
    "parse_taxonomy",
    "redact",
    "split_clauses",
    "split_sentences",
]
