"""Which signals open a case: unhappy survey answers, negative feedback, journey alerts, valuable customers at risk.

Frames in, one frame of candidate cases out (`CANDIDATE_COLUMNS`), one row per (customer, trigger kind,
trigger id) with the evidence a person needs to act on it. Nothing here knows whether a case is already
stored: the idempotency key does (`flow.idempotency_key`).

Severity per signal: a survey answer in the lower half of the unhappy range (NPS 0-3, CSAT 1, CES 1) is
"high", else "medium"; negative feedback is "high" when strongly negative (sentiment score <= -0.6), else
"medium", and mixed feedback "low"; an alert keeps its own severity; churn risk >= 0.75 is "high", else "medium".
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd

from heedful.cases.flow import case_id_of, idempotency_key, value_percentiles
from heedful.cases.rules import CaseRules
from heedful.themes import main_theme

CANDIDATE_COLUMNS = [
    "case_id",
    "idempotency_key",
    "customer_id",
    "trigger",
    "trigger_id",
    "theme",
    "department",
    "journey_stage",
    "severity",
    "evidence",
    "signal_at",
]
SCALE_TOP = {"nps": 10, "csat": 5, "ces": 7}
QUOTE_CHARS = 400


def find_candidates(
    rules: CaseRules,
    *,
    answers: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    alerts: pd.DataFrame | None = None,
    churn: pd.DataFrame | None = None,
    customer_value: pd.DataFrame | None = None,
    open_churn_customers: set[str] | None = None,
    lookback_days: int | None = None,
) -> pd.DataFrame:
    """Candidate cases from every enabled trigger.

    answers: response_id, customer_id, kind (nps | csat | ces), question_id, score, answered_at (completed
    responses only). feedback: feedback_id, customer_id, created_at, sentiment, sentiment_score, themes,
    department, journey_stage, text. alerts: alert_id, severity, audience, kind, subject, department_id,
    journey_stage, period, title, detail, created_at. churn: customer_id, churn_risk, clv, scored_at.
    customer_value: customer_id, clv. `open_churn_customers` already have an open churn case (a customer
    is "newly" at risk only without one). With `lookback_days`, each trigger keeps the signals of its last
    `lookback_days` days (counted back from its newest signal).
    """
    t = rules.triggers
    rows: list[dict[str, Any]] = []
    if t.survey.enabled and answers is not None and not answers.empty:
        rows += _trim(_survey_rows(answers, rules), lookback_days)
    if t.feedback.enabled and feedback is not None and not feedback.empty:
        rows += _trim(_feedback_rows(feedback, rules), lookback_days)
    if t.alert.enabled and alerts is not None and not alerts.empty:
        rows += _alert_rows(alerts, rules)
    if t.churn.enabled and churn is not None and not churn.empty:
        rows += _churn_rows(churn, customer_value, rules, open_churn_customers or set())
    for row in rows:
        row["idempotency_key"] = idempotency_key(row["customer_id"], row["trigger"], row["trigger_id"])
        row["case_id"] = case_id_of(row["idempotency_key"])
    frame = pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)
    return frame.drop_duplicates("idempotency_key").reset_index(drop=True)


def _trim(rows: list[dict[str, Any]], lookback_days: int | None) -> list[dict[str, Any]]:
    if not rows or lookback_days is None:
        return rows
    times = [r["signal_at"] for r in rows if r["signal_at"] is not None]  # datetimes, as `_when` makes them
    if not times:
        return rows
    cutoff = max(times) - timedelta(days=lookback_days)
    return [r for r in rows if r["signal_at"] is None or r["signal_at"] >= cutoff]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _when(value: Any) -> Any:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def unhappy_answers(answers: pd.DataFrame, rules: CaseRules) -> pd.DataFrame:
    """The NPS / CSAT / CES answers at or below the rules' thresholds."""
    s = rules.triggers.survey
    limits = {"nps": s.nps_max, "csat": s.csat_max, "ces": s.ces_max}
    kind = answers["kind"].str.lower()
    score = pd.to_numeric(answers["score"], errors="coerce")
    keep = score.le(kind.map(limits)) & answers["customer_id"].notna()
    return answers[keep.fillna(False)].assign(kind=kind[keep.fillna(False)], score=score[keep.fillna(False)])


def _survey_rows(answers: pd.DataFrame, rules: CaseRules) -> list[dict[str, Any]]:
    s = rules.triggers.survey
    limits = {"nps": s.nps_max, "csat": s.csat_max, "ces": s.ces_max}
    unhappy = unhappy_answers(answers, rules)
    unhappy = unhappy[unhappy["response_id"].notna()].sort_values("response_id", kind="stable")
    # plain lists, one pass over each response's run of rows: a pandas group per response cost ~0.4 ms each
    responses = unhappy["response_id"].tolist()
    customers = unhappy["customer_id"].tolist()
    questions = unhappy["question_id"].tolist()
    kinds = unhappy["kind"].tolist()
    scores = unhappy["score"].tolist()
    times = unhappy["answered_at"].tolist()
    rows = []
    start, n = 0, len(responses)
    while start < n:
        end = start + 1
        while end < n and responses[end] == responses[start]:
            end += 1
        scored = [
            {"question": str(questions[i]), "kind": kinds[i], "score": float(scores[i])} for i in range(start, end)
        ]
        high = any(a["score"] <= limits[a["kind"]] / 2 for a in scored)
        worst = min(scored, key=lambda a: a["score"] / SCALE_TOP[a["kind"]])
        known = [t for t in times[start:end] if t is not None and not pd.isna(t)]
        answered = max(known) if known else None
        rows.append(
            {
                "customer_id": str(customers[start]),
                "trigger": "survey",
                "trigger_id": str(responses[start]),
                "theme": None,
                "department": s.department,
                "journey_stage": None,
                "severity": "high" if high else "medium",
                "evidence": {
                    "score": f"{worst['kind'].upper()} {worst['score']:g} of {SCALE_TOP[worst['kind']]}",
                    "answers": scored,
                    "at": _iso(answered),
                },
                "signal_at": _when(answered),
            }
        )
        start = end
    return rows


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].tolist() if name in frame else [None] * len(frame)


def _feedback_rows(feedback: pd.DataFrame, rules: CaseRules) -> list[dict[str, Any]]:
    f = rules.triggers.feedback
    items = feedback[feedback["sentiment"].isin(f.sentiments)]
    if items.empty:
        return []
    themes = main_theme(items["themes"]).tolist() if "themes" in items else [""] * len(items)
    # the numbers and severities of all items at once: a pandas call per item cost ~0.3 ms each
    scores = pd.to_numeric(pd.Series(_column(items, "sentiment_score"), dtype=object), errors="coerce")
    ratings = pd.to_numeric(pd.Series(_column(items, "rating"), dtype=object), errors="coerce").tolist()
    negative = (items["sentiment"] == "negative").tolist()
    strong = scores.le(-0.6).tolist()
    rows = []
    for i, (feedback_id, sentiment, customer, text, created, department, stage) in enumerate(
        zip(
            items["feedback_id"].tolist(),
            items["sentiment"].tolist(),
            _column(items, "customer_id"),
            _column(items, "text"),
            _column(items, "created_at"),
            _column(items, "department"),
            _column(items, "journey_stage"),
            strict=True,
        )
    ):
        severity = ("high" if strong[i] else "medium") if negative[i] else "low"
        quote = _text(text) or ""
        evidence: dict[str, Any] = {
            "quote": quote[:QUOTE_CHARS] + ("…" if len(quote) > QUOTE_CHARS else ""),
            "sentiment": sentiment,
            "at": _iso(created),
        }
        if not pd.isna(ratings[i]):
            evidence["score"] = f"rating {float(ratings[i]):g}"
        rows.append(
            {
                "customer_id": str(customer) if _text(customer) else None,
                "trigger": "feedback",
                "trigger_id": str(feedback_id),
                "theme": themes[i] or None,
                "department": _text(department) or f.department,
                "journey_stage": _text(stage),
                "severity": severity,
                "evidence": evidence,
                "signal_at": _when(created),
            }
        )
    return rows


def _alert_rows(alerts: pd.DataFrame, rules: CaseRules) -> list[dict[str, Any]]:
    a = rules.triggers.alert
    chosen = alerts[alerts["audience"].isin(a.audiences)] if "audience" in alerts else alerts
    rows = []
    for alert in chosen.to_dict(orient="records"):
        rows.append(
            {
                "customer_id": None,
                "trigger": "alert",
                "trigger_id": str(alert["alert_id"]),
                "theme": str(alert["subject"]) if alert.get("kind") == "emerging_negative_theme" else None,
                "department": _text(alert.get("department_id")) or a.department,
                "journey_stage": _text(alert.get("journey_stage")),
                "severity": "high" if alert.get("severity") == "high" else "medium",
                "evidence": {
                    "alert_title": str(alert.get("title") or ""),
                    "detail": _text(alert.get("detail")),
                    "alert_kind": alert.get("kind"),
                    "period": alert.get("period"),
                },
                "signal_at": _when(alert.get("created_at")),
            }
        )
    return rows


def _churn_rows(
    churn: pd.DataFrame, customer_value: pd.DataFrame | None, rules: CaseRules, already: set[str]
) -> list[dict[str, Any]]:
    c = rules.triggers.churn
    pct = value_percentiles(customer_value)
    own = value_percentiles(churn[["customer_id", "clv"]])  # for customers customer_value does not hold
    rows = []
    for score in churn.to_dict(orient="records"):
        customer = str(score["customer_id"])
        risk = float(score["churn_risk"])
        rank = pct.get(customer, own.get(customer))
        if risk < c.min_risk or rank is None or pd.isna(rank) or rank <= 1 - c.top_value_share:
            continue
        if customer in already:
            continue
        month = pd.Timestamp(score["scored_at"]).strftime("%Y-%m") if score.get("scored_at") is not None else "-"
        clv = score.get("clv")
        rows.append(
            {
                "customer_id": customer,
                "trigger": "churn",
                "trigger_id": f"churn:{customer}:{month}",
                "theme": None,
                "department": c.department,
                "journey_stage": None,
                "severity": "high" if risk >= 0.75 else "medium",
                "evidence": {
                    "score": f"churn risk {risk:.0%}",
                    "churn_risk": risk,
                    "clv": float(clv) if clv is not None and pd.notna(clv) else None,
                    "month": month,
                },
                "signal_at": _when(score.get("scored_at")),
            }
        )
    return rows


def _iso(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).isoformat()


def evidence_text(evidence: dict[str, Any] | None) -> str:
    """One line of evidence for lists: the quote, else the alert's title, else the score."""
    if not evidence:
        return ""
    for key in ("quote", "alert_title", "score"):
        text = evidence.get(key)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return ""
