"""One function shows a journey metric: the scorecard page and CLI, the report and the alerts read the same."""

from __future__ import annotations

from heedful.journey.config import metric_text


def test_a_metric_reads_the_same_in_every_output() -> None:
    assert [metric_text(v, "feedback_positive_share") for v in (0.9524, 0.5, 1.0, 0.0)] == [
        "95.2%",
        "50%",
        "100%",
        "0%",
    ]
    assert (metric_text(31.6, "nps"), metric_text(5.456, "ces"), metric_text(None, "csat")) == ("32", "5.46", "–")
    assert metric_text(float("nan"), "csat") == "–"
