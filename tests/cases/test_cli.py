"""`heedful cases …` end to end on a temporary DuckDB file."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.store import connect

from .conftest import fill_signals

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("HEEDFUL_SMTP_HOST", "HEEDFUL_ALERT_WEBHOOK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no heedful.toml with SMTP settings
    url = f"duckdb:///{tmp_path / 'cases.duckdb'}"
    store = connect(url)
    fill_signals(store, customers=80, feedback=200)
    store.close()
    return url


def _json(args: list[str]) -> Any:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_open_list_show_assign_note_reply_resolve(db: str) -> None:
    opened = _json(["cases", "open", "--db", db, "--json"])
    assert opened["opened"] > 0 and opened["by_trigger"]["alert"] == 1
    assert _json(["cases", "open", "--db", db, "--json"])["opened"] == 0
    listed = _json(["cases", "list", "--db", db, "--json", "--limit", "5"])
    assert listed["total"] == opened["opened"] - opened["held_out"] and len(listed["cases"]) == 5
    assert opened["held_out"] > 0 and not any(c["holdout"] for c in listed["cases"])
    everything = _json(["cases", "list", "--db", db, "--json", "--include-holdout", "--status", "all"])
    assert everything["total"] == opened["opened"]
    case_id = listed["cases"][0]["case_id"]
    assert {"customer_name", "department_name", "theme_label", "overdue", "evidence_text"} <= set(listed["cases"][0])

    assigned = _json(["cases", "assign", case_id, "--to", "ann@shop.example", "--as", "lead", "--db", db, "--json"])
    assert assigned == {"assigned": 1, "assignee": "ann@shop.example"}
    mine = _json(["cases", "list", "--assignee", "ann@shop.example", "--db", db, "--json"])
    assert [c["case_id"] for c in mine["cases"]] == [case_id]
    _json(["cases", "note", case_id, "Asked the warehouse.", "--as", "ann", "--db", db, "--json"])
    replied = _json(["cases", "reply", case_id, "Sorry, it ships today.", "--as", "ann", "--db", db, "--json"])
    assert replied["sent"] is False and replied["reason"] == "Mail is off: no SMTP settings."
    assert replied["case"]["status"] == "waiting_for_customer"
    closed = _json(["cases", "resolve", case_id, "--wont-fix", "--note", "duplicate", "--db", db, "--json"])
    assert closed["status"] == "wont_fix"
    shown = _json(["cases", "show", case_id, "--db", db, "--json"])
    assert [e["action"] for e in shown["history"]] == ["opened", "assigned", "note", "reply", "status", "status"]
    assert shown["history"][-1]["detail"] == {"from": "waiting_for_customer", "to": "wont_fix", "note": "duplicate"}

    text = runner.invoke(app, ["cases", "show", case_id, "--db", db])
    assert text.exit_code == 0 and "Sorry, it ships today." in text.stdout and "wont_fix" in text.stdout
    table = runner.invoke(app, ["cases", "list", "--db", db, "--status", "all", "--sort", "value"])
    assert table.exit_code == 0 and "Cases (" in table.stdout
    # every case id whole, on one line of its own (`cases show` takes it), none squeezed to "c0feb2…"
    everyone = _json(["cases", "list", "--db", db, "--status", "all", "--sort", "value", "--json"])
    lines = table.stdout.splitlines()
    assert all(any(line.startswith(c["case_id"] + "  ") for line in lines) for c in everyone["cases"])
    assert max(len(line) for line in lines) <= 80
    human = runner.invoke(app, ["cases", "reply", listed["cases"][1]["case_id"], "Hi", "--db", db])
    assert human.exit_code == 0 and "Mail is off" in human.stdout
    figures = _json(["cases", "figures", "--db", db, "--json"])
    assert sum(f["open"] for f in figures["departments"]) == opened["opened"] - opened["held_out"] - 1
    assert {"open", "overdue", "resolved_this_month", "median_hours_to_first_response"} <= set(
        figures["departments"][0]
    )
    assert {"median_hours_to_resolve", "within_sla", "recovery"} <= set(figures["departments"][0])
    overall = figures["overall"]
    assert overall["held_out"] == opened["held_out"] and overall["first_responses"] == 2
    assert overall["recovery"]["finding"].startswith("not enough data (n = ")
    shown = runner.invoke(app, ["cases", "figures", "--db", db])
    assert shown.exit_code == 0 and "Did it work?" in shown.stdout


def test_refusals_and_missing_cases_are_user_errors(db: str) -> None:
    _json(["cases", "open", "--db", db, "--json"])
    case_id = _json(["cases", "list", "--db", db, "--json", "--limit", "1"])["cases"][0]["case_id"]
    _json(["cases", "resolve", case_id, "--db", db, "--json"])
    again = runner.invoke(app, ["cases", "status", case_id, "waiting_for_customer", "--db", db])
    assert again.exit_code != 0 and "reopen it" in str(again.exception)
    reopened = _json(["cases", "status", case_id, "in_progress", "--db", db, "--json"])
    assert reopened["status"] == "in_progress" and reopened["resolved_at"] is None
    missing = runner.invoke(app, ["cases", "show", "nope", "--db", db])
    assert missing.exit_code != 0 and "No case 'nope'" in str(missing.exception)


def test_rules_file_is_used_and_its_errors_name_the_line(db: str, tmp_path: Path) -> None:
    bad = tmp_path / "cases.yaml"
    bad.write_text("departments:\n  finance: {high: 8}\n", encoding="utf-8")
    result = runner.invoke(app, ["cases", "open", "--rules", str(bad), "--db", db])
    assert result.exit_code != 0 and "cases.yaml line 2: departments.finance: unknown department" in str(
        result.exception
    )
    good = tmp_path / "only-alerts.yaml"
    good.write_text(
        "triggers:\n  survey: {enabled: false}\n  feedback: {enabled: false}\n  churn: {enabled: false}\n"
        "departments:\n  delivery: {high: 2}\n",
        encoding="utf-8",
    )
    opened = _json(["cases", "open", "--rules", str(good), "--db", db, "--json"])
    assert opened == {"opened": 1, "already_open": 0, "by_trigger": {"alert": 1}, "held_out": 0}
    case = _json(["cases", "list", "--db", db, "--json"])["cases"][0]
    hours = (datetime.fromisoformat(case["due_at"]) - datetime.fromisoformat(case["opened_at"])).total_seconds() / 3600
    assert hours == pytest.approx(2)  # delivery's high-priority SLA from the file
