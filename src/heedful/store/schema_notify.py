"""Tables for notifications (subscriptions and the outbox of messages to send exactly once).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from heedful.store.tables import Table
from heedful.store.tables import column as C

SUBSCRIPTIONS = Table(
    "subscriptions",
    "Who hears about what: a web user's wish to be told of new cases, overdue cases or journey alerts, by e-mail "
    "or a webhook, narrowed by department, theme and alert kind (empty: any). The assignee of a case is always "
    "told, without a subscription.",
    (
        C("subscription_id", "text", "hash of the other fields but created_at/by: the same wish is stored once", False),
        C("email", "text", "the subscriber (users.email)", False),
        C("event", "text", "new_case | case_overdue | alert_raised", False),
        C("channel", "text", "email | webhook", False),
        C("target", "text", "webhook address (Slack-compatible: a JSON POST with `text`); empty for e-mail"),
        C("department", "text", "only this department's cases or alerts (departments.department_id)"),
        C("theme", "text", "only this theme's cases or alerts (theme id)"),
        C("alert_kind", "text", "only this kind of alert (need_worsened, emerging_negative_theme …)"),
        C("created_at", "timestamp", "when subscribed", False),
        C("created_by", "text", "who subscribed them (the person, or an admin)", False),
    ),
    ("subscription_id",),
)

OUTBOX = Table(
    "outbox",
    "Notifications to send, each exactly once: a row is queued (committed) before anything is sent, once per "
    "idempotency key, then claimed, sent and marked sent; a failed send is retried with back-off (1, 5, 25, 125, "
    "625 minutes; failed after 6 tries).",
    (
        C("message_id", "text", "hash of the idempotency key; the e-mail's Message-ID", False),
        C(
            "idempotency_key",
            "text",
            "event, case or alert, and recipient (case_assigned:<case>:<assignee> …): queuing it again adds nothing; "
            "sent as the X-Heedful-Id header and in the webhook JSON",
            False,
        ),
        C("event", "text", "case_assigned | new_case | case_overdue | alert_raised", False),
        C("subject_id", "text", "the case (cases.case_id) or alert (alerts.alert_id) it is about", False),
        C("customer_id", "text", "the customer the case is about, if any (erased with them)"),
        C("channel", "text", "email | webhook", False),
        C("recipient", "text", "e-mail address or webhook address", False),
        C("subject", "text", "e-mail subject / first line", False),
        C("body", "text", "plain-text message", False),
        C("status", "text", "pending | sending | sent | failed", False),
        C("attempts", "int", "tries so far", False),
        C("next_attempt_at", "timestamp", "not sent before this time (back-off)"),
        C("claimed_at", "timestamp", "when a sender claimed it (status sending); claimed again after a lease"),
        C("last_error", "text", "why the last try failed"),
        C("created_at", "timestamp", "when queued", False),
        C("sent_at", "timestamp", "when the mail server or webhook accepted it"),
    ),
    ("message_id",),
    (("idempotency_key",),),
)

NOTIFY_TABLES: tuple[Table, ...] = (SUBSCRIPTIONS, OUTBOX)
