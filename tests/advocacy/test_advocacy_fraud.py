"""Fraud checks: self-referrals by any identity, same household, duplicate accounts."""

from __future__ import annotations

import pandas as pd
import pytest

from heedful.advocacy.fraud import duplicate_accounts, flag_referrals, normalise_email, normalise_phone

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["ann", "ann_alt", "bob", "ben", "carl", "old_dan", "new_dan"],
        "name": ["Ann Lee", "A Lee", "Bob Stone", "Ben Stone", "Carl Po", "Dan Ho", "Daniel Ho"],
        "email": [
            "ann.lee@gmail.com",
            "annlee+promo@googlemail.com",
            "bob@x.org",
            "ben@y.org",
            "carl@z.org",
            "dan@d.org",
            "DAN@d.org",
        ],
        "phone": ["+44 7700 900123", None, "020 7946 0000", None, "07700 900123", None, None],
        "attributes": [
            '{"address": "1 High St", "postcode": "AB1 2CD"}',
            None,
            '{"address": "9 Low Rd", "postcode": "ZZ9 9ZZ"}',
            '{"address": "9 Low Road flat", "postcode": "zz99zz"}',
            None,
            None,
            None,
        ],
        "first_seen_at": pd.to_datetime(
            ["2020-01-01", "2025-01-01", "2021-01-01", "2025-01-01", "2025-01-01", "2019-01-01", "2025-02-01"]
        ),
    }
)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Ann.Lee+promo@GoogleMail.com", "annlee@gmail.com"),
        ("x.y@example.com", "x.y@example.com"),
        ("no-at-sign", None),
        (None, None),
    ],
)
def test_emails_are_compared_as_the_mailbox_they_reach(raw: str | None, normal: str | None) -> None:
    assert normalise_email(raw) == normal


def test_phone_numbers_match_with_or_without_country_code() -> None:
    assert normalise_phone("+44 7700 900123") == normalise_phone("07700 900123")
    assert normalise_phone("12") is None


def referral(advocate: str, friend: str | None, email: str | None = None) -> dict[str, object]:
    return {
        "referral_id": f"{advocate}>{friend or email}",
        "advocate_id": advocate,
        "referred_customer_id": friend,
        "referred_email": email,
    }


def test_each_kind_of_fraud_is_flagged_with_a_reason() -> None:
    refs = pd.DataFrame(
        [
            referral("ann", "ann"),  # same customer id
            referral("ann", "ann_alt"),  # same gmail mailbox
            referral("ann", "carl"),  # same phone
            referral("bob", "ben"),  # same surname and postcode
            referral("bob", "carl"),  # carl's phone is ann's: an existing customer's number on a new account
            referral("ann", "bob"),  # clean
            referral("ann", None, "Ann.Lee@gmail.com"),  # landing with the advocate's own e-mail
            referral("bob", "new_dan"),  # new account of an existing customer
        ]
    )
    flags = flag_referrals(refs, CUSTOMERS).set_index("referral_id")["flags"].to_dict()
    assert flags["ann>ann"] == "self_referral"
    assert flags["ann>ann_alt"].startswith("self_referral")
    assert flags["ann>carl"] == "self_referral"
    assert flags["bob>ben"] == "same_household"
    assert flags["bob>carl"] == "duplicate_account"
    assert flags["ann>bob"] == ""
    assert flags["ann>Ann.Lee@gmail.com"] == "self_referral"
    assert flags["bob>new_dan"] == "duplicate_account"


def test_duplicate_accounts_point_at_the_older_account() -> None:
    dupes = duplicate_accounts(CUSTOMERS)
    pairs = set(zip(dupes["customer_id"], dupes["duplicate_of"], strict=True))
    assert ("new_dan", "old_dan") in pairs
    assert ("ann_alt", "ann") in pairs
    assert ("carl", "ann") in pairs
    assert not any(c == "bob" for c, _ in pairs)
