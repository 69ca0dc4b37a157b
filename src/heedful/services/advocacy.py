"""Advocacy use cases: rank advocates, report on referrals, match peers and measure the effect, stories.

The referral ledger's use cases (attribution, conversions, exactly-once rewards) are in
`heedful.services.referrals` and re-exported here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from heedful.advocacy.advocates import rank_advocates
from heedful.advocacy.effect import assign_arms, measure_outcomes, programme_effect
from heedful.advocacy.matching import match_peers
from heedful.advocacy.rules import ProgrammeRules, expected_rewards, programme_summary, reconcile
from heedful.advocacy.stories import check_scopes
from heedful.errors import InputError
from heedful.services.referrals import (
    Grant,
    grant_reward,
    mark_paid,
    process_referrals,
    record_landing,
    reverse_reward,
    reward_referral,
    set_landing_email,
)
from heedful.services.surveys import answers_of_type
from heedful.store import Store
from heedful.store import advocacy_repo as repo
from heedful.themes import theme_lists

__all__ = [
    "ADVOCATE_FIELDS",
    "Grant",
    "advocacy_profile",
    "advocate_signals",
    "current_effect",
    "demo_step",
    "effect_report",
    "grant_reward",
    "mark_paid",
    "match_profiles",
    "nps_answers",
    "pay_checked",
    "process_referrals",
    "ranked_advocates",
    "record_landing",
    "referral_report",
    "reverse_reward",
    "reward_referral",
    "run_matching",
    "set_landing_email",
    "submit_story",
]

ADVOCATE_FIELDS = [
    "rank",
    "customer_id",
    "advocate_score",
    "likelihood",
    "value_percentile",
    "nps",
    "positive_share",
    "n_feedback",
    "tenure_days",
    "clv",
    "p_alive",
    "segment",
    "referrals",
    "eligible",
    "consent_status",
    "reasons",
]


#: why a customer was offered a peer, in words (`peer_matches.reason`)
PEER_NEEDS = {"at_risk": "at risk of leaving", "onboarding": "new customer"}
#: a match's status, in words
MATCH_STATUSES = {"proposed": "proposed", "introduced": "introduced", "holdout": "held out (not introduced)"}


# ---------------------------------------------------------------- advocates
def nps_answers(store: Store) -> pd.DataFrame:
    """customer_id, score (0-10), answered_at for every NPS answer by a known customer."""
    answers = answers_of_type(store, "nps")
    return answers[["customer_id", "score", "answered_at"]].reset_index(drop=True)


def advocate_signals(store: Store) -> dict[str, pd.DataFrame]:
    """The inputs of `rank_advocates`, read from the store."""
    signals = repo.signal_tables(store)
    signals["nps"] = nps_answers(store)
    return signals


def ranked_advocates(store: Store) -> pd.DataFrame:
    """Every customer ranked as a likely advocate, best first, with reasons and consent status."""
    signals = advocate_signals(store)
    return rank_advocates(
        signals["customers"],
        value=signals["value"],
        nps=signals["nps"],
        feedback=signals["feedback"],
        orders=signals["orders"],
        referrals=signals["referrals"],
        enrolment=signals["enrolment"],
    )


def referral_report(store: Store, rules: ProgrammeRules) -> dict[str, Any]:
    """Referrals, conversion, rewards owed/paid, referred revenue, CLV of referred vs others, ledger check."""
    refs = repo.referrals(store)
    book = repo.ledger(store)
    orders = repo.orders_of_referred(store)
    report = programme_summary(refs, book, orders, repo.customer_value(store))
    report["ledger_check"] = reconcile(expected_rewards(refs, orders, rules), book, rules) if not refs.empty else None
    return report


def pay_checked(store: Store, rules: ProgrammeRules, advocate_id: str | None = None) -> dict[str, Any]:
    """`advocacy pay`: pay every owed reward the ledger check accepts; hold the ones it does not (entries
    the rules do not justify, and every reward of an advocate's month that is over the caps)."""
    refs = repo.referrals(store)
    book = repo.ledger(store)
    if refs.empty or book.empty:
        return {"paid": mark_paid(store, advocate_id), "held": []}
    check = reconcile(expected_rewards(refs, repo.orders_of_referred(store), rules), book, rules)
    months = set(check["over_cap"])
    earned = book[book["entry"] == "earned"]
    in_full_month = earned[[f"{a} {p}" in months for a, p in zip(earned["advocate_id"], earned["period"], strict=True)]]
    held = sorted(set(check["unexpected"]) | set(in_full_month["idempotency_key"]))
    return {"paid": mark_paid(store, advocate_id, hold=set(held)), "held": held}


def advocacy_profile(store: Store, customer_id: str) -> dict[str, Any]:
    """Everything advocacy knows about one customer, for the customer profile page."""
    rows = repo.customer_records(store, customer_id)
    enrolled, made, referred_by, book = rows["advocate"], rows["made"], rows["referred_by"], rows["book"]
    sums = dict(zip(book["entry"], book["amount"], strict=True)) if not book.empty else {}
    return {
        "advocate": enrolled.iloc[0].to_dict() if not enrolled.empty else None,
        "referrals_made": len(made),
        "referrals_converted": int((made["status"] == "converted").sum()) if not made.empty else 0,
        "referred_by": referred_by.iloc[0].to_dict() if not referred_by.empty else None,
        "rewards": {
            "earned": float(sums.get("earned", 0.0)),
            "paid": float(sums.get("paid", 0.0)),
            "owed": float(sums.get("earned", 0.0) - sums.get("paid", 0.0) - sums.get("reversed", 0.0)),
        },
        "matches": rows["matches"],
        "stories": rows["stories"],
    }


# ---------------------------------------------------------------- stories
def submit_story(
    store: Store,
    *,
    idempotency_key: str,
    title: str,
    body: str,
    consent: Iterable[str],
    advocate_id: str | None = None,
    author_name: str | None = None,
) -> str:
    """Store a submitted story (status `submitted`); the same form submitted twice stores one story."""
    scopes = check_scopes(set(consent))
    if not title.strip() or not body.strip():
        raise InputError("A story needs a title and a text.")
    return repo.save_story(
        store,
        {
            "idempotency_key": idempotency_key,
            "advocate_id": advocate_id,
            "author_name": author_name,
            "title": title.strip(),
            "body": body.strip(),
            "consent_website": "website" in scopes,
            "consent_social": "social" in scopes,
            "consent_sales": "sales" in scopes,
            "status": "submitted",
        },
    )


# ---------------------------------------------------------------- peer matching and its effect
def match_profiles(
    store: Store, *, onboarding_days: int = 90, at_risk_threshold: float = 0.5, max_products: int = 50
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Candidates (new and at-risk customers not matched before) and opted-in advocates with free capacity.

    Profiles: segment (customer_value), products bought (names, most bought first), attributes
    (country, industry), feedback themes (feedback_enriched), tenure in days as of the latest order.
    New: first order within `onboarding_days` of the latest order in the data. At risk:
    churn_risk (retain's churn_scores, else customer_value) >= threshold, else p_alive below
    1 - threshold when churn risk was not computed.
    """
    firsts = repo.first_orders(store)
    if firsts.empty:
        return pd.DataFrame(), pd.DataFrame()
    firsts["first_order_at"] = pd.to_datetime(firsts["first_order_at"])
    last = repo.latest_order_at(store)
    as_of = last if last is not None else firsts["first_order_at"].max()
    base = firsts.set_index("customer_id")
    base["tenure_days"] = (as_of - base["first_order_at"]).dt.days.astype(float)
    value = repo.customer_value(store)
    if not value.empty:
        base = base.join(value.set_index("customer_id")[["segment", "p_alive", "churn_risk"]])
    else:
        base["segment"], base["p_alive"], base["churn_risk"] = None, float("nan"), float("nan")
    scores = repo.churn_scores(store)
    if not scores.empty:  # retain's latest scores, also for customers without value results
        latest = scores.set_index("customer_id")["churn_risk"].astype(float)
        base["churn_risk"] = latest.reindex(base.index).fillna(base["churn_risk"])
    enrolled = repo.advocates(store)[["advocate_id", "peer_opt_in", "capacity", "status"]]
    load = repo.active_load(store)
    adv = enrolled[(enrolled["status"] == "joined") & enrolled["peer_opt_in"].astype(bool)].copy()
    adv["capacity"] = adv["capacity"].astype(int) - adv["advocate_id"].map(load).fillna(0).astype(int)
    adv = adv[adv["capacity"] > 0]
    matched_before = repo.matched_customers(store)
    new = base["tenure_days"] <= onboarding_days
    risk = base["churn_risk"].ge(at_risk_threshold) | (
        base["churn_risk"].isna() & base["p_alive"].lt(1 - at_risk_threshold)
    )
    base["need"] = None
    base.loc[risk, "need"] = "at_risk"
    base.loc[new, "need"] = "onboarding"
    cand_ids = [
        c for c in base.index[base["need"].notna()] if c not in matched_before and c not in set(adv["advocate_id"])
    ]
    people = cand_ids + list(adv["advocate_id"])
    profiles = _profiles(store, people, max_products).reindex(people)
    cand = base.loc[cand_ids, ["segment", "tenure_days", "need"]].join(profiles).reset_index()
    advocates_out = (
        adv.set_index("advocate_id")[["capacity", "peer_opt_in"]]
        .join(base[["segment", "tenure_days"]])
        .join(profiles)
        .rename_axis("customer_id")
        .reset_index()
    )
    return cand, advocates_out


def _profiles(store: Store, customer_ids: list[str], max_products: int) -> pd.DataFrame:
    if not customer_ids:
        return pd.DataFrame(columns=["products", "attributes", "themes"])
    products = repo.products_bought(store, customer_ids)
    products = products.dropna(subset=["product"]).sort_values(["customer_id", "q"], ascending=[True, False])
    product_lists = products.groupby("customer_id")["product"].apply(lambda s: list(s.head(max_products)))
    people = repo.customer_places(store, customer_ids)
    attrs = {
        c: {k: v for k, v in (("country", country), ("industry", _attr(a, "industry"))) if isinstance(v, str) and v}
        for c, country, a in zip(people["customer_id"], people["country"], people["attributes"], strict=True)
    }
    themes = repo.feedback_themes(store)
    themes = themes.assign(themes=theme_lists(themes["themes"]))
    theme_sets = themes.groupby("customer_id")["themes"].apply(lambda s: sorted({t for v in s for t in v}))
    out = pd.DataFrame(index=pd.Index(customer_ids, name="customer_id"))
    out["products"] = [product_lists.get(c, []) for c in customer_ids]
    out["attributes"] = [attrs.get(c, {}) for c in customer_ids]
    out["themes"] = [theme_sets.get(c, []) for c in customer_ids]
    return out


def _attr(raw: Any, key: str) -> Any:
    if not isinstance(raw, str) or not raw.startswith("{"):
        return None
    try:
        return json.loads(raw).get(key)
    except (ValueError, AttributeError):
        return None


def run_matching(
    store: Store,
    *,
    holdout: float = 0.2,
    top_k: int = 10,
    onboarding_days: int = 90,
    save: bool = True,
) -> dict[str, Any]:
    """Propose advocates for new and at-risk customers, draw the holdout, and (with `save`) store the matches."""
    candidates, advocates = match_profiles(store, onboarding_days=onboarding_days)
    if candidates.empty or advocates.empty:
        result = None
        matches = pd.DataFrame(columns=["customer_id", "advocate_id", "score", "need", "reasons"])
    else:
        from heedful.services.listen import label_of, theme_labels

        labels = theme_labels()
        names = {t: label_of(t, labels) for t in _theme_ids(candidates, advocates)}
        result = match_peers(candidates, advocates, top_k=top_k, theme_names=names)
        matches = result.matches
    arms = assign_arms(matches["customer_id"], holdout)
    saved = repo.save_matches(store, matches, arms) if save else 0
    matches = matches.assign(arm=arms.reindex(matches["customer_id"]).to_numpy())
    return {
        "candidates": len(candidates),
        "advocates_with_capacity": len(advocates),
        "slots": result.slots if result else 0,
        "matched": int((matches["arm"] == "matched").sum()),
        "holdout": int((matches["arm"] == "holdout").sum()),
        "total_score": result.total_score if result else 0.0,
        "saved": saved,
        "matches": matches,
    }


def effect_report(store: Store, window_days: int = 90) -> dict[str, Any]:
    """Matched vs held-out customers (retention, spend, 95% intervals); records the outcomes now known."""
    matches, orders, as_of = repo.match_outcome_inputs(store)
    if matches.empty:
        return {
            "window_days": window_days,
            "matches": 0,
            **programme_effect(pd.DataFrame(columns=["arm", "retained", "spend", "observed"])),
        }
    outcomes = measure_outcomes(matches, orders, window_days=window_days, as_of=as_of)
    repo.record_outcomes(store, outcomes)
    return {"window_days": window_days, "matches": len(matches), **programme_effect(outcomes)}


def current_effect(store: Store) -> dict[str, Any] | None:
    """The programme effect over the stored matches (default window), without recording outcomes; None without matches."""
    matched, orders, as_of = repo.match_outcome_inputs(store)
    return programme_effect(measure_outcomes(matched, orders, as_of=as_of)) if not matched.empty else None


# ---------------------------------------------------------------- demo
def demo_step(store: Store) -> dict[str, object]:
    """Advocacy on the demo data: rank advocates, enrol the top ones as demo advocates, match, report.

    The demo enrols the 30 best-ranked customers as joined, opted-in advocates (source `demo`) so the
    matching can be seen; a real programme records each advocate's own consent (`advocacy consent`).
    """
    ranked = ranked_advocates(store)
    top = ranked[ranked["eligible"]].head(30)["customer_id"].tolist()
    repo.enrol_advocates(store, top, status="joined", peer_opt_in=True, capacity=5, source="demo")
    matching = run_matching(store, holdout=0.2)
    referrals = process_referrals(store, ProgrammeRules())
    return {
        "customers_ranked": len(ranked),
        "top_advocate": top[0] if top else None,
        "advocates_enrolled": len(top),
        "match_candidates": matching["candidates"],
        "matched": matching["matched"],
        "holdout": matching["holdout"],
        "referrals_converted": referrals["converted"],
    }


def _theme_ids(*frames: pd.DataFrame) -> set[str]:
    """Every theme id in the frames' `themes` columns (lists of ids, or ";"-joined as stored)."""
    from heedful.themes import decode_themes

    ids: set[str] = set()
    for frame in frames:
        for value in frame.get("themes", []):
            ids.update(value if isinstance(value, list | tuple) else decode_themes(value))
    return ids
