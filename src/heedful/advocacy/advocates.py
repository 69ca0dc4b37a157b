"""Rank customers who are likely and valuable advocates: promoters, happy, loyal, valuable, proven referrers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CONSENT_STATES = ("not_invited", "invited", "joined", "declined", "opted_out")


@dataclass(frozen=True)
class AdvocateWeights:
    """How much each signal counts in `advocate_score` (normalised to sum to 1)."""

    promoter: float = 0.30
    positive_feedback: float = 0.15
    tenure: float = 0.15
    value: float = 0.25
    referrals: float = 0.15

    def normalised(self) -> dict[str, float]:
        raw = {
            "promoter": self.promoter,
            "positive_feedback": self.positive_feedback,
            "tenure": self.tenure,
            "value": self.value,
            "referrals": self.referrals,
        }
        total = sum(raw.values())
        return {k: v / total for k, v in raw.items()}


def _latest_nps(nps: pd.DataFrame | None) -> pd.Series:
    if nps is None or nps.empty:
        return pd.Series(dtype=float)
    ordered = nps.dropna(subset=["score"]).sort_values("answered_at", kind="mergesort")
    return ordered.groupby("customer_id")["score"].last().astype(float)


def _feedback_counts(feedback: pd.DataFrame | None) -> pd.DataFrame:
    if feedback is None or feedback.empty:
        return pd.DataFrame({"n_feedback": pd.Series(dtype=float), "n_positive": pd.Series(dtype=float)})
    fb = feedback[feedback["customer_id"].notna()]
    return fb.groupby("customer_id").agg(
        n_feedback=("sentiment", "size"), n_positive=("sentiment", lambda s: int((s == "positive").sum()))
    )


def _order_stats(orders: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    if orders is None or orders.empty:
        return pd.DataFrame({"first_order_at": pd.Series(dtype="datetime64[ns]"), "spend": pd.Series(dtype=float)})
    lines = orders[orders["customer_id"].notna()]
    if "is_return" in lines:
        lines = lines[~lines["is_return"].astype(bool)]
    stats = lines.groupby("customer_id").agg(first_order_at=("ordered_at", "min"), spend=("amount", "sum"))
    stats["first_order_at"] = pd.to_datetime(stats["first_order_at"])
    return stats[stats["first_order_at"] <= as_of]


def rank_advocates(
    customers: pd.DataFrame,
    *,
    value: pd.DataFrame | None = None,
    nps: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
    referrals: pd.DataFrame | None = None,
    enrolment: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
    weights: AdvocateWeights | None = None,
) -> pd.DataFrame:
    """Customers ranked by `advocate_score` in [0, 1], best first, with the reasons and consent status.

    Inputs (all optional but `customers`): value (customer_id, clv, p_alive, segment), nps
    (customer_id, score 0-10, answered_at), feedback (customer_id, sentiment), orders (order lines),
    referrals (advocate_id, status), enrolment (advocate_id, status) from the advocates table.
    Missing signals count as neutral (0.5), so an unknown customer ranks below a known promoter.
    `eligible` is false for detractors (latest NPS 0-6) and customers unlikely to be alive
    (p_alive < 0.2): they are listed but should not be invited.
    """
    w = (weights or AdvocateWeights()).normalised()
    people = customers[customers.get("kind", "customer") == "customer"] if "kind" in customers else customers
    out = pd.DataFrame(index=pd.Index(people["customer_id"].astype(str).unique(), name="customer_id"))
    when = as_of
    if when is None:  # judge tenure as of the latest order, so old data sets rank sensibly
        has_orders = orders is not None and not orders.empty
        when = pd.to_datetime(orders["ordered_at"]).max() if has_orders else pd.Timestamp.now()  # type: ignore[index]
    orders_stats = _order_stats(orders, when)

    out["nps"] = _latest_nps(nps).reindex(out.index)
    counts = _feedback_counts(feedback).reindex(out.index)
    out["n_feedback"] = counts["n_feedback"].fillna(0).astype(int)
    out["n_positive_feedback"] = counts["n_positive"].fillna(0).astype(int)
    # Laplace smoothing: one glowing review is weaker evidence than twenty
    out["positive_share"] = (counts["n_positive"].fillna(0) + 1) / (out["n_feedback"] + 2)
    stats = orders_stats.reindex(out.index)
    out["tenure_days"] = (when - stats["first_order_at"]).dt.days.clip(lower=0)
    out["spend"] = stats["spend"]
    if value is not None and not value.empty:
        v = value.drop_duplicates("customer_id").set_index("customer_id").reindex(out.index)
        out["clv"] = v.get("clv")
        out["p_alive"] = v.get("p_alive")
        out["segment"] = v.get("segment")
    else:
        out["clv"], out["p_alive"], out["segment"] = np.nan, np.nan, None
    out["referrals"] = _converted_referrals(referrals).reindex(out.index).fillna(0).astype(int)

    worth = out["clv"].where(out["clv"].notna(), out["spend"])
    components = pd.DataFrame(
        {
            "promoter": (out["nps"] / 10.0).fillna(0.5),
            "positive_feedback": out["positive_share"],
            "tenure": (out["tenure_days"] / 730.0).clip(upper=1.0).fillna(0.0),
            "value": worth.rank(pct=True).fillna(0.5),
            "referrals": 1.0 - np.exp(-out["referrals"].astype(float)),
        }
    )
    out["advocate_score"] = sum(components[k] * w[k] for k in w)
    likely = ["promoter", "positive_feedback", "tenure", "referrals"]
    out["likelihood"] = sum(components[k] * w[k] for k in likely) / sum(w[k] for k in likely)
    out["value_percentile"] = components["value"]
    out["eligible"] = ~((out["nps"] <= 6) | (out["p_alive"] < 0.2))
    out["consent_status"] = _consent(enrolment).reindex(out.index).fillna("not_invited")
    out["reasons"] = [_reasons(row) for row in out.itertuples()]
    out = out.reset_index().sort_values(["advocate_score", "customer_id"], ascending=[False, True], kind="mergesort")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def _converted_referrals(referrals: pd.DataFrame | None) -> pd.Series:
    if referrals is None or referrals.empty:
        return pd.Series(dtype=float)
    done = referrals[referrals["status"] == "converted"]
    return done.groupby("advocate_id").size().astype(float)


def _consent(enrolment: pd.DataFrame | None) -> pd.Series:
    if enrolment is None or enrolment.empty:
        return pd.Series(dtype=object)
    return enrolment.set_index("advocate_id")["status"]


def _reasons(row: object) -> list[str]:
    reasons: list[str] = []
    nps = getattr(row, "nps", np.nan)
    if pd.notna(nps):
        label = "promoter" if nps >= 9 else "passive" if nps >= 7 else "detractor"
        reasons.append(f"{label} (NPS answer {int(nps)})")
    n_fb = int(getattr(row, "n_feedback", 0))
    if n_fb:
        # the counts as they are; the score reads them smoothed (one glowing review is weak evidence)
        positive = int(getattr(row, "n_positive_feedback", 0))
        reasons.append(
            f"{positive} of {n_fb} pieces of feedback positive"
            if n_fb > 1
            else f"its one piece of feedback {'positive' if positive else 'not positive'}"
        )
    tenure = getattr(row, "tenure_days", np.nan)
    if pd.notna(tenure):
        reasons.append(f"customer for {tenure / 365.25:.1f} years")
    clv = getattr(row, "clv", np.nan)
    if pd.notna(clv):
        reasons.append(f"CLV {clv:,.0f}")
    n_ref = int(getattr(row, "referrals", 0))
    if n_ref:
        reasons.append(f"{n_ref} successful referral{'s' if n_ref > 1 else ''}")
    p_alive = getattr(row, "p_alive", np.nan)
    if pd.notna(p_alive) and p_alive < 0.2:
        reasons.append(f"probably no longer active (p_alive {p_alive:.2f})")
    return reasons
