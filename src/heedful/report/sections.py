"""The sections of the customer-focus report, built from tables already in memory (no store access).

Each builder returns a `Section`: a title, whether its source tables had data (a section without
says so: "No data yet: …"), the rows the page shows and its Plotly figures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from heedful.journey.alerts import Alert
from heedful.journey.config import metric_text
from heedful.journey.internal import INTERNAL_AUDIENCES, internal_summary
from heedful.journey.metrics import JourneyData
from heedful.journey.scorecard import Scorecard, quote_text, status_text
from heedful.report import plots
from heedful.themes import humanise

SECTION_TITLES = {
    "voice": "What customers praise and complain about",
    "customers": "Best and at-risk customers",
    "tradeoffs": "Trade-off findings",
    "departments": "Department scorecards",
    "advocacy": "Advocacy results",
    "rather_not_hear": "What we would rather not hear",
    "closed_loop": "Did following up work?",
    "internal": "Internal customers: staff and partners",
}
NO_DATA = "No data yet"


@dataclass
class Section:
    key: str
    title: str
    available: bool
    note: str | None = None
    body: dict[str, Any] = field(default_factory=dict)
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "available": self.available, "note": self.note, **self.body}


def figure_id(key: str, i: int = 0) -> str:
    return f"fig-{key}-{i}"


def voice_section(data: JourneyData, period: str, theme_names: Mapping[str, str] | None = None) -> Section:
    """What customers praise and complain about in `period`, theme by theme (named by `theme_names`, the
    taxonomy's labels; an id without one is put in words)."""
    title = SECTION_TITLES["voice"]
    m = data.theme_mentions
    m = m[m["period"] == period]
    if m.empty:
        return Section(
            "voice",
            title,
            False,
            "No data yet: no feedback for this period has been read by the listening analysis.",
        )
    g = (
        m.assign(pos=(m["theme_sentiment"] == "positive"), neg=(m["theme_sentiment"] == "negative"))
        .groupby("theme")
        .agg(mentions=("theme", "size"), positive=("pos", "sum"), negative=("neg", "sum"))
        .reset_index()
    )
    g["positive_share"] = g["positive"] / g["mentions"]
    g["negative_share"] = g["negative"] / g["mentions"]
    g["label"] = [(theme_names or {}).get(t) or humanise(str(t)) for t in g["theme"]]
    praise = g[g["positive"] > 0].sort_values("positive", ascending=False).head(5)
    complaints = g[g["negative"] > 0].sort_values("negative", ascending=False).head(5)
    in_period = (data.feedback_period == period).to_numpy()
    fb = data.feedback[in_period]
    main_theme = data.main_theme[in_period]
    texts = quote_text(fb)

    def quote(theme: str, sentiment: str) -> str | None:
        pick = texts[(main_theme == theme) & (fb["sentiment"] == sentiment) & texts.notna()]
        if pick.empty:
            return None
        lengths = pick.astype(str).str.len()
        pick = pick[lengths.between(20, 300)] if lengths.between(20, 300).any() else pick
        return str(pick.iloc[0])[:300]

    body = {
        "praise": [{**r, "quote": quote(r["theme"], "positive")} for r in praise.to_dict(orient="records")],
        "complaints": [{**r, "quote": quote(r["theme"], "negative")} for r in complaints.to_dict(orient="records")],
        "feedback_items": len(fb),
    }
    fig = plots.theme_balance(g, "Mentions by theme, positive vs negative")
    return Section("voice", title, True, None, body, [(figure_id("voice"), fig)] if fig else [])


def customers_section(data: JourneyData) -> Section:
    title = SECTION_TITLES["customers"]
    cv = data.customer_value
    if cv.empty:
        return Section("customers", title, False, "No data yet: customer value has not been computed from the orders.")
    cv = cv.assign(
        clv=pd.to_numeric(cv["clv"], errors="coerce"), churn_risk=pd.to_numeric(cv["churn_risk"], errors="coerce")
    )
    best = cv.nlargest(10, "clv")
    at_risk = (
        cv[cv["churn_risk"] >= 0.5]
        .assign(value_at_risk=lambda f: f["clv"] * f["churn_risk"])
        .nlargest(10, "value_at_risk")
    )
    ids = pd.concat([best["customer_id"], at_risk["customer_id"]])
    names = data.customers[data.customers["customer_id"].isin(ids)].drop_duplicates("customer_id")
    name_of = dict(zip(names["customer_id"], names["name"], strict=True))

    def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {**r, "name": name_of.get(r["customer_id"]) or r["customer_id"]}
            for r in frame[
                [c for c in ("customer_id", "clv", "churn_risk", "segment", "value_at_risk") if c in frame]
            ].to_dict(orient="records")
        ]

    body: dict[str, Any] = {"best": rows(best), "at_risk": rows(at_risk), "total_value": float(cv["clv"].sum())}
    body["churn_scored"] = bool(cv["churn_risk"].notna().any())
    figures = []
    if cv["segment"].notna().any():
        seg = cv.groupby(cv["segment"].fillna("unsegmented"))["clv"].sum().reset_index()
        fig = plots.value_by_segment(seg.rename(columns={"clv": "value"}))
        if fig:
            figures.append((figure_id("customers"), fig))
    return Section("customers", title, True, None, body, figures)


def tradeoff_scores(surveys: pd.DataFrame, answers: pd.DataFrame) -> list[dict[str, Any]]:
    """Best-worst count scores per item of every MaxDiff question found in the stored surveys.

    Answers are stored as the survey collector writes them: per task `t<n>.shown` (items joined by
    '|'), `t<n>.best` and `t<n>.worst`. An item's score is (times best − times worst) / times shown,
    from −1 (always least wanted) to 1 (always most).
    """
    results: list[dict[str, Any]] = []
    if surveys.empty or answers.empty:
        return results
    from heedful.surveys.results import maxdiff_frame

    for survey in surveys.itertuples():
        try:
            definition = json.loads(survey.definition) if isinstance(survey.definition, str) else {}
        except json.JSONDecodeError:
            continue
        for question in _questions(definition):
            if str(question.get("type", "")).lower() != "maxdiff":
                continue
            rows = answers[(answers["slug"] == survey.slug) & (answers["question_id"] == question.get("id"))]
            frame = maxdiff_frame(rows, str(question.get("id"))) if not rows.empty else pd.DataFrame()
            if frame.empty:
                continue
            g = frame.groupby("item").agg(shown=("best", "size"), best=("best", "sum"), worst=("worst", "sum"))
            g["score"] = (g["best"] - g["worst"]) / g["shown"]
            scores = g.reset_index().sort_values("score", ascending=False)
            results.append(
                {
                    "survey": survey.slug,
                    "question": question.get("text") or question.get("id"),
                    "respondents": int(frame["respondent"].nunique()),
                    "scores": scores[["item", "score", "shown", "best", "worst"]].to_dict(orient="records"),
                }
            )
    return results


def _questions(definition: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(definition.get("questions") or [])
    for page in definition.get("pages") or []:
        if isinstance(page, dict):
            found.extend(page.get("questions") or [])
    return [q for q in found if isinstance(q, dict)]


def tradeoffs_section(surveys: pd.DataFrame, answers: pd.DataFrame) -> Section:
    title = SECTION_TITLES["tradeoffs"]
    results = tradeoff_scores(surveys, answers)
    if not results:
        return Section(
            "tradeoffs",
            title,
            False,
            "No data yet: no trade-off (MaxDiff) survey has been answered.",
        )
    figures = []
    for i, r in enumerate(results[:3]):
        fig = plots.tradeoff_scores(pd.DataFrame(r["scores"]), str(r["question"]))
        if fig:
            figures.append((figure_id("tradeoffs", i), fig))
    return Section("tradeoffs", title, True, None, {"studies": results}, figures)


def departments_section(scorecard: Scorecard) -> Section:
    title = SECTION_TITLES["departments"]
    if not scorecard.needs:
        return Section(
            "departments", title, False, "No data yet: no customer needs are configured for the departments."
        )
    rows = []
    departments = []
    for dept_id, needs in scorecard.by_department().items():
        need_rows = []
        for need in needs:
            metrics = []
            for m in need.metrics:
                shown = metric_text(m.value, m.spec.kind)
                interval = (
                    f"{metric_text(m.low, m.spec.kind)}–{metric_text(m.high, m.spec.kind)}" if m.low is not None else ""
                )
                metrics.append(
                    {
                        "label": m.spec.title,
                        "shown": shown,
                        "interval": interval,
                        "target": metric_text(m.spec.target, m.spec.kind),
                        "status": m.status,
                        "status_text": status_text(m.status, m.n),
                        "trend": m.trend,
                        "n": m.n,
                    }
                )
                rows.append(
                    {
                        "label": f"{need.need.label[:38]} · {m.spec.title[:30]}",
                        "value": m.value,
                        "target": m.spec.target,
                        "direction": m.spec.better,
                        "status": m.status,
                        "shown": shown,
                    }
                )
            need_rows.append(
                {
                    "label": need.need.label,
                    "stage": need.stage_name,
                    "status": need.status,
                    "metrics": metrics,
                    "quotes": need.quotes,
                    "themes": need.themes[:3],
                    "affected_count": need.affected_count,
                    "affected_value": need.affected_value,
                }
            )
        departments.append({"id": dept_id, "name": scorecard.departments.get(dept_id, dept_id), "needs": need_rows})
    measured = any(r["value"] is not None for r in rows)
    fig = plots.need_status_chart(pd.DataFrame(rows)) if measured else None
    note = None if measured else "No data yet: none of the configured needs could be measured for this period."
    return Section(
        "departments",
        title,
        True,
        note,
        {"departments": departments, "summary": scorecard.department_summary()},
        [(figure_id("departments"), fig)] if fig else [],
    )


def advocacy_section(referrals: pd.DataFrame, rewards: pd.DataFrame, period: str) -> Section:
    title = SECTION_TITLES["advocacy"]
    if referrals.empty:
        return Section("advocacy", title, False, "No data yet: no referrals recorded.")
    month = pd.to_datetime(referrals["created_at"]).dt.to_period("M").astype(str)
    now = referrals[month == period]
    statuses = now["status"].value_counts()
    landed = len(now)
    signed = int(statuses.get("signed_up", 0) + statuses.get("converted", 0))
    converted = int(statuses.get("converted", 0))
    body: dict[str, Any] = {
        "landed": landed,
        "signed_up": signed,
        "converted": converted,
        "conversion": converted / landed if landed else None,
        "advocates": int(now["advocate_id"].nunique()),
        "all_time_converted": int((referrals["status"] == "converted").sum()),
    }
    if not rewards.empty:
        r_month = pd.to_datetime(rewards["created_at"]).dt.to_period("M").astype(str)
        r_now = rewards[r_month == period]
        amount = pd.to_numeric(r_now["amount"], errors="coerce")
        body["rewards_earned"] = float(amount[r_now["entry"] == "earned"].sum())
        body["rewards_paid"] = float(amount[r_now["entry"] == "paid"].sum())
        body["rewards_reversed"] = float(amount[r_now["entry"] == "reversed"].sum())
    top = now[now["status"] == "converted"]["advocate_id"].value_counts().head(5)
    body["top_advocates"] = [{"advocate_id": k, "converted": int(v)} for k, v in top.items()]
    fig = plots.referral_funnel({"landed": landed, "signed up": signed, "converted": converted})
    note = None if landed else f"No referrals landed in {period}."
    return Section("advocacy", title, True, note, body, [(figure_id("advocacy"), fig)] if fig else [])


def worst_movers(scorecard: Scorecard, limit: int = 8) -> pd.DataFrame:
    """Metrics that moved the wrong way since last month, most significant first (z < 0 is worse)."""
    rows = []
    for need in scorecard.needs:
        for m in need.metrics:
            if m.change is None or m.change_p_value is None or m.change == 0:
                continue
            worse = (m.change < 0) if m.spec.better == "higher" else (m.change > 0)
            z = float(stats.norm.isf(max(m.change_p_value, 1e-12) / 2))
            if not worse:
                continue
            rows.append(
                {
                    "label": f"{m.spec.title[:40]}",
                    "need": need.need.label,
                    "department": scorecard.departments.get(need.need.department, need.need.department),
                    "z": -z,
                    "p_value": m.change_p_value,
                    "shown": f"{metric_text(m.previous, m.spec.kind)} → {metric_text(m.value, m.spec.kind)}",
                    "status": m.status,
                }
            )
    frame = pd.DataFrame(rows, columns=["label", "need", "department", "z", "p_value", "shown", "status"])
    return frame.sort_values("z").head(limit).reset_index(drop=True)


def rather_not_hear_section(scorecard: Scorecard, alerts: list[Alert]) -> Section:
    title = SECTION_TITLES["rather_not_hear"]
    movers = worst_movers(scorecard)
    missed = [
        {"need": n.need.label, "department": n.department_name, "stage": n.stage_name}
        for n in scorecard.needs
        if n.status == "missed"
    ]
    if movers.empty and not missed and not alerts:
        measured = any(m.n for n in scorecard.needs for m in n.metrics)
        note = (
            "Nothing moved the wrong way since last month, and no need missed its target."
            if measured
            else "No data yet: no measure has two months of data to compare."
        )
        return Section("rather_not_hear", title, measured, note)
    fig = plots.worst_movers(movers)
    body = {
        "movers": movers.to_dict(orient="records"),
        "missed": missed,
        "alerts": [a.to_dict() for a in alerts],
    }
    return Section("rather_not_hear", title, True, None, body, [(figure_id("rather_not_hear"), fig)] if fig else [])


def internal_section(data: JourneyData, period: str, split: dict[str, JourneyData]) -> Section:
    title = SECTION_TITLES["internal"]
    audiences = {}
    for audience in INTERNAL_AUDIENCES:
        summary = internal_summary(data, period, audience, audiences=split)
        if summary["any_data"] or summary["enps"] is not None:
            audiences[audience] = summary
    if not audiences:
        return Section(
            "internal",
            title,
            False,
            "No data yet: no staff or partner feedback for this period (import it with kind staff or partner).",
        )
    return Section("internal", title, True, None, {"audiences": audiences})


def closed_loop_section(figures: dict[str, Any] | None) -> Section:
    """Cases (`services.cases.closed_loop_figures`): how fast unhappy customers were answered and whether
    following up brought them back, against the random holdout."""
    title = SECTION_TITLES["closed_loop"]
    overall = (figures or {}).get("overall") or {}
    if not overall.get("cases"):
        return Section("closed_loop", title, False, "No data yet: no cases have been opened for unhappy customers.")
    departments = [
        {
            "department": d.get("department_name") or d.get("department"),
            "cases": d.get("cases"),
            "first_responses": d.get("first_responses"),
            "median_hours_to_first_response": d.get("median_hours_to_first_response"),
            "within_sla": (d.get("within_sla") or {}).get("share"),
        }
        for d in (figures or {}).get("departments", [])
        if d.get("cases")
    ]
    return Section("closed_loop", title, True, body={"overall": overall, "departments": departments})
