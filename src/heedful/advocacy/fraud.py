"""Referral fraud checks: self-referrals, same-household referrals and duplicate accounts."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

_PUBLIC_GMAIL = {"gmail.com", "googlemail.com"}
_ADDRESS_KEYS = ("address", "address1", "street", "address_line1", "line1")
_POSTCODE_KEYS = ("postcode", "postal_code", "zip", "zip_code")


def normalise_email(email: Any) -> str | None:
    """Lower-case, without a `+tag`; dots in Gmail local parts are ignored (as Gmail does)."""
    if not isinstance(email, str) or "@" not in email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in _PUBLIC_GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}" if local else None


def normalise_phone(phone: Any) -> str | None:
    """The last 9 digits: the same number written with or without country code or trunk 0."""
    if not isinstance(phone, str | int):
        return None
    digits = re.sub(r"\D", "", str(phone))
    return digits[-9:] if len(digits) >= 7 else None


def _attributes(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.strip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _norm_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = re.sub(r"[^a-z0-9]", "", value.lower())
    return text or None


def address_key(attributes: Any) -> str | None:
    """Street address + postcode, normalised (spaces, case and punctuation ignored)."""
    attrs = _attributes(attributes)
    street = next((_norm_text(attrs.get(k)) for k in _ADDRESS_KEYS if _norm_text(attrs.get(k))), None)
    postcode = postcode_key(attrs)
    return f"{street}|{postcode or ''}" if street else None


def postcode_key(attributes: Any) -> str | None:
    attrs = _attributes(attributes)
    return next((_norm_text(attrs.get(k)) for k in _POSTCODE_KEYS if _norm_text(attrs.get(k))), None)


def surname(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    return _norm_text(name.strip().split()[-1])


def identity_keys(customers: pd.DataFrame) -> pd.DataFrame:
    """Per customer: normalised e-mail, phone, address, postcode and surname."""
    frame = pd.DataFrame({"customer_id": customers["customer_id"].astype(str)})
    col = customers.get
    attrs = col("attributes", pd.Series([None] * len(customers), index=customers.index))
    frame["email"] = [normalise_email(v) for v in col("email", pd.Series([None] * len(customers)))]
    frame["phone"] = [normalise_phone(v) for v in col("phone", pd.Series([None] * len(customers)))]
    frame["address"] = [address_key(v) for v in attrs]
    frame["postcode"] = [postcode_key(v) for v in attrs]
    frame["surname"] = [surname(v) for v in col("name", pd.Series([None] * len(customers)))]
    seen = customers.get("first_seen_at", customers.get("created_at"))
    frame["first_seen_at"] = pd.to_datetime(seen.values) if seen is not None else pd.NaT
    return frame.reset_index(drop=True)


def duplicate_accounts(customers: pd.DataFrame) -> pd.DataFrame:
    """Pairs of distinct customer ids that share a normalised e-mail or phone: likely one person.

    Columns: customer_id (the newer account), duplicate_of (the older one), matched_on.
    """
    keys = identity_keys(customers)
    pairs: list[tuple[str, str, str]] = []
    for field in ("email", "phone"):
        known = keys[keys[field].notna()].sort_values(["first_seen_at", "customer_id"], na_position="last")
        for _, group in known.groupby(field):
            if len(group) < 2:
                continue
            oldest = group.iloc[0]["customer_id"]
            pairs.extend((cid, oldest, field) for cid in group["customer_id"].iloc[1:])
    out = pd.DataFrame(pairs, columns=["customer_id", "duplicate_of", "matched_on"])
    return out.groupby(["customer_id", "duplicate_of"], as_index=False).agg(matched_on=("matched_on", ";".join))


def flag_referrals(referrals: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Fraud flags per referral: `self_referral`, `same_household`, `duplicate_account`.

    - self_referral: the friend is the advocate (same id, e-mail, phone or street address);
    - same_household: same surname and postcode (a partner or family member);
    - duplicate_account: the friend's e-mail or phone belongs to another, older account,
      i.e. an existing customer signing up again to collect the reward.
    Returns referral_id, flags (';'-joined, '' when clean) and reasons (one readable line).
    """
    keys = identity_keys(customers).set_index("customer_id")
    dupes = duplicate_accounts(customers)
    older = dict(zip(dupes["customer_id"], dupes["duplicate_of"], strict=True))
    rows = []
    for rec in referrals.itertuples(index=False):
        advocate = str(rec.advocate_id)
        friend = rec.referred_customer_id if isinstance(rec.referred_customer_id, str) else None
        a = keys.loc[advocate] if advocate in keys.index else None
        f = keys.loc[friend] if friend is not None and friend in keys.index else None
        friend_email = normalise_email(getattr(rec, "referred_email", None))
        flags: list[str] = []
        reasons: list[str] = []
        same = _same_identity(advocate, friend, a, f, friend_email)
        if same:
            flags.append("self_referral")
            reasons.append(f"friend has the advocate's {same}")
        elif _same_household(a, f):
            flags.append("same_household")
            reasons.append("same surname and postcode as the advocate")
        if friend is not None and friend in older and older[friend] != advocate:
            flags.append("duplicate_account")
            reasons.append(f"friend's e-mail or phone already belongs to customer {older[friend]}")
        rows.append({"referral_id": rec.referral_id, "flags": ";".join(flags), "reasons": "; ".join(reasons)})
    return pd.DataFrame(rows, columns=["referral_id", "flags", "reasons"])


def _same_identity(advocate: str, friend: str | None, a: Any, f: Any, friend_email: str | None) -> str | None:
    if friend is not None and friend == advocate:
        return "customer id"
    if a is None:
        return None
    if friend_email and friend_email == a["email"]:
        return "e-mail"
    if f is None:
        return None
    for field, label in (("email", "e-mail"), ("phone", "phone number"), ("address", "street address")):
        if a[field] and a[field] == f[field]:
            return label
    return None


def _same_household(a: Any, f: Any) -> bool:
    if a is None or f is None or not a["surname"] or not a["postcode"]:
        return False
    return bool(a["surname"] == f["surname"] and a["postcode"] == f["postcode"])
