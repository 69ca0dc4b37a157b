"""Did it work? Closed-loop figures: how fast cases are answered and closed, and whether following up helps.

Timing, per group of cases (a department, or all): first responses and the median hours to them, closed
cases and the median hours to close, and the share closed within the SLA (closed at or before `due_at`)
among the cases whose outcome is known (closed, or still open past their due date), with a Wilson interval.

Recovery compares two groups of unhappy customers that chance alone made: the cases to be followed up
(every case not in the holdout, as randomised: whether or not someone has acted yet) and the holdout
cases (drawn at random when opened and never worked). The caller says which share was acted on. A case's customer *recovered* when, after the case was opened, they ordered again, gave a survey
answer above the unhappy range (or, for a survey case, higher than the answer that opened it) or left
feedback that was not negative or mixed. The difference of the two shares has a 95% interval (Newcombe's
hybrid score interval, `heedful.stats`); below `minimum` cases in either group it says "not enough data".

Pure: frames in, plain dicts out.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from heedful.stats import difference_interval, two_proportion_greater, wilson_interval

MIN_PER_ARM = 30
HAPPY_SENTIMENTS = ("positive", "neutral")


def _hours(end: pd.Series, start: pd.Series) -> pd.Series:
    return (end - start).dt.total_seconds() / 3600


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return float(values.median()) if len(values) else None


def _share(successes: int, n: int) -> dict[str, Any]:
    low, high = wilson_interval(successes, n) if n else (None, None)
    return {
        "n": int(n),
        "successes": int(successes),
        "share": successes / n if n else None,
        "low": low,
        "high": high,
    }


def timing(cases: pd.DataFrame, now: datetime) -> dict[str, Any]:
    """Cases worked (holdout left out): counts, median hours to first response and to close, share within SLA.

    `cases`: status, holdout, opened_at, due_at, first_response_at, resolved_at (timestamps)."""
    held = cases["holdout"].fillna(False).astype(bool)
    worked = cases[~held]
    answered = worked.dropna(subset=["first_response_at"])
    closed = worked.dropna(subset=["resolved_at"])
    known = worked["resolved_at"].notna() | (worked["due_at"] < pd.Timestamp(now))
    on_time = worked["resolved_at"].notna() & (worked["resolved_at"] <= worked["due_at"])
    return {
        "cases": len(worked),
        "held_out": int(held.sum()),
        "first_responses": len(answered),
        "median_hours_to_first_response": _median(_hours(answered["first_response_at"], answered["opened_at"])),
        "closed": len(closed),
        "median_hours_to_resolve": _median(_hours(closed["resolved_at"], closed["opened_at"])),
        "within_sla": _share(int((on_time & known).sum()), int(known.sum())),
    }


def _own_scores(evidence: Any) -> dict[str, float]:
    """kind -> the lowest score of that kind in a survey case's evidence (the answer that opened it)."""
    if isinstance(evidence, str):
        try:
            evidence = json.loads(evidence)
        except ValueError:
            return {}
    answers = evidence.get("answers") if isinstance(evidence, dict) else None
    own: dict[str, float] = {}
    for answer in answers if isinstance(answers, list) else []:
        if isinstance(answer, dict) and isinstance(answer.get("score"), int | float):
            kind = str(answer.get("kind"))
            own[kind] = min(own.get(kind, np.inf), float(answer["score"]))
    return own


def recovered(
    cases: pd.DataFrame,
    *,
    next_orders: pd.DataFrame,
    answers: pd.DataFrame,
    feedback: pd.DataFrame,
    unhappy_max: dict[str, float],
    now: datetime,
) -> pd.Series:
    """case_id -> whether its customer came back after the case was opened (up to `now`).

    cases: case_id, customer_id, opened_at, evidence. next_orders: case_id, next_order_at (the customer's
    first order after opened_at). answers: customer_id, kind (nps | csat | ces), score, answered_at.
    feedback: customer_id, created_at, sentiment. unhappy_max: kind -> the top of its unhappy range."""
    now_ts = pd.Timestamp(now)
    opened = pd.to_datetime(cases.set_index("case_id")["opened_at"])
    result = pd.Series(False, index=opened.index, dtype=bool)
    if not next_orders.empty:
        when = pd.to_datetime(next_orders.set_index("case_id")["next_order_at"])
        when = when[when.index.isin(result.index)]
        result.loc[when[(when > opened.reindex(when.index)) & (when <= now_ts)].index] = True
    later = cases[["case_id", "customer_id", "opened_at", "evidence"]].dropna(subset=["customer_id"])
    if not answers.empty and not later.empty:
        joined = later.merge(answers, on="customer_id")
        joined = joined[(joined["answered_at"] > joined["opened_at"]) & (joined["answered_at"] <= now_ts)]
        if not joined.empty:
            own = {c: _own_scores(e) for c, e in zip(later["case_id"], later["evidence"], strict=True)}
            bar = [
                own.get(c, {}).get(k, unhappy_max.get(k, np.inf))
                for c, k in zip(joined["case_id"], joined["kind"], strict=True)
            ]
            higher = pd.to_numeric(joined["score"], errors="coerce") > np.asarray(bar, dtype=float)
            result.loc[joined.loc[higher.to_numpy(), "case_id"].unique()] = True
    if not feedback.empty and not later.empty:
        joined = later.merge(feedback, on="customer_id")
        happy = (
            joined["sentiment"].isin(HAPPY_SENTIMENTS)
            & (joined["created_at"] > joined["opened_at"])
            & (joined["created_at"] <= now_ts)
        )
        result.loc[joined.loc[happy, "case_id"].unique()] = True
    return result


def recovery(followed: pd.Series, held: pd.Series, *, minimum: int = MIN_PER_ARM) -> dict[str, Any]:
    """Followed-up against holdout cases (booleans: recovered or not): both shares, the difference and its
    95% interval, one-sided p that following up helps, and the finding in words."""
    n1, x1 = len(followed), int(followed.sum())
    n0, x0 = len(held), int(held.sum())
    out: dict[str, Any] = {
        "followed_up": _share(x1, n1),
        "holdout": _share(x0, n0),
        "minimum": minimum,
        "enough": n1 >= minimum and n0 >= minimum,
        "difference": None,
        "low": None,
        "high": None,
        "p_value": None,
    }
    if not out["enough"]:
        out["finding"] = (
            f"not enough data (n = {n1} followed up, {n0} held out, counting cases with a known customer; "
            f"needs {minimum} in each group)"
        )
        return out
    low, high = difference_interval(x1, n1, x0, n0)
    out.update(difference=x1 / n1 - x0 / n0, low=low, high=high, p_value=two_proportion_greater(x1, n1, x0, n0)[1])
    span = f"{out['difference'] * 100:+.0f} points, 95% interval {low * 100:+.0f} to {high * 100:+.0f}"
    shares = f"{x1 / n1:.0%} of followed-up customers came back against {x0 / n0:.0%} of those held out"
    if low > 0:
        out["finding"] = f"Following up works: {shares} ({span})."
    elif high < 0:
        out["finding"] = f"Following up did worse: {shares} ({span})."
    else:
        out["finding"] = f"No clear difference yet: {shares} ({span})."
    return out
