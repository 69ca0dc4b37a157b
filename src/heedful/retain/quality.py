"""How far to trust a churn model's risks, in plain words, from its out-of-fold figures."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

#: below this cross-validated AUC (or with chance, 0.5, inside its interval) the risks are called rough
WEAK_AUC = 0.7


def _known(value: Any) -> bool:
    return value is not None and value == value  # NaN is not equal to itself


def judge(run: Mapping[str, Any]) -> tuple[bool, str]:
    """(weak, a paragraph for the page) from a scoring run: horizon_days, trained_cutoff, n_train_customers,
    train_churn_rate, cv_auc, cv_auc_low, cv_auc_high (missing figures are left out of the words)."""
    auc: Any = run.get("cv_auc")
    low: Any = run.get("cv_auc_low")
    high: Any = run.get("cv_auc_high")
    weak = not _known(auc) or auc < WEAK_AUC or (_known(low) and low <= 0.5)
    days = int(run["horizon_days"])
    cutoff = run["trained_cutoff"]
    if isinstance(cutoff, str):
        cutoff = datetime.fromisoformat(cutoff)
    cutoff = cutoff.date() if isinstance(cutoff, datetime) else cutoff
    assert isinstance(cutoff, date)
    words = (
        f"Churn risk is the chance that a customer places no order in the next {days} days. The model learnt it "
        f"from {int(run['n_train_customers']):,} customers' orders up to {cutoff.isoformat()} and what they did "
        f"in the {days} days after"
    )
    rate = run.get("train_churn_rate")
    if _known(rate):
        words += f" ({rate:.0%} of them ordered nothing)"
    if _known(auc):
        interval = f" (95% interval {low:.0%}–{high:.0%})" if _known(low) and _known(high) else ""
        words += (
            f". Tested on customers it had not learnt from, it ranks a churner above a customer who stays "
            f"{auc:.0%} of the time{interval}; 50% would be guessing."
        )
    else:
        words += ". Its accuracy could not be measured."
    if weak:
        words += " That is weak: read each risk as a rough guide, not a forecast."
    return bool(weak), words
