"""Tables for background work (job runs and their progress; scheduled jobs run once per period).

`schema.TABLES` lists them with the rest; `docs/data-model.md` is generated from them.
"""

from __future__ import annotations

from heedful.store.tables import Table
from heedful.store.tables import column as C

JOBS = Table(
    "jobs",
    "Background work started from the web app (e.g. reading the feedback of an import) or by the schedule, "
    "with its progress and what it did.",
    (
        C("job_id", "text", "id", False),
        C("kind", "text", "what runs: after_import | monthly_report | department_digest | alert_checks | …", False),
        C("subject", "text", "what the job is about, e.g. the import id it follows"),
        C("status", "text", "queued | running | done | failed", False),
        C("progress_done", "int", "steps or items done so far"),
        C("progress_total", "int", "steps or items in all, when known"),
        C("message", "text", "what it is doing, what it did, or why it failed, in plain words"),
        C("created_at", "timestamp", "when it was asked for", False),
        C("started_at", "timestamp", "when it started running"),
        C("finished_at", "timestamp", "when it ended (done or failed)"),
        C("created_by", "text", "who asked for it (user e-mail, or schedule)", False),
        C("detail", "json", "JSON object: the figures of what it did"),
    ),
    ("job_id",),
)

JOB_RUNS = Table(
    "job_runs",
    "Scheduled jobs, one row per job and period: inserting the row claims the period, so a restart, a "
    "second server or a catch-up never runs the same period twice.",
    (
        C("job_name", "text", "scheduled job: monthly_report | department_digest | alert_checks | …", False),
        C("period_key", "text", "the period it ran for: 2026-11 (month), 2026-W48 (week), 2026-12-01 (day) …", False),
        C("status", "text", "running | done | failed | skipped", False),
        C("claimed_at", "timestamp", "when a server claimed the period", False),
        C("finished_at", "timestamp", "when the run ended"),
        C("claimed_by", "text", "the server process that ran it (host:pid)"),
        C("message", "text", "what it did, or why it failed, in plain words"),
        C("detail", "json", "JSON object: the figures of what it did"),
    ),
    ("job_name", "period_key"),
)

JOB_TABLES: tuple[Table, ...] = (JOBS, JOB_RUNS)
