"""The closed loop's tables: cases and their history, app settings, notifications, background jobs.

Kept apart from `schema.py` (the customer data) so each part stays small; `schema.TABLES` lists them all.
"""

from __future__ import annotations

from heedful.store.tables import Table
from heedful.store.tables import column as C

CASES = Table(
    "cases",
    "Cases: an unhappy customer's signal (survey answer, feedback, journey alert, churn risk) with an owner, "
    "a due date and a reply (opened by `heedful cases open`).",
    (
        C("case_id", "text", "id derived from the idempotency key", False),
        C("idempotency_key", "text", "customer + trigger kind + trigger id: re-running opens no second case", False),
        C("customer_id", "text", "customers.customer_id, if known"),
        C("trigger", "text", "survey | feedback | alert | churn", False),
        C("trigger_id", "text", "response id, feedback id, alert id or churn:<customer>:<month>", False),
        C("theme", "text", "main theme id, if any"),
        C("department", "text", "owning department (departments.department_id)"),
        C("journey_stage", "text", "journey stage, if known"),
        C("priority", "text", "high | medium | low (customer value and severity)", False),
        C("status", "text", "new | in_progress | waiting_for_customer | resolved | wont_fix", False),
        C("assignee", "text", "person working on it (e-mail or name)"),
        C("evidence", "json", "JSON object: quote, score, alert title … behind the case"),
        C("opened_at", "timestamp", "when the case was opened", False),
        C("due_at", "timestamp", "opened_at + the department's SLA hours for its priority", False),
        C("first_response_at", "timestamp", "first reply to the customer"),
        C("resolved_at", "timestamp", "when resolved or closed as won't fix"),
        C("updated_at", "timestamp", "last change", False),
        C(
            "holdout",
            "bool",
            "drawn into the random holdout at opening: not listed, assigned or replied to, so that "
            "following up can be measured against not following up (NULL: opened before the holdout existed)",
        ),
    ),
    ("case_id",),
    (("idempotency_key",),),
)

CASE_EVENTS = Table(
    "case_events",
    "History of each case: opened, assigned, status changes, notes and replies.",
    (
        C("event_id", "text", "id", False),
        C("case_id", "text", "cases.case_id", False),
        C("at", "timestamp", "when", False),
        C("actor", "text", "who (user e-mail, cli, system)", False),
        C("action", "text", "opened | assigned | status | note | reply", False),
        C("detail", "json", "JSON object: the note or reply text, old and new status, assignee …"),
    ),
    ("event_id",),
)

APP_SETTINGS = Table(
    "app_settings",
    "Settings changed in the web app (mail server, case rules …), one JSON value per key; heedful.toml and "
    "environment variables are the fallback.",
    (
        C("key", "text", "setting name, e.g. mail", False),
        C("value", "json", "JSON value", False),
        C("updated_at", "timestamp", "last change", False),
        C("updated_by", "text", "who changed it (user e-mail or cli)", False),
    ),
    ("key",),
)

LOOP_TABLES: tuple[Table, ...] = (CASES, CASE_EVENTS, APP_SETTINGS)
