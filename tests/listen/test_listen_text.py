"""Texts from web exports carry HTML character references; the model and the quotes see the characters."""

from __future__ import annotations

import pandas as pd

from heedful.listen.classify import Classifier, enrich
from heedful.listen.text import readable


def test_character_references_are_decoded_and_nothing_else_changes() -> None:
    assert readable("it didn&#39;t hang right") == "it didn't hang right"
    assert readable("R&amp;D said &quot;soon&quot; &#x2014; twice") == 'R&D said "soon" \u2014 twice'
    for text in ("fish & chips at AT&T", "a &b; c & d;", "", "no ampersand"):
        assert readable(text) == text


def test_stored_quotes_and_the_models_reading_use_the_decoded_text(classifier: Classifier) -> None:
    # the bundled clothing reviews hold 41 texts with &#39;, &amp; or &quot; (the Listening page showed them raw)
    raw = "I bought this shirt after reading the reviews. It didn&#39;t hang right on me &amp; felt like a rug."
    rows = enrich(classifier, pd.DataFrame({"feedback_id": ["F1", "F2"], "text": [raw, readable(raw)]}))
    assert rows.loc[0, "redacted_text"] == rows.loc[1, "redacted_text"] == readable(raw)
    assert "&#39;" not in rows.loc[0, "redacted_text"]
    assert rows.loc[0, "sentiment_score"] == rows.loc[1, "sentiment_score"]
    assert rows.loc[0, "themes"] == rows.loc[1, "themes"]
    assert rows.loc[0, "text_hash"] != rows.loc[1, "text_hash"]  # the stored text is the one imported
