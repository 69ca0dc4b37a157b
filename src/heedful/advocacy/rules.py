"""Referral programme rules, and the rewards they say should exist (to reconcile the ledger against)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heedful.errors import ConfigError

REWARD_COLUMNS = [
    "idempotency_key",
    "referral_id",
    "advocate_id",
    "amount",
    "currency",
    "period",
    "order_id",
    "earned_at",
    "status",
]


class ProgrammeRules(BaseModel):
    """What an advocate earns for a referred friend, and the limits on it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = "1"
    reward_amount: float = Field(default=20.0, gt=0, description="credit per referred friend's first qualifying order")
    currency: str = "GBP"
    min_order_amount: float = Field(default=0.0, ge=0, description="the friend's order must be at least this much")
    max_rewards_per_month: int | None = Field(default=5, ge=0, description="cap on rewards per advocate per month")
    max_amount_per_month: float | None = Field(default=100.0, ge=0, description="cap on credit per advocate per month")
    attribution_window_days: int = Field(
        default=90, gt=0, description="days after landing within which the order counts"
    )
    reward_flagged: bool = Field(
        default=False, description="pay on referrals flagged as self-referral / duplicate account"
    )


def parse_rules(text: str) -> ProgrammeRules:
    """Rules from YAML text; a wrong key or value raises ConfigError naming it."""
    try:
        data: Any = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Programme rules are not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError("Programme rules must be a YAML mapping (key: value lines).")
    try:
        return ProgrammeRules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"Programme rules are invalid: {problems}") from exc


def reward_key(friend_id: str, entry: str = "earned") -> str:
    """Idempotency key of a ledger entry: one `earned` (and one `paid`) entry per referred friend, ever.

    Keyed by the friend, not the referral, so a friend referred twice (landing and code on import,
    or by two advocates) still pays out once.
    """
    return f"{entry}:first-order:{friend_id}"


def reward_period(when: pd.Timestamp | Any) -> str:
    return pd.Timestamp(when).strftime("%Y-%m")


def cap_allows(rules: ProgrammeRules, earned_count: int, earned_amount: float, amount: float) -> bool:
    """Whether one more reward of `amount` keeps the advocate within this month's caps."""
    if rules.max_rewards_per_month is not None and earned_count + 1 > rules.max_rewards_per_month:
        return False
    return rules.max_amount_per_month is None or earned_amount + amount <= rules.max_amount_per_month + 1e-9


def order_totals(orders: pd.DataFrame) -> pd.DataFrame:
    """One row per order (customer, time, amount) from order lines; returns and cancellations left out."""
    if orders.empty:
        return pd.DataFrame(columns=["order_id", "customer_id", "ordered_at", "order_amount"])
    lines = orders[~orders["is_return"].astype(bool)] if "is_return" in orders else orders
    lines = lines[lines["customer_id"].notna()]
    totals = (
        lines.groupby(["customer_id", "order_id"], as_index=False)
        .agg(ordered_at=("ordered_at", "min"), order_amount=("amount", "sum"))
        .sort_values(["ordered_at", "order_id"], kind="mergesort")
    )
    totals["ordered_at"] = pd.to_datetime(totals["ordered_at"])
    return totals[totals["order_amount"] > 0].reset_index(drop=True)


def qualifying_orders(referrals: pd.DataFrame, orders: pd.DataFrame, rules: ProgrammeRules) -> pd.DataFrame:
    """The referred friend's first qualifying order per referral.

    A friend counts only as a *new* customer: nobody who ordered before landing earns a reward.
    The first order at or after landing that reaches the minimum, within the window, qualifies.
    """
    cols = ["referral_id", "order_id", "ordered_at", "order_amount"]
    refs = referrals[referrals["referred_customer_id"].notna()]
    if refs.empty or orders.empty:
        return pd.DataFrame(columns=cols)
    totals = order_totals(orders)
    merged = refs[["referral_id", "referred_customer_id", "created_at"]].merge(
        totals, left_on="referred_customer_id", right_on="customer_id"
    )
    landed = pd.to_datetime(merged["created_at"]).dt.floor("D")
    before = merged[merged["ordered_at"] < landed]["referral_id"].unique()
    window_end = landed + pd.Timedelta(days=rules.attribution_window_days)
    ok = (
        (merged["ordered_at"] >= landed)
        & (merged["ordered_at"] <= window_end)
        & (merged["order_amount"] >= rules.min_order_amount)
        & ~merged["referral_id"].isin(before)
    )
    first = merged[ok].sort_values(["ordered_at", "order_id"], kind="mergesort").drop_duplicates("referral_id")
    return first[cols].reset_index(drop=True)


def expected_rewards(referrals: pd.DataFrame, orders: pd.DataFrame, rules: ProgrammeRules) -> pd.DataFrame:
    """The rewards the rules say should exist, one row per converted referral, in ledger order.

    `status` is `earned` (should be in the ledger), `capped` (over the month's cap) or `flagged`
    (self-referral / duplicate account, unpaid unless the rules say otherwise). Rewards are granted
    in order of the qualifying order's time, which is also the order `attribute` writes them in.
    """
    conversions = qualifying_orders(referrals, orders, rules)
    if conversions.empty:
        return pd.DataFrame(columns=REWARD_COLUMNS)
    info = referrals[["referral_id", "advocate_id", "referred_customer_id", "created_at", "flags"]]
    conv = conversions.merge(info.drop_duplicates("referral_id"), on="referral_id")
    # a friend earns one reward, ever: the first advocate to have referred them gets it
    conv = conv.sort_values(["created_at", "referral_id"], kind="mergesort").drop_duplicates("referred_customer_id")
    conv = conv.sort_values(["ordered_at", "referral_id"], kind="mergesort")
    used: dict[tuple[str, str], tuple[int, float]] = {}
    rows = []
    for rec in conv.itertuples(index=False):
        period = reward_period(rec.ordered_at)
        flagged = isinstance(rec.flags, str) and rec.flags.strip() != ""
        count, amount = used.get((rec.advocate_id, period), (0, 0.0))
        if flagged and not rules.reward_flagged:
            status = "flagged"
        elif cap_allows(rules, count, amount, rules.reward_amount):
            status = "earned"
            used[(rec.advocate_id, period)] = (count + 1, amount + rules.reward_amount)
        else:
            status = "capped"
        rows.append(
            {
                "idempotency_key": reward_key(rec.referred_customer_id),
                "referral_id": rec.referral_id,
                "advocate_id": rec.advocate_id,
                "amount": rules.reward_amount,
                "currency": rules.currency,
                "period": period,
                "order_id": rec.order_id,
                "earned_at": rec.ordered_at,
                "status": status,
            }
        )
    return pd.DataFrame(rows, columns=REWARD_COLUMNS)


def reconcile(expected: pd.DataFrame, ledger: pd.DataFrame, rules: ProgrammeRules | None = None) -> dict[str, Any]:
    """Compare the rewards that should exist with the ledger's `earned` entries not reversed since.

    Rewards are granted first come, first served (a conversion reported by the API today, an earlier
    order imported tomorrow), so which of an advocate's rewards fill a month's cap depends on when
    they were granted, not only on the orders' times. With `rules`, any reward the rules justify (a
    qualifying, unflagged conversion, `earned` or `capped` in `expected`) is accepted as long as the
    advocate's month stays within the caps (`over_cap` lists the months that do not), and a reward is
    missing only when its month still has room. Without `rules`, the ledger must hold exactly the
    `earned` rewards. Returns missing keys, unexpected entries, amount mismatches and `ok`.
    """
    justified = expected[expected["status"].isin(["earned", "capped"] if rules is not None else ["earned"])]
    justified = justified.set_index("idempotency_key")
    earned = ledger[ledger["entry"] == "earned"] if not ledger.empty else ledger
    if not ledger.empty:
        reversed_keys = {
            k.replace("reversed:", "earned:", 1) for k in ledger.loc[ledger["entry"] == "reversed", "idempotency_key"]
        }
        earned = earned[~earned["idempotency_key"].isin(reversed_keys)]
    have = earned.set_index("idempotency_key")["amount"] if not earned.empty else pd.Series(dtype=float)
    unexpected = sorted(set(have.index) - set(justified.index))
    common = sorted(set(justified.index) & set(have.index))
    mismatched = [k for k in common if not np.isclose(float(justified.loc[k, "amount"]), float(have[k]))]
    used: dict[tuple[str, str], tuple[int, float]] = {}
    for k in common:
        month = (str(justified.loc[k, "advocate_id"]), str(justified.loc[k, "period"]))
        count, amount = used.get(month, (0, 0.0))
        used[month] = (count + 1, amount + float(have[k]))
    over_cap: list[str] = []
    missing: list[str] = []
    if rules is None:
        missing = sorted(set(justified.index) - set(have.index))
    else:
        over_cap = sorted(
            f"{advocate} {period}"
            for (advocate, period), (count, amount) in used.items()
            if not cap_allows(rules, count - 1, amount - rules.reward_amount, rules.reward_amount)
        )
        for k in [k for k in justified.index if k not in have.index]:  # in the order they would be granted
            month = (str(justified.loc[k, "advocate_id"]), str(justified.loc[k, "period"]))
            count, amount = used.get(month, (0, 0.0))
            if cap_allows(rules, count, amount, float(justified.loc[k, "amount"])):
                missing.append(k)
                used[month] = (count + 1, amount + float(justified.loc[k, "amount"]))
        missing.sort()
    return {
        "expected": int((expected["status"] == "earned").sum()),
        "in_ledger": len(have),
        "missing": missing,
        "unexpected": unexpected,
        "amount_mismatch": mismatched,
        "over_cap": over_cap,
        "ok": not (missing or unexpected or mismatched or over_cap),
    }


def programme_summary(
    referrals: pd.DataFrame, ledger: pd.DataFrame, orders: pd.DataFrame, value: pd.DataFrame | None = None
) -> dict[str, Any]:
    """Referrals, conversion, rewards owed and paid, referred revenue, CLV of referred vs other customers.

    orders: order lines of all customers (or at least the referred ones, for revenue); value:
    customer_value (customer_id, clv) for the CLV comparison.
    """
    by_status = referrals["status"].value_counts().to_dict() if not referrals.empty else {}
    total = len(referrals)
    converted_ids = set(referrals.loc[referrals["status"] == "converted", "referred_customer_id"].dropna())
    flagged = int((referrals["flags"].fillna("") != "").sum()) if not referrals.empty else 0
    sums = ledger.groupby("entry")["amount"].sum().to_dict() if not ledger.empty else {}
    earned, paid, reversed_ = (float(sums.get(k, 0.0)) for k in ("earned", "paid", "reversed"))
    lines = orders[~orders["is_return"].astype(bool)] if not orders.empty and "is_return" in orders else orders
    revenue = float(lines.loc[lines["customer_id"].isin(converted_ids), "amount"].sum()) if not lines.empty else 0.0
    clv: dict[str, Any] = {"referred": None, "others": None, "referred_customers": 0, "other_customers": 0}
    if value is not None and not value.empty and "clv" in value:
        known = value.dropna(subset=["clv"])
        referred = known[known["customer_id"].isin(converted_ids)]["clv"]
        others = known[~known["customer_id"].isin(converted_ids)]["clv"]
        clv = {
            "referred": float(referred.mean()) if len(referred) else None,
            "others": float(others.mean()) if len(others) else None,
            "referred_customers": len(referred),
            "other_customers": len(others),
        }
    return {
        "referrals": total,
        "by_status": {k: int(v) for k, v in by_status.items()},
        "converted": len(converted_ids),
        "conversion_rate": len(converted_ids) / total if total else None,
        "flagged": flagged,
        "advocates_with_referrals": int(referrals["advocate_id"].nunique()) if total else 0,
        "rewards": {
            "earned": earned,
            "paid": paid,
            "reversed": reversed_,
            "owed": earned - paid - reversed_,
            "currency": ledger["currency"].dropna().iloc[0]
            if not ledger.empty and ledger["currency"].notna().any()
            else None,
        },
        "referred_revenue": revenue,
        "clv": clv,
    }
