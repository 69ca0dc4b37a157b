"""Scheduled jobs inside `heedful serve`: the monthly report by e-mail, a weekly digest per department, daily
alert checks, and every minute the due notifications and overdue escalations.

Each run claims its period first (`job_runs`: one row per job and period, inserted in a transaction), so a
restart, a second server process or a catch-up after downtime never runs the same period twice; a failed
run may be claimed again. `Scheduler` fires them with APScheduler's BackgroundScheduler; `run_scheduled`
is one run and what the settings page's "Run now" calls. Times are the server's local time.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from heedful.errors import HeedfulError
from heedful.services.jobs import JobRunner, StoreAccess, now_utc
from heedful.store import Store
from heedful.store import jobs_repo as repo
from heedful.store.settings_repo import get_setting, put_setting

log = logging.getLogger("heedful.schedule")

RECIPIENTS_KEY = "report_recipients"
MINUTE_RUNS_KEPT = timedelta(days=1)
FAILED = "Something went wrong; the error has been logged."


class Skipped(HeedfulError):
    """Nothing to do for this period (no data, no one to tell): the period counts as run."""


class NotSent(HeedfulError):
    """The run could not do its work (mail is off): the period stays open for a later run."""


def month_label(period: str) -> str:
    return pd.Period(period, freq="M").strftime("%B %Y")


# ---------------------------------------------------------------- periods
def last_complete_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def iso_week(now: datetime) -> str:
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def day(now: datetime) -> str:
    return now.strftime("%Y-%m-%d")


def minute(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M")


# ---------------------------------------------------------------- the jobs
def _smtp(store: Store) -> Any:
    from heedful.services.mail import delivery_settings

    settings = delivery_settings(store)
    if settings.smtp is None:
        raise NotSent("Mail is off: set up the mail server under Settings, then run it again.")
    return settings.smtp


def report_recipients(store: Store) -> list[str]:
    """Who gets the monthly report: the list saved on the jobs page, else every active admin."""
    from heedful.services.accounts import Role, list_users

    saved = get_setting(store, RECIPIENTS_KEY)
    if saved:
        return [str(a) for a in saved]
    return [u.email for u in list_users(store) if u.role == Role.admin and u.active]


def save_report_recipients(store: Store, text: str, actor: str) -> list[str]:
    """Save the monthly report's recipients from comma- or line-separated addresses (empty: the admins)."""
    from heedful.errors import InputError

    addresses = [a.strip() for a in re.split(r"[,;\s]+", text) if a.strip()]
    wrong = [a for a in addresses if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", a)]
    if wrong:
        raise InputError(f"Not an e-mail address: {', '.join(wrong)}.")
    put_setting(store, RECIPIENTS_KEY, addresses, actor)
    return addresses


def report_text(report: Any) -> str:
    """The monthly report as a plain-text e-mail: the headline figures, then what each section covers."""
    lines = [f"Customer-focus report for {month_label(report.period)}", ""]
    for item in report.headline:
        change = f" ({item['change']})" if item.get("change") else ""
        lines.append(f"{item['label']}: {item.get('shown', '')}{change}")
    if report.alerts:
        lines += ["", "What we would rather not hear:"]
        lines += [f"- {a.title}" for a in report.alerts[:10]]
    lines += ["", "Sections:"]
    for section in report.sections:
        note = f" — {section.note}" if section.note else ""
        lines.append(f"- {section.title}{'' if section.available else ' (no data yet)'}{note}")
    lines += ["", "The full report with its charts is on the Journey page of heedful."]
    return "\n".join(lines)


def monthly_report(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    """Build the report for the last complete month, keep its figures, and e-mail it."""
    from heedful.journey.delivery import send_email
    from heedful.services.report import build_report, record_report_history

    smtp = _smtp(store)
    recipients = report_recipients(store)
    if not recipients:
        raise NotSent("No one to send the report to: add recipients on this page, or an admin user.")
    period = period_key[:7]
    report = build_report(store, period)
    record_report_history(store, report)
    subject = f"heedful: customer-focus report for {month_label(period)}"
    send_email(smtp.model_copy(update={"recipients": recipients}), subject, report_text(report))
    people = f"{len(recipients)} {'person' if len(recipients) == 1 else 'people'}"
    return f"Sent the report for {month_label(period)} to {people}.", {"period": period, "recipients": len(recipients)}


def _digest(store: Store, department: str, name: str, now: datetime, week: str) -> str | None:
    """A department's weekly digest: its open and overdue cases and its worsening themes (None: nothing)."""
    from heedful.services.cases import count_cases, list_cases
    from heedful.services.journey import load_alerts

    open_n = count_cases(store, department=department)
    overdue = list_cases(store, department=department, overdue_only=True, limit=10)
    n_overdue = count_cases(store, department=department, overdue_only=True)
    alerts = load_alerts(store)
    if not alerts.empty:
        recent = pd.to_datetime(alerts["created_at"]) >= now_utc() - timedelta(days=7)
        worsening = alerts["kind"].isin(["emerging_negative_theme", "need_worsened"])
        alerts = alerts[recent & worsening & (alerts["department_id"] == department)]
    if open_n == 0 and alerts.empty:
        return None
    lines = [f"Weekly digest for {name}, week {week}", "", f"Open cases: {open_n:,} ({n_overdue:,} overdue)"]
    if len(overdue):
        lines += ["", "Overdue, most urgent first:"]
        for case in overdue.itertuples():
            who = case.customer_name if isinstance(case.customer_name, str) else "A customer"
            lines.append(f"- {who}: {case.evidence_text} (due {pd.Timestamp(case.due_at):%d %b})")
    if not alerts.empty:
        lines += ["", "Worsening themes and needs:"]
        lines += [f"- {title}" for title in alerts["title"]]
    return "\n".join(lines)


def department_digest(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    """E-mail each department with an address its open/overdue cases and worsening themes."""
    from heedful.journey.delivery import DeliverySettings, email_departments
    from heedful.services.journey import load_config

    smtp = _smtp(store)
    departments = [d for d in load_config(store).departments if d.email]
    if not departments:
        raise Skipped("No department has an e-mail address (Settings, Departments).")
    digests = {}
    for d in departments:
        body = _digest(store, d.id, d.name, now, period_key)
        if body is not None:
            digests[d.id] = (f"heedful: weekly digest for {d.name}", body)
    sent = email_departments(DeliverySettings(smtp=smtp), digests, {d.id: str(d.email) for d in departments})
    names = [d.name for d in departments if d.id in sent]
    quiet = len(departments) - len(sent)
    message = f"Sent to {len(sent)} department{'' if len(sent) == 1 else 's'}" + (
        f" ({', '.join(names)})" if names else ""
    )
    if quiet:
        message += f"; {quiet} had nothing to report"
    return message + ".", {"sent": sent, "quiet": quiet}


def alert_checks(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    """Look for journey alerts in the last complete month of data and send the new ones."""
    from heedful.errors import InputError
    from heedful.services.journey import resolve_period, run_alerts, send_alerts
    from heedful.services.mail import delivery_settings

    try:
        periods = [resolve_period(store, None)]
    except InputError:
        raise Skipped("There is no data yet to check.") from None
    alerts = run_alerts(store, periods)
    settings = delivery_settings(store)
    sent = send_alerts(store, alerts, periods, settings) if settings.configured else []
    found = f"{len(alerts)} alert{'' if len(alerts) == 1 else 's'} for {month_label(periods[0])}"
    if not settings.configured:
        return f"{found}; mail is off, so none was sent.", {"alerts": len(alerts), "sent": []}
    return f"{found}; {'new ones sent' if sent else 'nothing new to send'}.", {"alerts": len(alerts), "sent": sent}


def survey_reminders(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    """One reminder to survey invitees e-mailed three days ago or more who have not answered."""
    from heedful.services.survey_invites import send_due_reminders

    _smtp(store)  # mail off: NotSent, and the day stays owed
    totals = send_due_reminders(store, now_utc())  # invitations are stamped in UTC
    if not totals["surveys"]:
        return "No invitation is waiting for a reminder.", totals
    return (
        f"{totals['sent']:,} reminder{'' if totals['sent'] == 1 else 's'} sent for {totals['surveys']} "
        f"survey{'' if totals['surveys'] == 1 else 's'}"
        + (f"; {totals['failed']} could not be sent." if totals["failed"] else "."),
        totals,
    )


def _said(counts: dict[str, int]) -> str:
    """A notifications result ({"sent": 2, "failed": 0, …}) in words: its non-zero counts."""
    said = [f"{key.replace('_', ' ')} {n:,}" for key, n in counts.items() if n]
    return ", ".join(said) or "nothing due"


def deliver_notifications(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    from heedful.services.notifications import deliver_due

    result = deliver_due(store)
    return f"Notifications delivered: {_said(result)}.", {"result": result}


def escalate_overdue(store: Store, now: datetime, period_key: str) -> tuple[str, dict[str, Any]]:
    from heedful.services.notifications import notify_overdue

    result = notify_overdue(store, now_utc())  # the cases' clock is UTC
    return f"Overdue cases escalated: {_said(result)}.", {"result": result}


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    title: str
    when: str  # in words, for the settings page
    cron: dict[str, Any]  # APScheduler CronTrigger fields
    period_key: Callable[[datetime], str]
    run: Callable[[Store, datetime, str], tuple[str, dict[str, Any]]]
    catch_up: bool = True  # run a missed period when the server starts (if the job has run before)
    every_minute: bool = False


SCHEDULE: tuple[ScheduledJob, ...] = (
    ScheduledJob(
        "monthly_report",
        "Monthly report by e-mail",
        "On the 1st of each month at 06:00, for the month before",
        {"day": 1, "hour": 6, "minute": 0},
        last_complete_month,
        monthly_report,
    ),
    ScheduledJob(
        "department_digest",
        "Weekly digest per department",
        "Mondays at 07:00",
        {"day_of_week": "mon", "hour": 7, "minute": 0},
        iso_week,
        department_digest,
    ),
    ScheduledJob("alert_checks", "Alert checks", "Every day at 05:30", {"hour": 5, "minute": 30}, day, alert_checks),
    ScheduledJob(
        "survey_reminders",
        "Survey reminders",
        "Every day at 10:00, to invitees e-mailed 3 days ago or more who have not answered",
        {"hour": 10, "minute": 0},
        day,
        survey_reminders,
    ),
    ScheduledJob(
        "deliver_notifications",
        "Deliver due notifications",
        "Every minute",
        {"minute": "*"},
        minute,
        deliver_notifications,
        catch_up=False,
        every_minute=True,
    ),
    ScheduledJob(
        "escalate_overdue",
        "Escalate overdue cases",
        "Every minute",
        {"minute": "*"},
        minute,
        escalate_overdue,
        catch_up=False,
        every_minute=True,
    ),
)
JOBS_BY_NAME = {job.name: job for job in SCHEDULE}


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def plain(message: str) -> str:
    """A service's message without its command-line hints (pages show no commands)."""
    message = re.sub(r"\s*\([^()]*`[^`]*`[^()]*\)", "", message)
    message = re.sub(r"[;:,]?\s*[^.;:]*`[^`]*`[^.;]*", "", message)
    return message.strip() or FAILED


def run_scheduled(access: StoreAccess, name: str, now: datetime, *, by_hand: str | None = None) -> dict[str, Any]:
    """Run scheduled job `name` for the period `now` falls in, if no one has: claim, run, record.

    `by_hand` (who asked, from the settings page) runs it again even when the period has run, under its own
    key (the period plus the minute it was asked for: a double click still runs once). Returns
    {"ran": bool, "period_key", "status", "message"}."""
    job = JOBS_BY_NAME[name]
    base = job.period_key(now)
    key = base if by_hand is None else f"{base}+by-hand-{now:%Y%m%dT%H%M}"
    with access() as store:
        if not repo.claim_period(store, name, key, by_hand or this_process(), now_utc()):
            return {"ran": False, "period_key": key, "status": "claimed", "message": "Already run for this period."}
    status, message, detail = "done", "", None
    try:
        with access() as store:
            message, detail = job.run(store, now, base)
    except Skipped as exc:
        status, message = "skipped", plain(str(exc))
    except HeedfulError as exc:
        status, message = "failed", plain(str(exc))
        log.warning("Scheduled job %s for %s did not run: %s", name, key, exc)
    except Exception:
        status, message = "failed", FAILED
        log.exception("Scheduled job %s for %s failed", name, key)
    with access() as store:
        repo.finish_run(store, name, key, status, message, detail, now_utc())
        if job.every_minute:
            repo.prune_runs(store, name, now_utc() - MINUTE_RUNS_KEPT)
    return {"ran": True, "period_key": key, "status": status, "message": message}


# ---------------------------------------------------------------- the scheduler and its status
def _trigger(job: ScheduledJob) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    return CronTrigger(**job.cron)


def next_run(job: ScheduledJob, now: datetime | None = None) -> datetime | None:
    """When the job fires next (server local time, naive)."""
    start = (now or datetime.now()).astimezone()
    fire = _trigger(job).get_next_fire_time(None, start)
    return fire.replace(tzinfo=None) if fire is not None else None


def schedule_status(store: Store, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each scheduled job with when it runs, its last run (status, period, when, message) and its next run."""
    last = repo.last_runs(store)
    rows = []
    for job in SCHEDULE:
        run = last.get(job.name)
        rows.append(
            {
                "name": job.name,
                "title": job.title,
                "when": job.when,
                "last": None
                if run is None
                else {
                    "period": str(run["period_key"]).split("+")[0],
                    "by_hand": "+by-hand-" in str(run["period_key"]),
                    "status": run["status"],
                    "finished_at": None if pd.isna(run["finished_at"]) else run["finished_at"],
                    "message": run["message"] if isinstance(run["message"], str) else "",
                },
                "next": next_run(job, now),
            }
        )
    return rows


class Scheduler:
    """The scheduled jobs on APScheduler's BackgroundScheduler (one thread plus a small pool, inside the
    server). `start` also catches up a missed period of each job that has run before; `stop` waits for a
    running job to end."""

    def __init__(self, access: StoreAccess, jobs: tuple[ScheduledJob, ...] = SCHEDULE) -> None:
        from apscheduler.schedulers.background import BackgroundScheduler

        self.access, self.jobs = access, jobs
        self._aps = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            executors={"default": {"type": "threadpool", "max_workers": 2}},
        )

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    def _fire(self, name: str) -> None:
        try:
            run_scheduled(self.access, name, datetime.now())
        except Exception:  # a store that is away for a moment: the next firing tries again
            log.exception("Scheduled job %s could not run", name)

    def start(self) -> None:
        for job in self.jobs:
            self._aps.add_job(self._fire, _trigger(job), args=[job.name], id=job.name, name=job.title)
        self._aps.start()
        with self.access() as store:
            ran_before = {name for name in repo.last_runs(store)}
        for job in self.jobs:
            if job.catch_up and job.name in ran_before:
                self._aps.add_job(self._fire, args=[job.name], id=f"{job.name}:catch-up")

    def stop(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=True)


def run_now(access: StoreAccess, runner: JobRunner, name: str, by: str) -> None:
    """Queue a run of scheduled job `name` by hand (the settings page's "Run now")."""
    if name not in JOBS_BY_NAME:
        from heedful.errors import NotFoundError

        raise NotFoundError(f"No scheduled job {name}.")
    runner.submit(lambda: run_scheduled(access, name, datetime.now(), by_hand=by))
