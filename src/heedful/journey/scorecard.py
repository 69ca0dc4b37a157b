"""Scorecards: for every need, its metrics against target, the trend, and the evidence behind them.

The evidence is what a department can act on: the themes people talk about at that stage, a few
verbatim quotes (redacted text where listening produced one), and the customers affected, most
valuable first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from heedful.journey.config import JourneyConfig, Need
from heedful.journey.metrics import JourneyData, MetricResult, Status, evaluate_metric, metric_series, previous_period
from heedful.journey.periods import Coverage, first_days
from heedful.journey.periods import coverage as coverage_of
from heedful.themes import main_theme

_STATUS_ORDER: dict[str, int] = {"missed": 3, "at_risk": 2, "met": 1, "not_enough_data": 0, "no_data": 0}
_UNMEASURED = ("not_enough_data", "no_data")  # neither met nor missed
STATUS_TEXT = {
    "met": "met",
    "at_risk": "at risk",
    "missed": "missed",
    "not_enough_data": "not enough data",
    "no_data": "no data",
}


def status_text(status: str, n: int | None = None) -> str:
    """A status in words; 'not enough data (n = 1)' says why a metric is neither met nor missed."""
    if status == "not_enough_data" and n is not None:
        return f"not enough data (n = {n})"
    return STATUS_TEXT.get(status, status)


_FEEDBACK_KINDS = {"theme_positive_share", "feedback_positive_share"}
_SURVEY_KINDS = {"nps", "csat", "ces", "survey_mean"}


@dataclass
class NeedScore:
    """How well one need is met in one period."""

    need: Need
    stage_name: str
    department_name: str
    status: Status
    metrics: list[MetricResult]
    themes: list[dict[str, Any]] = field(default_factory=list)
    quotes: list[dict[str, Any]] = field(default_factory=list)
    customers_affected: list[dict[str, Any]] = field(default_factory=list)
    affected_count: int = 0
    affected_value: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def worst_change(self) -> float:
        """How strongly the need's metrics moved the wrong way (signed z-like score; < 0 is worse)."""
        scores = []
        for m in self.metrics:
            if m.change is None or m.change_p_value is None:
                continue
            sign = 1.0 if (m.change > 0) == (m.spec.better == "higher") else -1.0
            scores.append(sign * (1 - m.change_p_value))
        return min(scores) if scores else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "need_id": self.need.id,
            "label": self.need.label,
            "stage": self.need.stage,
            "stage_name": self.stage_name,
            "department": self.need.department,
            "department_name": self.department_name,
            "status": self.status,
            "status_text": status_text(self.status),
            "metrics": [
                {**m.to_dict(), "status_text": status_text(m.status, m.n), "min_n": m.spec.min_n} for m in self.metrics
            ],
            "themes": self.themes,
            "quotes": self.quotes,
            "customers_affected": self.customers_affected,
            "affected_count": self.affected_count,
            "affected_value": self.affected_value,
            "notes": self.notes,
        }


@dataclass
class Scorecard:
    """All needs (or one department's) for one period and one audience."""

    period: str
    audience: str
    needs: list[NeedScore]
    departments: dict[str, str]
    coverage: Coverage | None = None  # how much of the period the data covers (None: taken as complete)

    def by_department(self) -> dict[str, list[NeedScore]]:
        out: dict[str, list[NeedScore]] = {}
        for score in self.needs:
            out.setdefault(score.need.department, []).append(score)
        return out

    def department_summary(self) -> list[dict[str, Any]]:
        rows = []
        for dept_id, scores in self.by_department().items():
            counts = {s: sum(1 for n in scores if n.status == s) for s in _STATUS_ORDER}
            rows.append(
                {
                    "department": dept_id,
                    "department_name": self.departments.get(dept_id, dept_id),
                    "needs": len(scores),
                    **counts,
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            **(self.coverage or coverage_of(self.period, None)).to_dict(),
            "period": self.period,
            "audience": self.audience,
            "departments": self.department_summary(),
            "needs": [n.to_dict() for n in self.needs],
        }


def need_status(results: list[MetricResult]) -> Status:
    """The worst status of the need's measured metrics; not_enough_data when every measured metric has
    fewer than its minimum n, no_data when nothing was measured."""
    measured = [r.status for r in results if r.status not in _UNMEASURED]
    if not measured:
        return "not_enough_data" if any(r.status == "not_enough_data" for r in results) else "no_data"
    return max(measured, key=lambda s: _STATUS_ORDER[s])


def build_scorecard(
    config: JourneyConfig,
    data: JourneyData,
    period: str,
    *,
    department: str | None = None,
    audience: str = "external",
    quotes: int = 3,
    customers: int = 10,
    history: int = 12,
    coverage: Coverage | None = None,
) -> Scorecard:
    """Score every need of `config` (or of one department) on `data` for `period` ('2026-10').

    When `coverage` says the period is partial, each metric's previous value is that of the same
    number of days of the month before (`journey.periods.first_days`), never of the whole month."""
    needs = config.needs if department is None else config.needs_of(department)
    cut = first_days(data, [previous_period(period)], coverage.days) if coverage and coverage.partial else None
    scores = []
    for need in needs:
        results = [
            evaluate_metric(
                spec,
                data,
                period,
                history=history,
                before=metric_series(spec, cut, snapshot_period=period) if cut is not None else None,
            )
            for spec in need.metrics
        ]
        score = NeedScore(
            need=need,
            stage_name=config.stage_name(need.stage),
            department_name=config.department_name(need.department),
            status=need_status(results),
            metrics=results,
        )
        _add_evidence(score, data, period, quotes=quotes, customers=customers)
        scores.append(score)
    departments = {d.id: d.name for d in config.departments}
    return Scorecard(period=period, audience=audience, needs=scores, departments=departments, coverage=coverage)


def _need_feedback(need: Need, data: JourneyData, period: str) -> np.ndarray:
    """Which feedback rows of the period speak to the need (its metrics' themes, stage or department)."""
    fb = data.feedback
    in_period = (data.feedback_period == period).to_numpy()
    keep = np.zeros(len(fb), dtype=bool)
    themes = {m.theme for m in need.metrics if m.kind == "theme_positive_share" and m.theme}
    for theme in themes:
        keep[data.mentions_of(theme)["row"].to_numpy(dtype=np.int64)] = True
    for m in need.metrics:
        if m.kind == "feedback_positive_share":
            mask = np.ones(len(fb), dtype=bool)
            if m.stage:
                mask &= (fb["journey_stage"] == m.stage).to_numpy()
            if m.department:
                mask &= (fb["department"] == m.department).to_numpy()
            keep |= mask
    if not themes and not any(m.kind == "feedback_positive_share" for m in need.metrics):
        keep |= (fb["journey_stage"] == need.stage).to_numpy()
    return keep & in_period


def _add_evidence(score: NeedScore, data: JourneyData, period: str, *, quotes: int, customers: int) -> None:
    keep = _need_feedback(score.need, data, period)
    fb = data.feedback[keep]
    score.themes = _themes_behind(keep, data)
    need_themes = {m.theme for m in score.need.metrics if m.theme}
    score.quotes = _quotes(fb, quotes, need_themes)
    unhappy_ids = fb.loc[fb["sentiment"].isin(["negative", "mixed"]), "customer_id"].dropna()
    survey_ids = _unhappy_respondents(score.need, data, period)
    affected = pd.Index(pd.concat([unhappy_ids, survey_ids]).astype(str).unique())
    score.affected_count = len(affected)
    if len(affected) and not data.customer_value.empty:
        cv = data.value_of(affected)
        score.affected_value = float(pd.to_numeric(cv["clv"], errors="coerce").sum())
        score.customers_affected = _top_customers(cv, data.customers, customers)
    elif len(affected):
        score.customers_affected = [{"customer_id": c} for c in affected[:customers]]


def _themes_behind(keep: np.ndarray, data: JourneyData) -> list[dict[str, Any]]:
    """The themes mentioned in the need's feedback rows (`keep`), most negative first."""
    if not keep.any():
        return []
    mentions = data.theme_mentions
    m = mentions[keep[mentions["row"].to_numpy(dtype=np.int64)]]
    if m.empty:
        return []
    m = m.assign(neg=m["theme_sentiment"] == "negative", pos=m["theme_sentiment"] == "positive")
    g = m.groupby("theme").agg(mentions=("theme", "size"), negative=("neg", "sum"), positive=("pos", "sum"))
    g = g.sort_values(["negative", "mentions"], ascending=False).head(6).reset_index()
    return [
        {
            "theme": r.theme,
            "mentions": int(r.mentions),
            "negative": int(r.negative),
            "positive": int(r.positive),
            "negative_share": r.negative / r.mentions,
        }
        for r in g.itertuples()
    ]


def quote_text(fb: pd.DataFrame) -> pd.Series:
    """What may be shown of a text: the redacted version where listening produced one."""
    redacted = fb["redacted_text"] if "redacted_text" in fb else pd.Series(None, index=fb.index)
    return redacted.where(redacted.notna() & (redacted.astype(str) != ""), fb["text"])


def _quotes(fb: pd.DataFrame, k: int, themes: set[str] | None = None) -> list[dict[str, Any]]:
    """Negative quotes first (they say what to fix), then positive ones; texts mainly about the
    need's themes, then short ones, preferred."""
    if fb.empty or k <= 0:
        return []
    shown = fb.assign(quote=quote_text(fb))
    shown = shown[shown["quote"].notna()]
    shown = shown.assign(
        length=shown["quote"].astype(str).str.len(),
        off_topic=~main_theme(shown["themes"]).isin(themes) if themes else False,
    )
    shown = shown[shown["length"] >= 10]
    order = ["off_topic", "length"]
    neg = shown[shown["sentiment"] == "negative"].sort_values(order).head(max(1, k - 1))
    pos = shown[shown["sentiment"] == "positive"].sort_values(order).head(k - len(neg))
    picked = pd.concat([neg, pos])
    return [
        {
            "feedback_id": r["feedback_id"],
            "text": str(r["quote"])[:400],
            "sentiment": r["sentiment"],
            "created_at": r["created_at"],
        }
        for r in picked.to_dict(orient="records")
    ]


def _unhappy_respondents(need: Need, data: JourneyData, period: str) -> pd.Series:
    """Respondents whose survey answers on the need's questions were poor (NPS detractors, low CSAT…)."""
    a = data.answers
    parts = []
    for m in need.metrics:
        if m.kind not in _SURVEY_KINDS:
            continue
        keep = (a["question_id"] == m.question) & (data.answers_period == period)
        if m.survey:
            keep &= a["slug"] == m.survey
        v = pd.to_numeric(a.loc[keep, "value_num"], errors="coerce")
        if m.kind == "nps":
            poor = v <= 6
        elif m.kind == "csat":
            poor = v < (m.threshold if m.threshold is not None else 4.0)
        else:
            below = v < m.target if m.better == "higher" else v > m.target
            poor = below
        parts.append(a.loc[keep, "customer_id"][poor.to_numpy()])
    return pd.concat(parts).dropna() if parts else pd.Series(dtype="object")


def _top_customers(cv: pd.DataFrame, customers: pd.DataFrame, k: int) -> list[dict[str, Any]]:
    top = cv.assign(clv=pd.to_numeric(cv["clv"], errors="coerce")).sort_values("clv", ascending=False).head(k)
    few = customers[customers["customer_id"].isin(top["customer_id"])].drop_duplicates("customer_id")
    names = dict(zip(few["customer_id"], few["name"], strict=True))
    return [
        {
            "customer_id": r["customer_id"],
            "name": names.get(r["customer_id"]),
            "clv": r["clv"],
            "churn_risk": r.get("churn_risk"),
            "segment": r.get("segment"),
        }
        for r in top.to_dict(orient="records")
    ]
