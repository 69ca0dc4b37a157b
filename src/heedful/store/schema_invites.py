"""Tables for survey invitations sent from the web app (delivery status, reminders, unsubscribes).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them. The per-invitation
status itself (sent, opened, completed, reminded, failed) is on `invitations` (`schema.py`).
"""

from __future__ import annotations

from heedful.store.tables import Table
from heedful.store.tables import column as C

INVITE_BATCHES = Table(
    "invite_batches",
    "One e-mailing of survey invitations to an audience (the Send button): what was chosen, by whom, and the "
    "site address the links point to (reminders use it too). Sending the same batch again e-mails nobody twice.",
    (
        C("batch_id", "text", "id the send form carries (a resubmitted form names the same batch)", False),
        C("slug", "text", "survey slug", False),
        C("audience", "text", "who was chosen: all | a customer kind | segment:<RFM segment>", False),
        C("base_url", "text", "the site address the personal links start with", False),
        C("created_at", "timestamp", "when first sent", False),
        C("created_by", "text", "the user who sent it (users.email)"),
    ),
    ("batch_id",),
)

SURVEY_UNSUBSCRIBES = Table(
    "survey_unsubscribes",
    "Customers who asked for no more survey e-mails (the link in every invitation): no invitation or reminder "
    "is e-mailed to them, or to their address, again. Erased with the customer.",
    (
        C("customer_id", "text", "customers.customer_id", False),
        C("email", "text", "the address the invitation went to"),
        C("slug", "text", "the survey whose e-mail they unsubscribed from"),
        C("unsubscribed_at", "timestamp", "when", False),
    ),
    ("customer_id",),
)

INVITE_TABLES: tuple[Table, ...] = (INVITE_BATCHES, SURVEY_UNSUBSCRIBES)
