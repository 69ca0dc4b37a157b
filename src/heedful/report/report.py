"""The customer-focus report for one month: what customers say, who they are, how each department
meets their needs, and what we would rather not hear — as HTML (interactive charts) or PDF.

`build_report(store, period)` gathers the tables once and builds every section from them; a section
whose source tables are empty says so ("no data yet") instead of failing. `render_html` writes
the page with plotly.js inlined (no CDN, works offline); `write_pdf` prints it with headless
Chromium after the charts have been turned into static images.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly
import plotly.graph_objects as go
from jinja2 import Environment, PackageLoader, select_autoescape
from scipy import stats

from heedful.errors import ConfigError, InputError
from heedful.journey.alerts import Alert, at_risk_value, detect_alerts
from heedful.journey.config import JourneyConfig
from heedful.journey.internal import INTERNAL_AUDIENCES, internal_summary, split_audiences
from heedful.journey.metrics import PROPORTION_KINDS, JourneyData, nps_value, period_labels, previous_period
from heedful.journey.scorecard import Scorecard, build_scorecard, quote_text
from heedful.report import plots
from heedful.store import Store
from heedful.store import journey_repo as repo

CHROMIUM = "/usr/bin/chromium"
# Offline and quiet: no sandbox (containers), no GPU, no background calls home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECTION_TITLES = {
    "voice": "What customers praise and complain about",
    "customers": "Best and at-risk customers",
    "tradeoffs": "Trade-off findings",
    "departments": "Department scorecards",
    "advocacy": "Advocacy results",
    "rather_not_hear": "What we would rather not hear",
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


@dataclass
class CustomerFocusReport:
    period: str
    generated_at: datetime
    headline: list[dict[str, Any]]
    sections: list[Section]
    scorecard: Scorecard | None = None
    alerts: list[Alert] = field(default_factory=list)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
            "headline": self.headline,
            "sections": [s.to_dict() for s in self.sections],
        }


def check_period(period: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period or ""):
        raise InputError(f"Period {period!r} must be a month written YYYY-MM, e.g. 2026-10.")
    return period


# ---------------------------------------------------------------- gathering


def build_report(
    store: Store, period: str, *, config: JourneyConfig | None = None, data: JourneyData | None = None
) -> CustomerFocusReport:
    """Read what the report needs from the store (`data`: the journey tables, if already loaded for
    this period) and build every section for `period` (YYYY-MM)."""
    check_period(period)
    config = config or repo.load_config(store)
    data = data if data is not None else repo.load_journey_data(store, period, config=config)
    extras = {
        "referrals": _query_or_empty(store, "SELECT advocate_id, status, created_at, converted_at FROM referrals"),
        "rewards": _query_or_empty(store, "SELECT advocate_id, amount, entry, created_at FROM rewards"),
        "surveys": _query_or_empty(store, "SELECT survey_id, slug, title, audience, definition FROM surveys"),
    }
    tradeoff_answers = pd.DataFrame()
    if not extras["surveys"].empty:
        tradeoff_answers = _query_or_empty(
            store,
            "SELECT a.response_id, r.slug, a.question_id, a.field, a.value FROM answers a "
            "JOIN responses r ON r.response_id = a.response_id WHERE a.value_num IS NULL",
        )
    extras["tradeoff_answers"] = tradeoff_answers
    previous = repo.previous_headline(store, "at_risk_value", period)
    return assemble_report(config, data, period, extras=extras, previous_at_risk=previous)


def _query_or_empty(store: Store, sql: str) -> pd.DataFrame:
    try:
        return store.query(sql)
    except Exception:  # a table another area has not created yet: that section says "no data yet"
        return pd.DataFrame()


def assemble_report(
    config: JourneyConfig,
    data: JourneyData,
    period: str,
    *,
    extras: dict[str, pd.DataFrame] | None = None,
    previous_at_risk: tuple[float, str] | None = None,
) -> CustomerFocusReport:
    """Build the report from tables already in memory (pure: no store access)."""
    extras = extras or {}
    audiences = split_audiences(data)
    external = audiences["external"]
    scorecard = build_scorecard(config, external, period, quotes=2, customers=5)
    alerts = detect_alerts(
        config,
        external,
        period,
        previous_at_risk_value=previous_at_risk[0] if previous_at_risk else None,
        previous_at_risk_label=previous_at_risk[1] if previous_at_risk else "the last recorded figure",
        series={(n.need.id, m.spec.id): m.series for n in scorecard.needs for m in n.metrics},
    )
    sections = [
        _voice(external, period),
        _customers(external),
        _tradeoffs(extras.get("surveys", pd.DataFrame()), extras.get("tradeoff_answers", pd.DataFrame())),
        _departments(scorecard),
        _advocacy(extras.get("referrals", pd.DataFrame()), extras.get("rewards", pd.DataFrame()), period),
        _rather_not_hear(scorecard, alerts),
        _internal(data, period, audiences),
    ]
    return CustomerFocusReport(
        period=period,
        generated_at=datetime.now(UTC).replace(tzinfo=None),
        headline=_headline(config, external, period, scorecard),
        sections=sections,
        scorecard=scorecard,
        alerts=alerts,
    )


# ---------------------------------------------------------------- sections


def _figure_id(key: str, i: int = 0) -> str:
    return f"fig-{key}-{i}"


def _headline(config: JourneyConfig, data: JourneyData, period: str, scorecard: Scorecard) -> list[dict[str, Any]]:
    prev = previous_period(period)
    items: list[dict[str, Any]] = []
    customers = data.customers
    n_customers = int((customers["kind"] == "customer").sum()) if not customers.empty else 0
    items.append(
        {"label": "Customers", "value": n_customers or None, "shown": f"{n_customers:,}" if n_customers else NO_DATA}
    )

    orders = data.orders[~data.orders["is_return"].fillna(False).astype(bool)]
    if not orders.empty:
        month = period_labels(orders["ordered_at"])
        now, before = orders[(month == period).to_numpy()], orders[(month == prev).to_numpy()]
        buyers, buyers_prev = now["customer_id"].nunique(), before["customer_id"].nunique()
        revenue, revenue_prev = float(now["amount"].sum()), float(before["amount"].sum())
        items.append(_with_change("Active buyers", buyers, buyers_prev, f"{buyers:,}", higher_is_better=True))
        items.append(_with_change("Revenue", revenue, revenue_prev, f"{revenue:,.0f}", higher_is_better=True))
    else:
        items.append({"label": "Revenue", "value": None, "shown": NO_DATA})

    fb_now = (data.feedback_period == period).to_numpy()
    fb_prev = (data.feedback_period == prev).to_numpy()
    n_fb = int(fb_now.sum())
    if n_fb:
        pos = float((data.feedback.loc[fb_now, "sentiment"] == "positive").mean())
        pos_prev = float((data.feedback.loc[fb_prev, "sentiment"] == "positive").mean()) if fb_prev.any() else None
        items.append({"label": "Feedback items", "value": n_fb, "shown": f"{n_fb:,}"})
        items.append(_with_change("Positive feedback", pos, pos_prev, f"{pos:.0%}", higher_is_better=True, pct=True))
    else:
        items.append({"label": "Feedback items", "value": None, "shown": NO_DATA})

    questions = sorted({m.question for n in config.needs for m in n.metrics if m.kind == "nps" and m.question}) or [
        "nps"
    ]
    a = data.answers
    nps_rows = a["question_id"].isin(questions).to_numpy()
    now_scores = pd.to_numeric(a.loc[nps_rows & (data.answers_period == period).to_numpy(), "value_num"])
    prev_scores = pd.to_numeric(a.loc[nps_rows & (data.answers_period == prev).to_numpy(), "value_num"])
    nps, low, high, n = nps_value(now_scores)
    if nps is not None:
        nps_prev = nps_value(prev_scores)[0]
        item = _with_change("NPS", nps, nps_prev, f"{nps:.0f}", higher_is_better=True, points=True)
        item["detail"] = f"95% interval {low:.0f} to {high:.0f}, n = {n}"
        items.append(item)
    else:
        items.append({"label": "NPS", "value": None, "shown": NO_DATA})

    value, count = at_risk_value(data.customer_value)
    if data.customer_value.empty or data.customer_value["churn_risk"].isna().all():
        items.append({"label": "Value at risk", "value": None, "shown": NO_DATA})
    else:
        items.append(
            {"label": "Value at risk", "value": value, "shown": f"{value:,.0f}", "detail": f"{count:,} customers"}
        )

    statuses = [n.status for n in scorecard.needs]
    measured = [s for s in statuses if s != "no_data"]
    if measured:
        met = sum(1 for s in measured if s == "met")
        items.append(
            {
                "label": "Needs on target",
                "value": met,
                "shown": f"{met} of {len(measured)}",
                "detail": f"{statuses.count('missed')} missed, {statuses.count('at_risk')} at risk",
            }
        )
    else:
        items.append({"label": "Needs on target", "value": None, "shown": NO_DATA})
    return items


def _with_change(
    label: str,
    value: float,
    previous: float | None,
    shown: str,
    *,
    higher_is_better: bool,
    pct: bool = False,
    points: bool = False,
) -> dict[str, Any]:
    item: dict[str, Any] = {"label": label, "value": value, "shown": shown}
    if previous is None or (isinstance(previous, float) and not math.isfinite(previous)):
        return item
    delta = value - previous
    if pct or points:  # shares and scores change by points, not by a percentage of themselves
        item["change"] = f"{delta * (100 if pct else 1):+.1f} pts vs last month"
    elif previous:
        item["change"] = f"{delta / abs(previous):+.0%} vs last month"
    else:
        item["change"] = f"{delta:+,.0f} vs last month"
    item["good"] = None if delta == 0 else (delta > 0) == higher_is_better
    return item


def _voice(data: JourneyData, period: str) -> Section:
    title = SECTION_TITLES["voice"]
    m = data.theme_mentions
    m = m[m["period"] == period]
    if m.empty:
        return Section(
            "voice",
            title,
            False,
            "No data yet: no classified feedback for this period (run `heedful listen classify`).",
        )
    g = (
        m.assign(pos=(m["theme_sentiment"] == "positive"), neg=(m["theme_sentiment"] == "negative"))
        .groupby("theme")
        .agg(mentions=("theme", "size"), positive=("pos", "sum"), negative=("neg", "sum"))
        .reset_index()
    )
    g["positive_share"] = g["positive"] / g["mentions"]
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
    return Section("voice", title, True, None, body, [(_figure_id("voice"), fig)] if fig else [])


def _customers(data: JourneyData) -> Section:
    title = SECTION_TITLES["customers"]
    cv = data.customer_value
    if cv.empty:
        return Section(
            "customers", title, False, "No data yet: customer value has not been computed (run `heedful value clv`)."
        )
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
            figures.append((_figure_id("customers"), fig))
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


def _tradeoffs(surveys: pd.DataFrame, answers: pd.DataFrame) -> Section:
    title = SECTION_TITLES["tradeoffs"]
    results = tradeoff_scores(surveys, answers)
    if not results:
        return Section(
            "tradeoffs",
            title,
            False,
            "No data yet: no MaxDiff trade-off survey has been answered (see `heedful survey`).",
        )
    figures = []
    for i, r in enumerate(results[:3]):
        fig = plots.tradeoff_scores(pd.DataFrame(r["scores"]), str(r["question"]))
        if fig:
            figures.append((_figure_id("tradeoffs", i), fig))
    return Section("tradeoffs", title, True, None, {"studies": results}, figures)


def _metric_shown(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind in PROPORTION_KINDS:
        return f"{value:.0%}"
    if kind == "nps":
        return f"{value:.0f}"
    return f"{value:.2f}"


def _departments(scorecard: Scorecard) -> Section:
    title = SECTION_TITLES["departments"]
    if not scorecard.needs:
        return Section(
            "departments", title, False, "No data yet: no needs are configured (`heedful journey needs import`)."
        )
    rows = []
    departments = []
    for dept_id, needs in scorecard.by_department().items():
        need_rows = []
        for need in needs:
            metrics = []
            for m in need.metrics:
                shown = _metric_shown(m.value, m.spec.kind)
                interval = (
                    f"{_metric_shown(m.low, m.spec.kind)}–{_metric_shown(m.high, m.spec.kind)}"
                    if m.low is not None
                    else ""
                )
                metrics.append(
                    {
                        "label": m.spec.title,
                        "shown": shown,
                        "interval": interval,
                        "target": _metric_shown(m.spec.target, m.spec.kind),
                        "status": m.status,
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
        [(_figure_id("departments"), fig)] if fig else [],
    )


def _advocacy(referrals: pd.DataFrame, rewards: pd.DataFrame, period: str) -> Section:
    title = SECTION_TITLES["advocacy"]
    if referrals.empty:
        return Section("advocacy", title, False, "No data yet: no referrals recorded (see `heedful advocacy`).")
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
    return Section("advocacy", title, True, note, body, [(_figure_id("advocacy"), fig)] if fig else [])


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
                    "shown": f"{_metric_shown(m.previous, m.spec.kind)} → {_metric_shown(m.value, m.spec.kind)}",
                    "status": m.status,
                }
            )
    frame = pd.DataFrame(rows, columns=["label", "need", "department", "z", "p_value", "shown", "status"])
    return frame.sort_values("z").head(limit).reset_index(drop=True)


def _rather_not_hear(scorecard: Scorecard, alerts: list[Alert]) -> Section:
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
    return Section("rather_not_hear", title, True, None, body, [(_figure_id("rather_not_hear"), fig)] if fig else [])


def _internal(data: JourneyData, period: str, split: dict[str, JourneyData]) -> Section:
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


# ---------------------------------------------------------------- rendering


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("heedful.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["num"] = lambda v, d=0: (
        "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:,.{d}f}"
    )
    env.filters["pct"] = lambda v, d=0: (
        "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v * 100:.{d}f}%"
    )
    return env


def plotly_js() -> str:
    """plotly.js from the installed plotly package (inlined: the report opens offline)."""
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def render_html(report: CustomerFocusReport, *, for_print: bool = False, standalone: bool = True) -> str:
    """The report as one HTML document (or, with standalone=False, a fragment for the web app)."""
    figures = {fig_id: json.loads(fig.to_json()) for section in report.sections for fig_id, fig in section.figures}
    template = _environment().get_template("report.html")
    return template.render(
        report=report,
        sections=report.sections,
        figures=figures,
        figures_json=json.dumps(figures),
        plotly_js=plotly_js() if standalone else "",
        for_print=for_print,
        standalone=standalone,
        status_labels={"met": "met", "at_risk": "at risk", "missed": "missed", "no_data": "no data"},
    )


def write_pdf(html: str, out: Path, *, chromium: str = CHROMIUM, timeout_s: float = 120) -> Path:
    """Print the report with headless Chromium; charts become static PNG images first."""
    if not Path(chromium).exists() and shutil.which(chromium) is None:
        raise ConfigError(
            f"PDF output needs Chromium at {chromium} (apt-get install chromium), or write .html instead."
        )
    try:
        _pdf_with_playwright(html, out, chromium, timeout_s)
    except ImportError:
        _pdf_with_cli(html, out, chromium, timeout_s)
    return out


def _pdf_with_playwright(html: str, out: Path, chromium: str, timeout_s: float) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1000, "height": 1400})
                page.goto(page_file.as_uri(), wait_until="load", timeout=timeout_s * 1000)
                page.wait_for_function("window.heedfulChartsReady === true", timeout=timeout_s * 1000)
                page.emulate_media(media="print")
                page.pdf(
                    path=str(out),
                    format="A4",
                    print_background=True,
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                    display_header_footer=True,
                    header_template="<span></span>",
                    footer_template=(
                        '<div style="font-size:8px;width:100%;text-align:center;color:#607d8b">'
                        '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
                    ),
                )
            finally:
                browser.close()


def _pdf_with_cli(html: str, out: Path, chromium: str, timeout_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "report.html"
        page_file.write_text(html, encoding="utf-8")
        cmd = [
            chromium,
            "--headless",
            *CHROMIUM_ARGS,
            "--no-pdf-header-footer",
            "--virtual-time-budget=20000",
            f"--print-to-pdf={out}",
            page_file.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        if done.returncode != 0 or not out.exists():
            raise ConfigError(f"Chromium could not print the PDF: {done.stderr.decode(errors='replace')[-500:]}")


def write_report(store: Store, period: str, out: Path, *, record_history: bool = True) -> CustomerFocusReport:
    """Build the report for `period` and write it as HTML or PDF (by the extension of `out`)."""
    suffix = out.suffix.lower()
    if suffix not in (".html", ".htm", ".pdf"):
        raise InputError(f"Report output {out} must end in .html or .pdf.")
    if not out.parent.exists():
        raise InputError(f"Folder {out.parent} does not exist.")
    report = build_report(store, period)
    if suffix == ".pdf":
        write_pdf(render_html(report, for_print=True), out)
    else:
        out.write_text(render_html(report), encoding="utf-8")
    if record_history:
        record_report_history(store, report)
    return report


def record_report_history(store: Store, report: CustomerFocusReport) -> None:
    """Keep this period's metric values and at-risk value, so next month's trends and alerts can compare."""
    if report.scorecard is not None:
        repo.save_metric_values(store, report.scorecard)
    at_risk = next((h for h in report.headline if h["label"] == "Value at risk"), None)
    if at_risk and at_risk.get("value") is not None:
        repo.record_headline(store, "at_risk_value", report.period, float(at_risk["value"]), 0)
