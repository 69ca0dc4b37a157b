"""Internal customers: staff and partners, heard with the same tools but never mixed with customers.

Feedback whose author is staff or a partner (`author_kind`), and survey answers from staff or
partner surveys or respondents, form separate audiences. Their views are stricter about
anonymity: any group (theme, department, period, metric) with fewer than `MIN_GROUP` distinct
respondents is suppressed with a note, no individual is ever listed, and quotes are shown only
in their redacted form.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from heedful.journey.config import MetricSpec
from heedful.journey.metrics import JourneyData, nps_value, wilson_interval
from heedful.journey.scorecard import Scorecard, need_status

MIN_GROUP = 5
INTERNAL_AUDIENCES = ("staff", "partner")
AUDIENCES = ("external", *INTERNAL_AUDIENCES)


def suppression_note(min_group: int = MIN_GROUP) -> str:
    return f"suppressed: fewer than {min_group} respondents"


def feedback_audience(feedback: pd.DataFrame) -> pd.Series:
    """external | staff | partner for every feedback row."""
    kind = feedback["author_kind"].fillna("customer").astype(str)
    return kind.where(kind.isin(INTERNAL_AUDIENCES), "external")


def answers_audience(answers: pd.DataFrame) -> pd.Series:
    """external | staff | partner for every answer row (from the survey's audience or the respondent's kind)."""
    kind = answers["audience"].fillna("customer").astype(str)
    return kind.where(kind.isin(INTERNAL_AUDIENCES), "external")


def split_audiences(data: JourneyData) -> dict[str, JourneyData]:
    """One JourneyData per audience; customers' views only ever see the `external` one.

    Computed once per data set (kept on it), so the derived columns of each view are too."""
    if data.audiences is not None:
        return data.audiences
    fb_aud = feedback_audience(data.feedback)
    ans_aud = answers_audience(data.answers)
    split = {"external": data.subset(fb_aud == "external", ans_aud == "external")}
    for aud in INTERNAL_AUDIENCES:
        # Orders, customer value and operations describe external customers: internal audiences
        # are measured by what they say and answer only.
        split[aud] = JourneyData(
            feedback=data.feedback[(fb_aud == aud).to_numpy()],
            answers=data.answers[(ans_aud == aud).to_numpy()],
            customers=data.customers[data.customers["kind"] == aud] if not data.customers.empty else None,
        )
    data.audiences = split
    return split


def respondent_ids(feedback: pd.DataFrame) -> pd.Series:
    """Who wrote each item: the customer id where known, else the item itself (one item, one person)."""
    return feedback["customer_id"].where(feedback["customer_id"].notna(), "item:" + feedback["feedback_id"].astype(str))


def metric_respondents(spec: MetricSpec, data: JourneyData) -> pd.Series:
    """Distinct respondents behind a metric, per period (items can come several from one person)."""
    fb = data.feedback
    if spec.kind == "theme_positive_share":
        m = data.mentions_of(spec.theme)
        who = respondent_ids(fb).to_numpy()[m["row"].to_numpy(dtype="int64")]
        return pd.Series(who).groupby(m["period"].astype(str).to_numpy()).nunique()
    if spec.kind == "feedback_positive_share":
        keep = pd.Series(True, index=fb.index)
        if spec.stage:
            keep &= fb["journey_stage"] == spec.stage
        if spec.department:
            keep &= fb["department"] == spec.department
        return respondent_ids(fb[keep]).groupby(data.feedback_period[keep].astype(str)).nunique()
    if spec.question:
        a = data.answers
        keep = a["question_id"] == spec.question
        if spec.survey:
            keep &= a["slug"] == spec.survey
        who = a.loc[keep, "customer_id"].fillna(a.loc[keep, "response_id"])
        return who.groupby(data.answers_period[keep].astype(str)).nunique()
    return pd.Series(dtype="int64")


def suppress_scorecard(scorecard: Scorecard, data: JourneyData, min_group: int = MIN_GROUP) -> Scorecard:
    """Apply internal anonymity rules to a scorecard computed on a staff or partner audience (in place).

    Metrics and trend points are counted in distinct respondents, not items, before showing them."""
    redacted = data.feedback.set_index("feedback_id")["redacted_text"] if not data.feedback.empty else pd.Series()
    note = suppression_note(min_group)
    for need in scorecard.needs:
        need.customers_affected = []  # never list individual staff or partners
        need.affected_value = None
        for m in need.metrics:
            people = metric_respondents(m.spec, data)
            if m.n > 0 and int(people.get(m.period, 0)) < min_group:
                m.value = m.low = m.high = m.previous = m.change = m.change_p_value = None
                m.status = "no_data"
                m.trend = "suppressed"
                need.notes.append(f"{m.spec.title}: {note}")
            if not m.series.empty:
                small = m.series["period"].map(people).fillna(0).to_numpy() < min_group
                m.series = m.series.assign(
                    value=m.series["value"].where(~small),
                    low=m.series["low"].where(~small),
                    high=m.series["high"].where(~small),
                )
        if need.affected_count < min_group:
            need.quotes = []
        else:
            need.quotes = [
                {**q, "text": str(redacted.get(q["feedback_id"]))}
                for q in need.quotes
                if isinstance(redacted.get(q["feedback_id"]), str) and redacted.get(q["feedback_id"])
            ]
        need.themes = [t for t in need.themes if t["mentions"] >= min_group]
        need.status = need_status(need.metrics)
    return scorecard


def _share_row(label: str, k: int, n: int, respondents: int, min_group: int) -> dict[str, Any]:
    if respondents < min_group:
        return {
            "group": label,
            "respondents": None,
            "value": None,
            "low": None,
            "high": None,
            "note": suppression_note(min_group),
        }
    low, high = wilson_interval(k, n)
    return {
        "group": label,
        "respondents": respondents,
        "value": k / n if n else None,
        "low": float(low),
        "high": float(high),
        "note": None,
    }


def internal_summary(
    data: JourneyData,
    period: str,
    audience: str,
    *,
    min_group: int = MIN_GROUP,
    nps_questions: tuple[str, ...] = ("enps", "nps"),
    audiences: dict[str, JourneyData] | None = None,
) -> dict[str, Any]:
    """What staff (or partners) said in `period`: positive share overall, per theme and per
    department, and eNPS — each group shown only with at least `min_group` respondents."""
    split = (audiences or split_audiences(data))[audience]
    fb = split.feedback[(split.feedback_period == period).to_numpy()]
    who = respondent_ids(fb)
    overall_n = int(who.nunique())
    summary: dict[str, Any] = {"audience": audience, "period": period, "min_group": min_group}
    summary["positive"] = _share_row(
        "all feedback", int((fb["sentiment"] == "positive").sum()), len(fb), overall_n, min_group
    )
    summary["respondents"] = overall_n if overall_n >= min_group else None
    summary["any_data"] = overall_n > 0

    mentions = split.theme_mentions
    mentions = mentions[mentions["period"] == period]
    themes = []
    if not mentions.empty:
        author = respondent_ids(split.feedback).to_numpy()[mentions["row"].to_numpy()]
        m = mentions.assign(author=author, positive=(mentions["theme_sentiment"] == "positive").to_numpy())
        for theme, g in m.groupby("theme"):
            themes.append(
                _share_row(str(theme), int(g["positive"].sum()), len(g), int(g["author"].nunique()), min_group)
            )
    summary["themes"] = sorted(themes, key=lambda r: (r["value"] is None, r["value"] if r["value"] is not None else 0))

    departments = []
    for dept, g in fb.groupby(fb["department"].fillna("unassigned")):
        departments.append(
            _share_row(
                str(dept),
                int((g["sentiment"] == "positive").sum()),
                len(g),
                int(respondent_ids(g).nunique()),
                min_group,
            )
        )
    summary["departments"] = departments

    a = split.answers[(split.answers_period == period).to_numpy()]
    a = a[a["question_id"].isin(nps_questions)]
    respondents = int(a["customer_id"].fillna(a["response_id"]).nunique()) if not a.empty else 0
    if respondents == 0:
        summary["enps"] = None
    elif respondents < min_group:
        summary["enps"] = {"value": None, "note": suppression_note(min_group)}
    else:
        value, low, high, _ = nps_value(pd.to_numeric(a["value_num"], errors="coerce"))
        summary["enps"] = {"value": value, "low": low, "high": high, "respondents": respondents, "note": None}
    summary["suppressed_groups"] = int(
        sum(1 for r in [*themes, *departments] if r["note"] is not None) + (1 if summary["positive"]["note"] else 0)
    )
    return summary


def apply_min_group(
    frame: pd.DataFrame, count_column: str, value_columns: list[str], min_group: int = MIN_GROUP
) -> pd.DataFrame:
    """Blank `value_columns` (and the count) on rows counting fewer than `min_group` respondents, with a note."""
    small = frame[count_column] < min_group
    out = frame.copy()
    for c in [*value_columns, count_column]:
        out[c] = out[c].astype("object").where(~small, None)
    out["note"] = [suppression_note(min_group) if is_small else None for is_small in small]
    return out
