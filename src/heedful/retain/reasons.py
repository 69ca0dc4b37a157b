"""Churn reasons in plain words: what a feature value means for this customer, and which way it moves the risk.

A reason is stored as a feature id, its displayed value and its effect — the feature's TreeSHAP contribution
to the log-odds of churn (`ChurnModel.contributions`): above zero it raises this customer's risk, below zero
it lowers it. `reason_text` turns one into words a shop owner reads at a glance::

    reason_text("overdue_ratio", "2.375", 0.8, {"recency_days": 95, "mean_gap_days": 40})
    # 'no order for 95 days, usually every 40 days → risk up'

No currency is known here, so money is a plain number with thousands separators; durations are in days;
shares are percentages. A feature this module does not know (a column of a user's own file) reads as its
humanised name and value: ``Contract = Month-to-month → risk up``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

RISK_UP = "→ risk up"
RISK_DOWN = "→ risk down"
NO_EFFECT = "→ no effect on risk"  # a top reason can have no effect at all, e.g. a feature every customer shares

# Other features of the same customer that make a reason read better (overdue: "usually every 40 days").
_CONTEXT: dict[str, tuple[str, ...]] = {
    "overdue_ratio": ("recency_days", "mean_gap_days"),
    "feedback_count": ("negative_feedback_share",),
    "negative_feedback_share": ("feedback_count",),
    "is_detractor": ("nps_score",),
}
_WINDOWED = re.compile(r"^(orders_last|spend_last|feedback_count|negative_feedback_share)_(\d+)d$")


def reason_text(feature: str, value: Any, effect: float | None, row: Mapping[str, Any] | None = None) -> str:
    """One churn reason in the customer's terms with its direction, e.g. "bought 59 different products → risk down".

    `value` is the value as stored or displayed (a number, its text, a category label or "missing");
    `effect` the feature's contribution to the log-odds of churn (> 0 raises risk, < 0 lowers it, 0: no
    effect; missing: no arrow); `row` other feature values of the same customer (any mapping; a numeric value of
    `feature` itself there is used in preference to the rounded `value`).
    """
    context = dict(row) if row is not None else {}
    words = _words(str(feature), value, context)
    arrow = direction(effect)
    return f"{words} {arrow}" if arrow else words


def direction(effect: float | None) -> str:
    """The arrow: "→ risk up" for a positive effect, "→ risk down" for a negative one, "→ no effect on risk" for
    zero, "" where the effect is missing."""
    number = _number(effect)
    if number is None:
        return ""
    return RISK_UP if number > 0 else RISK_DOWN if number < 0 else NO_EFFECT


def context_features(feature: str) -> tuple[str, ...]:
    """The other features whose values `reason_text` reads from `row` for this feature."""
    match = _WINDOWED.match(feature)
    if match is not None:
        related = _CONTEXT.get(match.group(1), ())
        return tuple(f"{name}_{match.group(2)}d" for name in related)
    return _CONTEXT.get(feature, ())


def reason_context(feature: str, row: Mapping[str, Any]) -> dict[str, float]:
    """The finite numeric values `reason_text` would use from `row` for this feature (itself included)."""
    out: dict[str, float] = {}
    for name in (feature, *context_features(feature)):
        number = _number(row.get(name))
        if number is not None:
            out[name] = number
    return out


def humanise(name: str) -> str:
    """A column name as words: "PaymentMethod" → "Payment method", "num_support_calls" → "Num support calls"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name))
    words = [w for w in re.split(r"[\s_\-.]+", spaced) if w]
    if not words:
        return str(name)
    words = [w if w.isupper() or i == 0 else w.lower() for i, w in enumerate(words)]
    first = words[0]
    words[0] = first if first.isupper() else first[:1].upper() + first[1:].lower()
    return " ".join(words)


# --------------------------------------------------------------------------- wording per feature
def _words(feature: str, value: Any, row: dict[str, Any]) -> str:
    own = _number(row.get(feature))
    x = own if own is not None else _number(value)
    match = _WINDOWED.match(feature)
    if match is not None:
        base, window = match.group(1), int(match.group(2))
        return _WINDOWED_WORDS[base](x, window, row, feature)
    words = _WORDS.get(feature)
    if words is None:
        return _unknown(feature, value)
    return words(x, row)


def _unknown(feature: str, value: Any) -> str:
    label = humanise(feature)
    if (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or str(value).strip().lower() in ("", "missing", "nan")
    ):
        return f"{label}: not known"
    number = _number(value)
    return f"{label} = {_plain(number) if number is not None else str(value).strip()}"


def _recency(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "no orders on record"
    # the usual gap is `overdue_ratio`'s to tell ("no order for 95 days, usually every 40 days"): the two often
    # come together, and twice the same sentence would read as a mistake
    return f"last order {_days(x)} ago" if round(x) >= 1 else "last order less than a day ago"


def _overdue(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "only one order so far, so no usual rhythm yet"
    recency, gap = _number(row.get("recency_days")), _positive(row.get("mean_gap_days"))
    if recency is not None and gap is not None:
        if x >= 1:
            return f"no order for {_days(recency)}, usually every {_days(gap)}"
        return f"next order not yet due: last one {_days(recency)} ago, usually every {_days(gap)}"
    if x >= 1:
        return f"{x:.1f} times the usual time between orders since the last one"
    return f"{_percent(x)} of the usual time between orders since the last one"


def _tenure(x: float | None, row: dict[str, Any]) -> str:
    return "first order date not known" if x is None else f"first order {_days(x)} ago"


def _frequency(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "number of orders not known"
    n = round(x)
    return "only 1 order so far" if n == 1 else f"{n:,} orders so far"


def _monetary_total(x: float | None, row: dict[str, Any]) -> str:
    return "total spend not known" if x is None else f"spent {_money(x)} in all"


def _monetary_mean(x: float | None, row: dict[str, Any]) -> str:
    return "spend per order not known" if x is None else f"{_money(x)} per order on average"


def _mean_gap(x: float | None, row: dict[str, Any]) -> str:
    if x is None or x <= 0:
        return "only one order so far, so no usual rhythm yet"
    return f"usually orders every {_days(x)}"


def _distinct_products(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "products bought not known"
    n = round(x)
    return "bought only 1 product" if n == 1 else f"bought {n:,} different products"


def _return_share(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "returns not known"
    return "no returns" if x <= 0 else f"returned {_percent(x)} of what they spent"


def _p_alive(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "no estimate yet of whether they still buy"
    return f"{_percent(x)} likely to still be buying, going by their purchase pattern"


def _nps_score(x: float | None, row: dict[str, Any]) -> str:
    return "no would-recommend answer yet" if x is None else f"would-recommend score {round(x)} out of 10"


def _is_detractor(x: float | None, row: dict[str, Any]) -> str:
    if x is None:
        return "no would-recommend answer yet"
    score = _number(row.get("nps_score"))
    if x >= 0.5:
        return "a detractor" + (f": would-recommend score {round(score)} out of 10" if score is not None else "")
    return "not a detractor" + (f": would-recommend score {round(score)} out of 10" if score is not None else "")


def _orders_last(x: float | None, window: int, row: dict[str, Any], feature: str) -> str:
    if x is None:
        return f"orders in the last {window} days not known"
    n = round(x)
    if n == 0:
        return f"no orders in the last {window} days"
    return f"{n:,} order{'s' if n != 1 else ''} in the last {window} days"


def _spend_last(x: float | None, window: int, row: dict[str, Any], feature: str) -> str:
    if x is None:
        return f"spend in the last {window} days not known"
    return f"spent nothing in the last {window} days" if x == 0 else f"spent {_money(x)} in the last {window} days"


def _feedback_count(x: float | None, window: int, row: dict[str, Any], feature: str) -> str:
    """The amount of feedback alone: "3 pieces of feedback in the last 90 days". Its negative share is a reason of
    its own (`_negative_share`), so each sentence carries its own feature's direction: "3 pieces of feedback …,
    none of them negative → risk up" read as if praise raised the risk."""
    if x is None or round(x) == 0:
        return f"no feedback in the last {window} days"
    n = round(x)
    return (
        f"1 piece of feedback in the last {window} days"
        if n == 1
        else f"{n:,} pieces of feedback in the last {window} days"
    )


def _negative_share(x: float | None, window: int, row: dict[str, Any], feature: str) -> str:
    """How much of the feedback was negative: "1 of 3 pieces of feedback in the last 90 days negative"."""
    if x is None:  # no feedback in the window: the share is missing
        return f"no feedback in the last {window} days"
    count = _number(row.get(f"feedback_count_{window}d"))
    n = round(count) if count is not None else 0
    if n <= 0:  # the amount is not known: the share alone
        if x <= 0:
            return f"no negative feedback in the last {window} days"
        if x >= 1:
            return f"all feedback in the last {window} days negative"
        return f"{_percent(x)} of feedback in the last {window} days negative"
    negative = round(x * n)
    if n == 1:
        return f"the 1 piece of feedback in the last {window} days {'negative' if negative else 'not negative'}"
    if negative == 0:
        return f"none of {n:,} pieces of feedback in the last {window} days negative"
    if negative >= n:
        return f"all {n:,} pieces of feedback in the last {window} days negative"
    return f"{negative:,} of {n:,} pieces of feedback in the last {window} days negative"


_WORDS: dict[str, Callable[[float | None, dict[str, Any]], str]] = {
    "recency_days": _recency,
    "overdue_ratio": _overdue,
    "tenure_days": _tenure,
    "frequency": _frequency,
    "monetary_total": _monetary_total,
    "monetary_mean": _monetary_mean,
    "mean_gap_days": _mean_gap,
    "distinct_products": _distinct_products,
    "return_share": _return_share,
    "p_alive": _p_alive,
    "nps_score": _nps_score,
    "is_detractor": _is_detractor,
}
_WINDOWED_WORDS: dict[str, Callable[[float | None, int, dict[str, Any], str], str]] = {
    "orders_last": _orders_last,
    "spend_last": _spend_last,
    "feedback_count": _feedback_count,
    "negative_feedback_share": _negative_share,
}


# --------------------------------------------------------------------------- numbers
def _number(value: Any) -> float | None:
    """A finite float from a number or its text; None for missing, text that is no number, or ±inf."""
    if value is None:
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _days(x: float) -> str:
    n = round(x)
    return "1 day" if n == 1 else f"{n:,} days"


def _money(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or x == round(x) else f"{x:,.2f}"


def _percent(x: float) -> str:
    if 0 < x < 0.005:
        return "under 1%"
    return f"{x * 100:,.0f}%"


def _plain(x: float) -> str:
    if x == round(x):
        return f"{round(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"
