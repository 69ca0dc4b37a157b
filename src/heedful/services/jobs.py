"""Background work: a job row with progress, the work that follows a web import, and the worker thread.

After feedback is imported in the web app, `after_import` reads the new feedback (only new or changed
items, as `heedful listen classify --db` does), rescores churn risk where that is cheap, and opens cases;
its progress and what it did are kept on the job's row in `jobs`. `JobRunner` runs such work one job at a
time on a thread of its own, so the request that asked for it returns at once.

The work borrows the store for a moment at a time through a `StoreAccess` (a function returning a context
manager that yields a store): the web app lends it from its pool between requests, a script passes
`held(store)`. Scheduled jobs are in `services.schedule`.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from heedful.errors import HeedfulError
from heedful.store import Store
from heedful.store import jobs_repo as repo

log = logging.getLogger("heedful.jobs")

StoreAccess = Callable[[], AbstractContextManager[Store]]
#: above this many stored order lines, churn risk is not rescored after each import (it refits on them all)
RESCORE_MAX_ORDER_LINES = 200_000
BATCH = 64  # feedback items read between two progress updates
INTERRUPTED = "The server stopped before this finished; import the file again to finish it."
FAILED = "Something went wrong while working on the import; the error has been logged."
CHANNEL_WORDS = {"review": "reviews", "ticket": "tickets", "survey": "survey comments", "chat": "chats"}


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def held(store: Store) -> StoreAccess:
    """A StoreAccess over a store the caller holds the whole time (scripts, tests, the CLI)."""

    @contextmanager
    def borrow() -> Iterator[Store]:
        yield store

    return borrow


# ---------------------------------------------------------------- job rows
def create_job(
    store: Store, kind: str, created_by: str, *, subject: str | None = None, message: str = "Waiting to start."
) -> str:
    """Record a queued job; its id."""
    job_id = uuid.uuid4().hex[:16]
    repo.insert_job(
        store,
        {
            "job_id": job_id,
            "kind": kind,
            "subject": subject,
            "status": "queued",
            "progress_done": 0,
            "progress_total": None,
            "message": message,
            "created_at": now_utc(),
            "created_by": created_by,
        },
    )
    return job_id


def get_job(store: Store, job_id: str) -> dict[str, Any] | None:
    """A job's row (status, progress, message, detail), or None."""
    return repo.get_job(store, job_id)


def job_about(store: Store, subject: str) -> dict[str, Any] | None:
    """The newest job about `subject` (an import id), or None."""
    return repo.latest_job_about(store, subject)


def recent_jobs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    return repo.recent_jobs(store, limit)


def fail_interrupted(store: Store) -> int:
    """Jobs a stopped server left queued or running are marked failed with a plain message.

    Only for an embedded store (DuckDB): one process owns the file, so its unfinished jobs are surely dead.
    On PostgreSQL another server may be running them; they are left alone."""
    if not store.embedded:
        return 0
    return repo.fail_unfinished(store, INTERRUPTED, now_utc())


def percent(job: dict[str, Any]) -> int | None:
    """How far a job is, 0–100, when its total is known."""
    total, done = job.get("progress_total"), job.get("progress_done")
    if not total or done is None or pd.isna(total) or pd.isna(done):
        return None
    return max(0, min(100, round(100 * int(done) / int(total))))


class Progress:
    """Writes a job's progress to its row, at most every `every` seconds (and always at the end)."""

    def __init__(self, access: StoreAccess, job_id: str, every: float = 0.5) -> None:
        self.access, self.job_id, self.every = access, job_id, every
        self.done, self.total, self._written = 0, 0, 0.0

    def update(self, message: str, *, done: int | None = None, total: int | None = None, force: bool = False) -> None:
        if total is not None:
            self.total = total
        if done is not None:
            self.done = done
        if not force and time.monotonic() - self._written < self.every:
            return
        self._written = time.monotonic()
        with self.access() as store:
            repo.update_job(
                store, self.job_id, progress_done=self.done, progress_total=self.total or None, message=message
            )


def run_job(access: StoreAccess, job_id: str, work: Callable[[Progress], tuple[str, dict[str, Any]]]) -> None:
    """Run `work` for a job: running → done with its message and figures, or failed with a plain message.

    A user's mistake (HeedfulError) shows its own message; anything else is logged and shown as FAILED."""
    with access() as store:
        repo.update_job(store, job_id, status="running", started_at=now_utc(), message="Starting.")
    progress = Progress(access, job_id)
    try:
        message, detail = work(progress)
    except Exception as exc:
        shown = str(exc) if isinstance(exc, HeedfulError) else FAILED
        log.exception("Background job %s failed", job_id)
        with access() as store:
            repo.update_job(store, job_id, status="failed", message=shown, finished_at=now_utc())
        return
    with access() as store:
        repo.update_job(
            store,
            job_id,
            status="done",
            message=message,
            detail=detail,
            finished_at=now_utc(),
            progress_done=progress.total or progress.done,
            progress_total=progress.total or progress.done or None,
        )


# ---------------------------------------------------------------- after an import
_classifier_lock = threading.Lock()
_classifier: Any = None


def _shared_classifier() -> Any:
    """The listening classifier, built once per process (loading the model takes seconds)."""
    global _classifier
    with _classifier_lock:
        if _classifier is None:
            from heedful.services.listen import build_classifier

            _classifier = build_classifier()
        return _classifier


def _pending_feedback(store: Store, version: str) -> pd.DataFrame:
    """New or changed feedback (no result yet, other text, older model): what `listen classify --db` reads."""
    from heedful.listen.classify import pending_items

    feedback = store.query("SELECT feedback_id, text, channel, import_id FROM feedback")
    enriched = store.query("SELECT feedback_id, text_hash, model_version FROM feedback_enriched")
    todo = pending_items(feedback[["feedback_id", "text"]], enriched, version)
    return feedback[feedback["feedback_id"].isin(todo["feedback_id"])].reset_index(drop=True)


def _read_feedback(access: StoreAccess, progress: Progress) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify the pending feedback in batches (the store is held only to read and to save)."""
    from heedful.listen.classify import enrich

    classifier = _shared_classifier()
    with access() as store:
        items = _pending_feedback(store, classifier.version)
    total = len(items)
    progress.update(f"Reading {total:,} new feedback items.", done=0, total=total, force=True)
    parts = []
    for start in range(0, total, BATCH):
        parts.append(enrich(classifier, items.iloc[start : start + BATCH][["feedback_id", "text"]]))
        done = min(start + BATCH, total)
        progress.update(f"Read {done:,} of {total:,} new feedback items.", done=done)
    result = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(result):
        with access() as store:
            store.upsert("feedback_enriched", result)
    return items, result


def _rescore(store: Store) -> str | None:
    """Rescore churn risk when it was scored before and the orders are few enough to refit at once;
    a sentence about it, or None when it does not apply."""
    from heedful.services.retain import run_at_risk

    if store.count("churn_scores") == 0 or store.count("orders") == 0:
        return None
    if store.count("orders") > RESCORE_MAX_ORDER_LINES:
        return "churn risk not rescored (too many orders to rescore after each import)"
    try:
        result = run_at_risk(store)
    except Exception:  # too little data to refit, say: the import's other work still counts
        log.warning("Churn risk could not be rescored after an import", exc_info=True)
        return "churn risk could not be rescored"
    return f"churn risk rescored for {int(result.evaluation['n_scored']):,} customers"


def _items_word(items: pd.DataFrame) -> str:
    channels = items["channel"].dropna().unique() if "channel" in items else []
    if len(channels) == 1 and str(channels[0]) in CHANNEL_WORDS:
        return CHANNEL_WORDS[str(channels[0])]
    return "feedback items"


def after_import(access: StoreAccess, import_id: str, entity: str, progress: Progress) -> tuple[str, dict[str, Any]]:
    """What follows an import: feedback is read (classified); churn risk rescored where cheap; cases opened.

    Returns the sentence the import page shows ("312 new reviews read; 41 negative; 9 cases opened") and its
    figures."""
    from heedful.services.cases import open_cases

    words: list[str] = []
    detail: dict[str, Any] = {"entity": entity}
    if entity == "feedback":
        items, result = _read_feedback(access, progress)
        mine = items["import_id"] == import_id  # the rest changed since, or were read by an older model
        ours = result[result["feedback_id"].isin(items.loc[mine, "feedback_id"])] if len(result) else result
        sentiments = ours["sentiment"].value_counts() if len(ours) else pd.Series(dtype=int)
        negative, mixed = int(sentiments.get("negative", 0)), int(sentiments.get("mixed", 0))
        detail.update(read=len(ours), negative=negative, mixed=mixed, read_again=len(result) - len(ours))
        words.append(f"{len(ours):,} new {_items_word(items[mine])} read")
        words.append(f"{negative:,} negative" + (f", {mixed:,} mixed" if mixed else ""))
        if len(result) > len(ours):
            words.append(f"{len(result) - len(ours):,} earlier items read again")
    progress.update("Rescoring customers.", force=True)
    with access() as store:
        rescored = _rescore(store)
    if rescored:
        words.append(rescored)
        detail["rescored"] = rescored
    if entity == "orders" and not (rescored or "").startswith("churn risk rescored"):
        return "; ".join(words) + ".", detail  # without new churn scores, orders open no case
    progress.update("Opening cases.", force=True)
    with access() as store:
        opened = open_cases(store, actor="import")  # the rules saved in the web app, else the defaults
    detail.update(cases_opened=opened["opened"], cases_by_trigger=opened["by_trigger"])
    words.append(f"{opened['opened']:,} case{'' if opened['opened'] == 1 else 's'} opened")
    return "; ".join(words) + ".", detail


# ---------------------------------------------------------------- the worker
class JobRunner:
    """Runs submitted work one at a time on a worker thread, started when there is work and ended when
    there is none (so an idle server, or a test, holds no thread). `stop` waits for the current work."""

    def __init__(self) -> None:
        self._queue: deque[Callable[[], object]] = deque()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, work: Callable[[], object]) -> None:
        with self._lock:
            if self._closed:
                raise HeedfulError("The server is stopping; try again once it is back.")
            self._queue.append(work)
            if self._thread is None:
                self._thread = threading.Thread(target=self._drain, name="heedful-jobs", daemon=True)
                self._thread.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    self._idle.notify_all()
                    return
                work = self._queue.popleft()
            try:
                work()
            except Exception:  # run_job records failures; this is the last guard of the thread
                log.exception("Background work failed")

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no work is queued or running; False on timeout."""
        with self._lock:
            return self._idle.wait_for(lambda: self._thread is None, timeout)

    def stop(self, timeout: float = 60.0) -> None:
        """Take no more work, drop what has not started and wait for the running work to end."""
        with self._lock:
            self._closed = True
            self._queue.clear()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)


def start_after_import(
    store: Store, access: StoreAccess, runner: JobRunner, import_id: str, entity: str, created_by: str
) -> str | None:
    """Record and queue the work that follows an import of `entity` on `runner`, which borrows the store
    through `access`; the job id, or None when nothing follows (customers; orders where churn is not scored)."""
    if entity not in ("feedback", "orders") or (entity == "orders" and store.count("churn_scores") == 0):
        return None  # orders matter here only where churn risk is scored
    job_id = create_job(store, "after_import", created_by, subject=import_id)
    runner.submit(lambda: run_job(access, job_id, lambda progress: after_import(access, import_id, entity, progress)))
    return job_id
