"""Scheduled jobs run once per period: claims on both databases, the monthly report by e-mail, the worker."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from heedful.services import jobs, schedule
from heedful.services.mail import save_delivery_settings
from heedful.store import Store, connect, jobs_repo

JUNE_1 = datetime(2024, 6, 1, 6, 0)


def test_two_concurrent_claims_of_one_period_give_one_run(db_url: str) -> None:
    first, second = connect(db_url), connect(db_url, migrate=False)
    barrier = threading.Barrier(2)
    won: list[bool] = []

    def claim(store: Store) -> None:
        barrier.wait()
        won.append(jobs_repo.claim_period(store, "monthly_report", "2024-05", "test", JUNE_1))

    try:
        threads = [threading.Thread(target=claim, args=(s,)) for s in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        first.close()
        second.close()
    assert sorted(won) == [False, True]


def test_a_restarted_server_does_not_run_a_period_again(db_url: str) -> None:
    runs: list[str] = []
    job = schedule.ScheduledJob(
        "counting", "Counting", "test", {"minute": "*"}, schedule.last_complete_month, _counting(runs)
    )
    with _scheduled(job):
        store = connect(db_url)
        first = schedule.run_scheduled(jobs.held(store), "counting", JUNE_1)
        store.close()
        restarted = connect(db_url)  # a new process: only the database remembers
        again = schedule.run_scheduled(jobs.held(restarted), "counting", datetime(2024, 6, 20))
        next_month = schedule.run_scheduled(jobs.held(restarted), "counting", datetime(2024, 7, 1))
        run = jobs_repo.get_run(restarted, "counting", "2024-05")
        restarted.close()
    assert (first["ran"], again["ran"], next_month["ran"]) == (True, False, True)
    assert runs == ["2024-05", "2024-06"]
    assert run is not None and run["status"] == "done" and run["message"] == "Counted 2024-05."
    assert run["finished_at"] is not None


def test_a_failed_run_is_tried_again_but_a_done_one_is_not(duck_store: Store) -> None:
    calls: list[str] = []

    def flaky(store: Store, now: datetime, key: str) -> tuple[str, dict[str, Any]]:
        calls.append(key)
        if len(calls) == 1:
            raise schedule.NotSent("Mail is off: set up the mail server under Settings, then run it again.")
        return "Sent.", {}

    job = schedule.ScheduledJob("flaky", "Flaky", "test", {"minute": "*"}, schedule.day, flaky)
    with _scheduled(job):
        results = [schedule.run_scheduled(jobs.held(duck_store), "flaky", JUNE_1)["status"] for _ in range(3)]
    assert results == ["failed", "done", "claimed"]
    assert len(calls) == 2


def test_monthly_report_sends_one_email_per_month(store: Store, smtp_inbox: tuple[int, list[Any]]) -> None:
    port, received = smtp_inbox
    save_delivery_settings(
        store, {"smtp": {"host": "127.0.0.1", "port": port, "recipients": ["ops@shop.example"]}}, "test"
    )
    schedule.save_report_recipients(store, "boss@shop.example, cfo@shop.example", "test")
    access = jobs.held(store)

    first = schedule.run_scheduled(access, "monthly_report", JUNE_1)
    second = schedule.run_scheduled(access, "monthly_report", datetime(2024, 6, 1, 6, 1))

    assert first["status"] == "done", first
    assert first["message"] == "Sent the report for May 2024 to 2 people."
    assert second == {**second, "ran": False, "status": "claimed"}
    assert len(received) == 1
    mail = received[0]
    assert sorted(mail.rcpt_tos) == ["boss@shop.example", "cfo@shop.example"]
    body = mail.content.decode()
    assert "Subject: heedful: customer-focus report for May 2024" in body
    assert "Customer-focus report for May 2024" in body


def test_monthly_report_without_mail_fails_plainly_and_stays_owed(duck_store: Store) -> None:
    result = schedule.run_scheduled(jobs.held(duck_store), "monthly_report", JUNE_1)
    run = jobs_repo.get_run(duck_store, "monthly_report", "2024-05")
    assert result["status"] == "failed"
    assert run is not None and run["message"].startswith("Mail is off")
    assert jobs_repo.claim_period(duck_store, "monthly_report", "2024-05", "later", JUNE_1)  # may run later


def test_the_minute_jobs_deliver_and_escalate_through_the_notifications_service(duck_store: Store) -> None:
    delivered = schedule.run_scheduled(jobs.held(duck_store), "deliver_notifications", JUNE_1)
    escalated = schedule.run_scheduled(jobs.held(duck_store), "escalate_overdue", JUNE_1)
    assert delivered["ran"] and delivered["message"] == "Notifications delivered: nothing due."
    assert escalated["ran"] and escalated["message"].startswith("Overdue cases escalated")
    again = schedule.run_scheduled(jobs.held(duck_store), "deliver_notifications", JUNE_1)
    assert again["ran"] is False  # the same minute runs once
    listed = {row["name"]: row for row in schedule.schedule_status(duck_store, datetime(2024, 6, 1, 7, 0))}
    assert listed["monthly_report"]["next"] == datetime(2024, 7, 1, 6, 0)


def test_the_worker_runs_jobs_in_order_and_leaves_no_thread() -> None:
    runner = jobs.JobRunner()
    done: list[int] = []
    for i in range(5):
        runner.submit(lambda i=i: done.append(i))
    assert runner.wait_idle(timeout=30)
    runner.stop()
    assert done == [0, 1, 2, 3, 4]
    assert not [t for t in threading.enumerate() if t.name == "heedful-jobs"]


def test_a_failing_job_keeps_its_plain_message(duck_store: Store) -> None:
    from heedful.errors import InputError

    job_id = jobs.create_job(duck_store, "after_import", "analyst@example.com", subject="imp-1")

    def work(progress: jobs.Progress) -> tuple[str, dict[str, Any]]:
        progress.update("Halfway.", done=1, total=2, force=True)
        raise InputError("The case rules saved in the web app are no longer valid.")

    jobs.run_job(jobs.held(duck_store), job_id, work)
    job = jobs.get_job(duck_store, job_id)
    assert job is not None
    assert (job["status"], job["message"]) == ("failed", "The case rules saved in the web app are no longer valid.")
    assert job["finished_at"] is not None and jobs.percent(job) == 50


def test_command_hints_are_taken_out_of_messages() -> None:
    message = "There is no data yet: import orders, feedback or survey answers first (`heedful import`)."
    assert schedule.plain(message) == "There is no data yet: import orders, feedback or survey answers first."


# ---------------------------------------------------------------- helpers
def _counting(runs: list[str]) -> Any:
    def run(store: Store, now: datetime, key: str) -> tuple[str, dict[str, Any]]:
        runs.append(key)
        return f"Counted {key}.", {"key": key}

    return run


class _scheduled:
    """Put a test job into the schedule for the duration of a `with` block."""

    def __init__(self, job: schedule.ScheduledJob) -> None:
        self.job = job

    def __enter__(self) -> None:
        schedule.JOBS_BY_NAME[self.job.name] = self.job

    def __exit__(self, *exc: object) -> None:
        schedule.JOBS_BY_NAME.pop(self.job.name, None)


def test_each_department_gets_its_weekly_digest_once(duck_store: Store, smtp_inbox: tuple[int, list[Any]]) -> None:
    from tests.web.conftest import seed_data

    from heedful.services.cases import open_cases
    from heedful.services.journey import load_config, save_config

    port, received = smtp_inbox
    seed_data(duck_store)
    duck_store.execute("UPDATE feedback SET created_at = ?", [datetime.now()])  # recent enough to open a case
    save_config(duck_store, load_config(duck_store))
    duck_store.execute("UPDATE departments SET email = 'team-' || department_id || '@shop.example'")
    assert open_cases(duck_store)["opened"] == 1  # the late delivery complaint, owned by support
    save_delivery_settings(duck_store, {"smtp": {"host": "127.0.0.1", "port": port, "recipients": ["x@y.z"]}}, "t")

    monday = datetime(2026, 12, 7, 7, 0)
    first = schedule.run_scheduled(jobs.held(duck_store), "department_digest", monday)
    again = schedule.run_scheduled(jobs.held(duck_store), "department_digest", datetime(2026, 12, 9))

    assert first["status"] == "done" and first["message"].startswith("Sent to 1 department (Customer support)")
    assert again["status"] == "claimed"
    assert [m.rcpt_tos for m in received] == [["team-support@shop.example"]]
    body = received[0].content.decode()
    assert "Weekly digest for Customer support, week 2026-W50" in body and "Open cases: 1 (0 overdue)" in body
