"""Store I/O for background work: job rows with their progress, and the claimed periods of scheduled jobs.

What a job does and when it runs is the services' business (`services.jobs`, `services.schedule`); this
module reads and writes `jobs` and `job_runs`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd

from heedful.store.backend import Store

JOB_COLUMNS = (
    "job_id",
    "kind",
    "subject",
    "status",
    "progress_done",
    "progress_total",
    "message",
    "created_at",
    "started_at",
    "finished_at",
    "created_by",
    "detail",
)
UNFINISHED = ("queued", "running")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _record(columns: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(columns, row, strict=True))
    if isinstance(record.get("detail"), str):
        record["detail"] = json.loads(record["detail"])
    return record


# ---------------------------------------------------------------- jobs
def insert_job(store: Store, job: dict[str, Any]) -> None:
    """Store a new job row (`detail` a dict, stored as JSON)."""
    values = [_json(job.get(c)) if c == "detail" else job.get(c) for c in JOB_COLUMNS]
    marks = ", ".join("?" for _ in JOB_COLUMNS)
    store.execute(f"INSERT INTO jobs ({', '.join(JOB_COLUMNS)}) VALUES ({marks})", values)


def update_job(store: Store, job_id: str, **fields: Any) -> None:
    """Change some columns of a job (`detail` a dict, stored as JSON)."""
    if not fields:
        return
    sets = ", ".join(f"{name} = ?" for name in fields)
    values = [_json(v) if k == "detail" else v for k, v in fields.items()]
    store.execute(f"UPDATE jobs SET {sets} WHERE job_id = ?", [*values, job_id])


def get_job(store: Store, job_id: str) -> dict[str, Any] | None:
    rows = store.fetchall(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE job_id = ?", [job_id])
    return _record(JOB_COLUMNS, rows[0]) if rows else None


def latest_job_about(store: Store, subject: str) -> dict[str, Any] | None:
    """The newest job about `subject` (e.g. an import id), or None."""
    rows = store.fetchall(
        f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs WHERE subject = ? ORDER BY created_at DESC LIMIT 1", [subject]
    )
    return _record(JOB_COLUMNS, rows[0]) if rows else None


def recent_jobs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    rows = store.fetchall(f"SELECT {', '.join(JOB_COLUMNS)} FROM jobs ORDER BY created_at DESC LIMIT ?", [int(limit)])
    return [_record(JOB_COLUMNS, r) for r in rows]


def fail_unfinished(store: Store, message: str, now: datetime) -> int:
    """Mark every queued or running job failed with `message` (their process is gone); how many."""
    rows = store.fetchall("SELECT job_id FROM jobs WHERE status IN (?, ?)", list(UNFINISHED))
    with store.transaction():
        for (job_id,) in rows:
            update_job(store, job_id, status="failed", message=message, finished_at=now)
    return len(rows)


# ---------------------------------------------------------------- scheduled runs
RUN_COLUMNS = ("job_name", "period_key", "status", "claimed_at", "finished_at", "claimed_by", "message", "detail")


def claim_period(store: Store, job_name: str, period_key: str, claimed_by: str, now: datetime) -> bool:
    """Insert the (job, period) row, or take over a failed one, in one transaction; True when this caller
    holds the period now. A period already running or done is someone else's: False."""
    try:
        with store.transaction():
            inserted = store.fetchall(
                "INSERT INTO job_runs (job_name, period_key, status, claimed_at, claimed_by) "
                "VALUES (?, ?, 'running', ?, ?) ON CONFLICT DO NOTHING RETURNING job_name",
                [job_name, period_key, now, claimed_by],
            )
            if inserted:
                return True
            retaken = store.fetchall(
                "UPDATE job_runs SET status = 'running', claimed_at = ?, claimed_by = ?, finished_at = NULL, "
                "message = NULL WHERE job_name = ? AND period_key = ? AND status = 'failed' RETURNING job_name",
                [now, claimed_by, job_name, period_key],
            )
            return bool(retaken)
    except Exception:
        # Two writers raced for the same row and the database refused the second (a unique or write-write
        # conflict): the period is claimed by the other one. Anything else is a real error.
        if get_run(store, job_name, period_key) is None:
            raise
        return False


def finish_run(
    store: Store,
    job_name: str,
    period_key: str,
    status: str,
    message: str,
    detail: dict[str, Any] | None,
    now: datetime,
) -> None:
    store.execute(
        "UPDATE job_runs SET status = ?, message = ?, detail = ?, finished_at = ? WHERE job_name = ? AND period_key = ?",
        [status, message, _json(detail), now, job_name, period_key],
    )


def get_run(store: Store, job_name: str, period_key: str) -> dict[str, Any] | None:
    rows = store.fetchall(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM job_runs WHERE job_name = ? AND period_key = ?", [job_name, period_key]
    )
    return _record(RUN_COLUMNS, rows[0]) if rows else None


def runs_of(store: Store, job_name: str) -> list[dict[str, Any]]:
    rows = store.fetchall(f"SELECT {', '.join(RUN_COLUMNS)} FROM job_runs WHERE job_name = ?", [job_name])
    return [_record(RUN_COLUMNS, r) for r in rows]


def last_runs(store: Store) -> dict[str, dict[str, Any]]:
    """The latest run of each scheduled job, by job name."""
    frame: pd.DataFrame = store.query(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM job_runs r WHERE claimed_at = "
        "(SELECT MAX(claimed_at) FROM job_runs q WHERE q.job_name = r.job_name)"
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        latest[str(row.job_name)] = _record(RUN_COLUMNS, tuple(row))
    return latest


def prune_runs(store: Store, job_name: str, before: datetime) -> int:
    """Forget finished runs of `job_name` claimed before `before` (jobs that run every minute)."""
    return store.execute(
        "DELETE FROM job_runs WHERE job_name = ? AND claimed_at < ? AND status <> 'running'", [job_name, before]
    )
