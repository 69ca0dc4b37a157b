"""A case's life: its key, priority from value and severity, due date from the owner's SLA, statuses.

Priority adds two points: the signal's severity (high 2, medium 1, low 0) and the customer's value tier
by CLV quantile (top 2, mid 1, low 0; a case with no known customer counts as mid). Three or more is
"high", two "medium", less "low".
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pandas as pd

from heedful.cases.rules import CaseRules, ValueTiers
from heedful.errors import InputError

STATUSES: tuple[str, ...] = ("new", "in_progress", "waiting_for_customer", "resolved", "wont_fix")
OPEN_STATUSES: tuple[str, ...] = ("new", "in_progress", "waiting_for_customer")
CLOSED_STATUSES: tuple[str, ...] = ("resolved", "wont_fix")

# status -> statuses it may move to; a closed case reopens to in_progress only
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("in_progress", "waiting_for_customer", "resolved", "wont_fix"),
    "in_progress": ("waiting_for_customer", "resolved", "wont_fix"),
    "waiting_for_customer": ("in_progress", "resolved", "wont_fix"),
    "resolved": ("in_progress",),
    "wont_fix": ("in_progress",),
}

_SEVERITY_POINTS = {"high": 2, "medium": 1, "low": 0}
_TIER_POINTS = {"top": 2, "mid": 1, "low": 0}


def idempotency_key(customer_id: str | None, trigger: str, trigger_id: str) -> str:
    """One case per (customer, trigger kind, trigger id): re-running the rules finds the same key."""
    return f"{customer_id or '-'}|{trigger}|{trigger_id}"


def case_id_of(key: str) -> str:
    """A short stable id derived from the idempotency key (a retry computes the same id)."""
    return "c" + hashlib.sha256(key.encode()).hexdigest()[:11]


def in_holdout(key: str, share: float) -> bool:
    """Whether the case with idempotency key `key` is drawn into the holdout: a seeded hash of the key, so
    the draw is random across cases yet the same on every run (a retry or a second store agrees)."""
    if share <= 0:
        return False
    digest = hashlib.sha256(f"heedful-holdout|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InputError(f"Unknown case status {status!r}; use one of {', '.join(STATUSES)}.")
    return status


def check_transition(case_id: str, current: str, new: str) -> None:
    """InputError unless a case in `current` may move to `new`."""
    check_status(new)
    allowed = TRANSITIONS.get(current, ())
    if new not in allowed:
        hint = "reopen it (in_progress) first" if current in CLOSED_STATUSES else f"it can move to {', '.join(allowed)}"
        raise InputError(f"Case {case_id} is {current}; it cannot become {new}: {hint}.")


def value_percentiles(customer_value: pd.DataFrame | None) -> pd.Series:
    """customer_id -> share of customers whose CLV is at or below theirs (1.0 = the most valuable)."""
    if customer_value is None or customer_value.empty:
        return pd.Series(dtype="float64")
    clv = pd.to_numeric(customer_value.set_index("customer_id")["clv"], errors="coerce").dropna()
    clv = clv[~clv.index.duplicated()]
    return clv.rank(pct=True, method="max")


def value_tier(percentile: float | None, tiers: ValueTiers) -> str | None:
    """'top', 'mid' or 'low' by CLV quantile; None when the customer's value is unknown."""
    if percentile is None or pd.isna(percentile):
        return None
    if percentile > 1 - tiers.top_share:
        return "top"
    if percentile > 1 - tiers.top_share - tiers.mid_share:
        return "mid"
    return "low"


def priority_of(severity: str, tier: str | None) -> str:
    points = _SEVERITY_POINTS.get(severity, 1) + _TIER_POINTS.get(tier or "mid", 1)
    return "high" if points >= 3 else "medium" if points == 2 else "low"


def plan_cases(candidates: pd.DataFrame, percentiles: pd.Series, rules: CaseRules, now: datetime) -> pd.DataFrame:
    """Candidates (from `triggers.find_candidates`) with priority, status, holdout, opened_at and due_at."""
    out = candidates.copy()
    if out.empty:
        return out.assign(
            priority=pd.Series(dtype=object),
            status=pd.Series(dtype=object),
            opened_at=now,
            due_at=now,
            holdout=pd.Series(dtype=bool),
        )
    pct = out["customer_id"].map(lambda c: percentiles.get(c) if isinstance(c, str) else None)
    tiers = [value_tier(p, rules.value_tiers) for p in pct]
    out["priority"] = [priority_of(s, t) for s, t in zip(out["severity"], tiers, strict=True)]
    out["status"] = "new"
    # a case without a known customer (a journey alert) has no one whose later behaviour could be compared
    out["holdout"] = [
        isinstance(c, str) and bool(c) and in_holdout(k, rules.holdout_share)
        for c, k in zip(out["customer_id"], out["idempotency_key"], strict=True)
    ]
    out["opened_at"] = now
    out["due_at"] = [
        now + timedelta(hours=rules.sla_for(d if isinstance(d, str) else None).hours(p))
        for d, p in zip(out["department"], out["priority"], strict=True)
    ]
    return out
