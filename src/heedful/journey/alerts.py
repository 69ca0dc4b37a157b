"""Alerts: what got significantly worse this period, tested so stable data rarely raises one.

Four detectors, each a one-sided test of "worse than before" with a minimum sample, and a
Holm correction across everything one detector tests in a period, so the chance that stable
data raises any alert of that kind stays at or below `alpha` (checked by simulation in
tests/journey/test_alerts.py):

- need_worsened: a need's metric moved the wrong way between the previous period and this one;
- emerging_negative_theme: a theme is mentioned negatively in a larger share of feedback than
  in the baseline months;
- segment_nps_drop: NPS of a valuable segment (top-value customers, or a value segment whose mean
  value is above average) fell;
- at_risk_value_spike: the value of customers at risk of churning rose by more than a set share
  since the last recorded figure (a threshold rule, not a test: there is one figure per run).

The default `alpha` is 1% per detector, so with three tested detectors the chance that a stable
month raises any alert is at most about 3%.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from scipy import stats

from heedful.journey.config import PROPORTION_KINDS, JourneyConfig, metric_text
from heedful.journey.metrics import (
    JourneyData,
    difference_se,
    metric_series,
    nps_series,
    period_range,
    previous_period,
)
from heedful.journey.periods import Coverage, first_days
from heedful.stats import holm, two_proportion_greater, two_proportion_p

DEFAULT_ALPHA = 0.01
_COMPARED_KINDS = ("need_worsened", "emerging_negative_theme", "segment_nps_drop")  # period vs months before


@dataclass
class Alert:
    kind: str
    severity: str
    audience: str
    subject: str
    period: str
    title: str
    detail: str
    need_id: str | None = None
    department_id: str | None = None
    value_before: float | None = None
    value_after: float | None = None
    p_value: float | None = None

    @property
    def alert_id(self) -> str:
        key = f"{self.kind}|{self.audience}|{self.subject}|{self.period}"
        return hashlib.sha256(key.encode()).hexdigest()[:20]

    def to_dict(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, **asdict(self)}


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (controls the family-wise error rate)."""
    return [float(v) for v in holm(p_values)]


def worsening_p_value(
    kind: str, before: pd.Series | dict[str, float], after: pd.Series | dict[str, float], better: str
) -> float | None:
    """One-sided p-value that the metric got worse from `before` to `after` (series rows)."""
    diff = difference_se(kind, before, after)
    if diff is None:
        return None
    v1, v2, se = diff
    if kind in PROPORTION_KINDS:  # exact where the answers are few (stats.two_proportion_p)
        n1, n2 = float(before["n"]), float(after["n"])
        return two_proportion_p(v2 * n2, n2, v1 * n1, n1, "smaller" if better == "higher" else "larger")
    if se <= 0:
        return 1.0
    z = (v2 - v1) / se
    if better == "higher":
        z = -z
    return float(stats.norm.sf(z))


def need_worsened(
    config: JourneyConfig,
    data: JourneyData,
    period: str,
    *,
    audience: str = "external",
    alpha: float = DEFAULT_ALPHA,
    series: dict[tuple[str, str], pd.DataFrame] | None = None,
) -> list[Alert]:
    """Metrics that got significantly worse from the previous period (each side needs n ≥ min_n)."""
    prev = previous_period(period)
    tested: list[tuple[Any, Any, pd.Series, pd.Series, float]] = []
    for need in config.needs:
        for spec in need.metrics:
            s = (series or {}).get((need.id, spec.id))
            if s is None:
                s = metric_series(spec, data, snapshot_period=period)
            before, after = s[s["period"] == prev], s[s["period"] == period]
            if before.empty or after.empty:
                continue
            b, a = before.iloc[0], after.iloc[0]
            if min(int(b["n"]), int(a["n"])) < spec.min_n:
                continue
            p = worsening_p_value(spec.kind, b, a, spec.better)
            if p is not None:
                tested.append((need, spec, b, a, p))
    if not tested:
        return []
    adjusted = holm_adjust([t[4] for t in tested])
    alerts = []
    for (need, spec, b, a, _), p_adj in zip(tested, adjusted, strict=True):
        if p_adj >= alpha:
            continue
        missed = (a["value"] < spec.target) if spec.better == "higher" else (a["value"] > spec.target)
        alerts.append(
            Alert(
                kind="need_worsened",
                severity="high" if missed else "medium",
                audience=audience,
                subject=f"{need.id}/{spec.id}",
                period=period,
                title=f"“{need.label}” got worse: {spec.title} {metric_text(b['value'], spec.kind)} → {metric_text(a['value'], spec.kind)}",
                detail=(
                    f"{spec.title}: {metric_text(b['value'], spec.kind)} (n={int(b['n'])}) in {prev}, "
                    f"{metric_text(a['value'], spec.kind)} (n={int(a['n'])}) in {period}; target {metric_text(spec.target, spec.kind)}; "
                    f"{_noise(p_adj)}."
                ),
                need_id=need.id,
                department_id=need.department,
                value_before=float(b["value"]),
                value_after=float(a["value"]),
                p_value=p_adj,
            )
        )
    return alerts


def emerging_negative_themes(
    data: JourneyData,
    period: str,
    *,
    audience: str = "external",
    baseline_periods: int = 3,
    min_mentions: int = 10,
    min_ratio: float = 1.5,
    alpha: float = DEFAULT_ALPHA,
    theme_departments: dict[str, str] | None = None,
    theme_names: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Themes mentioned negatively in a clearly larger share of feedback than in the baseline months.

    An alert goes to the department whose need is measured by the theme (`theme_departments`), else
    to the department listening assigned to the theme."""
    baseline = set(period_range(previous_period(period), baseline_periods))
    items = data.feedback_period.value_counts()
    n_now = int(items.get(period, 0))
    n_base = int(sum(items.get(p, 0) for p in baseline))
    if n_now == 0 or n_base == 0:
        return []
    m = data.theme_mentions
    neg = m[(m["theme_sentiment"] == "negative") & (m["period"].isin(baseline | {period}))]
    now_counts = neg[neg["period"] == period].groupby("theme").size()
    base_counts = neg[neg["period"] != period].groupby("theme").size()
    tested = []
    for theme, k_now in now_counts.items():
        k_base = int(base_counts.get(theme, 0))
        rate_now, rate_base = k_now / n_now, k_base / n_base
        if k_now < min_mentions or rate_now < min_ratio * rate_base:
            continue
        p = two_proportion_greater(int(k_now), n_now, k_base, n_base)[1]
        tested.append((str(theme), int(k_now), k_base, rate_now, rate_base, p))
    if not tested:
        return []
    # Holm over every theme seen negatively this period: the family is all themes that could alert.
    family = max(len(now_counts), len(tested))
    adjusted = holm_adjust([t[5] for t in tested] + [1.0] * (family - len(tested)))[: len(tested)]
    departments = {**_theme_department(data), **(theme_departments or {})}
    names = theme_names or {}
    alerts = []
    for (theme, k_now, k_base, rate_now, rate_base, _), p_adj in zip(tested, adjusted, strict=True):
        if p_adj >= alpha:
            continue
        new = k_base == 0
        alerts.append(
            Alert(
                kind="emerging_negative_theme",
                severity="high" if new or rate_now >= 2 * rate_base else "medium",
                audience=audience,
                subject=theme,
                period=period,
                title=f"Negative mentions of “{names.get(theme, theme)}” are rising: {rate_now:.1%} of feedback vs {rate_base:.1%} before",
                detail=(
                    f"{k_now} of {n_now} items in {period} speak negatively of {names.get(theme, theme)}, against {k_base} of "
                    f"{n_base} in the {baseline_periods} months before; {_noise(p_adj)}."
                ),
                department_id=departments.get(theme),
                value_before=rate_base,
                value_after=rate_now,
                p_value=p_adj,
            )
        )
    return alerts


def _theme_department(data: JourneyData) -> dict[str, str]:
    """The department listening assigned most often to feedback whose main theme is each theme."""
    fb = data.feedback
    if fb.empty:
        return {}
    frame = pd.DataFrame({"theme": data.main_theme, "department": fb["department"]}).dropna()
    frame = frame[frame["theme"] != ""]
    if frame.empty:
        return {}
    counts = frame.groupby(["theme", "department"]).size().sort_values(ascending=False)
    top = counts.reset_index().drop_duplicates("theme")
    return {str(t): str(d) for t, d in zip(top["theme"], top["department"], strict=True)}


def valuable_segments(customer_value: pd.DataFrame, top_share: float = 0.2) -> dict[str, pd.Index]:
    """Valuable segments: the top `top_share` of customers by value, and every named value segment
    whose mean value is above the average customer's."""
    cv = customer_value.assign(clv=pd.to_numeric(customer_value["clv"], errors="coerce")).dropna(subset=["clv"])
    if cv.empty:
        return {}
    out: dict[str, pd.Index] = {}
    cut = cv["clv"].quantile(1 - top_share)
    out[f"top {top_share:.0%} by value"] = pd.Index(cv.loc[cv["clv"] >= cut, "customer_id"])
    if "segment" in cv and cv["segment"].notna().any():
        means = cv.groupby("segment")["clv"].mean()
        for seg, mean in means.items():
            if mean > cv["clv"].mean():
                out[str(seg)] = pd.Index(cv.loc[cv["segment"] == seg, "customer_id"])
    return out


def segment_nps_drop(
    data: JourneyData,
    period: str,
    *,
    questions: list[str],
    audience: str = "external",
    min_n: int = 30,
    alpha: float = DEFAULT_ALPHA,
) -> list[Alert]:
    """NPS of a valuable segment fell significantly from the previous period."""
    a = data.answers
    if a.empty or data.customer_value.empty or not questions:
        return []
    prev = previous_period(period)
    keep = a["question_id"].isin(questions) & data.answers_period.isin([prev, period])
    answers = a[keep]
    periods = data.answers_period[keep]
    tested = []
    for name, members in valuable_segments(data.customer_value).items():
        inside = answers["customer_id"].isin(members)
        s = nps_series(periods[inside], answers.loc[inside, "value_num"])
        before, after = s[s["period"] == prev], s[s["period"] == period]
        if before.empty or after.empty or min(int(before.iloc[0]["n"]), int(after.iloc[0]["n"])) < min_n:
            continue
        p = worsening_p_value("nps", before.iloc[0], after.iloc[0], "higher")
        if p is not None:
            tested.append((name, before.iloc[0], after.iloc[0], p))
    if not tested:
        return []
    adjusted = holm_adjust([t[3] for t in tested])
    return [
        Alert(
            kind="segment_nps_drop",
            severity="high",
            audience=audience,
            subject=name,
            period=period,
            title=f"NPS of {name} fell from {b['value']:.0f} to {a_['value']:.0f}",
            detail=(
                f"NPS of {name}: {b['value']:.1f} (n={int(b['n'])}) in {prev}, {a_['value']:.1f} "
                f"(n={int(a_['n'])}) in {period}; {_noise(p_adj)}."
            ),
            value_before=float(b["value"]),
            value_after=float(a_["value"]),
            p_value=p_adj,
        )
        for (name, b, a_, _), p_adj in zip(tested, adjusted, strict=True)
        if p_adj < alpha
    ]


def _noise(p_adjusted: float) -> str:
    """An adjusted one-sided p-value in words a department lead can weigh."""
    chance = f"{p_adjusted:.1%}" if p_adjusted >= 0.001 else "under 0.1%"
    return f"chance this is noise: {chance} (allowing for every figure tested this month)"


def at_risk_value_spike(
    current_value: float,
    current_count: int,
    previous_value: float | None,
    period: str,
    *,
    previous_label: str = "the last recorded figure",
    audience: str = "external",
    min_increase: float = 0.2,
) -> list[Alert]:
    """At-risk value rose by at least `min_increase` (20%) since the last recorded figure."""
    if previous_value is None or previous_value <= 0 or current_value < previous_value * (1 + min_increase):
        return []
    rise = current_value / previous_value - 1
    return [
        Alert(
            kind="at_risk_value_spike",
            severity="high" if rise >= 0.5 else "medium",
            audience=audience,
            subject="at_risk_value",
            period=period,
            title=f"Value at risk of churning rose {rise:.0%} to {current_value:,.0f}",
            detail=(
                f"Value at risk (CLV × churn risk, summed over scored customers) is {current_value:,.0f}; "
                f"it was {previous_value:,.0f} at {previous_label} (alert threshold +{min_increase:.0%}). "
                f"{current_count} customers have a churn risk of 50% or more."
            ),
            value_before=previous_value,
            value_after=current_value,
        )
    ]


def detect_alerts(
    config: JourneyConfig,
    data: JourneyData,
    period: str,
    *,
    audience: str = "external",
    alpha: float = DEFAULT_ALPHA,
    previous_at_risk_value: float | None = None,
    previous_at_risk_label: str = "the last recorded figure",
    at_risk: tuple[float, int] | None = None,
    theme_names: Mapping[str, str] | None = None,
    series: dict[tuple[str, str], pd.DataFrame] | None = None,
    coverage: Coverage | None = None,
) -> list[Alert]:
    """Every detector for one period, most severe first (`series`: metric series already computed,
    keyed by (need id, metric id), e.g. from a scorecard). When `coverage` says the period is partial,
    the months it is tested against are cut to the same number of days first: a partial month is
    never tested against full ones."""
    if coverage is not None and coverage.partial:
        data = first_days(data, period_range(previous_period(period), 3), coverage.days)
        series = None  # computed on whole months: not comparable
    nps_questions = sorted({m.question for n in config.needs for m in n.metrics if m.kind == "nps" and m.question})
    alerts = need_worsened(config, data, period, audience=audience, alpha=alpha, series=series)
    owners = {m.theme: need.department for need in config.needs for m in need.metrics if m.theme}
    alerts += emerging_negative_themes(
        data, period, audience=audience, alpha=alpha, theme_departments=owners, theme_names=theme_names
    )
    alerts += segment_nps_drop(data, period, questions=nps_questions, audience=audience, alpha=alpha)
    if at_risk is not None:  # (value at risk, customers at ≥ 50% risk): `services.retain.value_at_risk`
        alerts += at_risk_value_spike(
            at_risk[0],
            at_risk[1],
            previous_at_risk_value,
            period,
            previous_label=previous_at_risk_label,
            audience=audience,
        )
    if coverage is not None and coverage.partial:
        for alert in alerts:
            if alert.kind in _COMPARED_KINDS:
                alert.detail += f" {period} is partial ({coverage.days} days): {coverage.comparison}."
    return sorted(alerts, key=lambda a: (a.severity != "high", a.p_value if a.p_value is not None else 0.0))


def digest_text(alerts: list[Alert], period: str) -> str:
    """A plain-text digest, one paragraph per alert, grouped by department."""
    if not alerts:
        return f"heedful journey alerts for {period}: nothing got significantly worse.\n"
    lines = [f"heedful journey alerts for {period}: {len(alerts)} alert(s)", ""]
    by_dept: dict[str, list[Alert]] = {}
    for alert in alerts:
        by_dept.setdefault(alert.department_id or "all departments", []).append(alert)
    for dept, items in by_dept.items():
        lines.append(f"== {dept} ==")
        for alert in items:
            lines.append(f"[{alert.severity}] {alert.title}")
            lines.append(f"    {alert.detail}")
        lines.append("")
    return "\n".join(lines)


def digest_payload(alerts: list[Alert], period: str) -> dict[str, Any]:
    """The digest as a JSON document (what the webhook receives)."""
    return {"period": period, "count": len(alerts), "alerts": [a.to_dict() for a in alerts]}
