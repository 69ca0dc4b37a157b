"""`heedful journey …` end to end on a store holding synthetic journey data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.journey.config import default_config
from heedful.services.journey import demo_step
from heedful.store import Store

runner = CliRunner()


def _db(store: Store) -> str:
    return store.url


def _json(args: list[str]) -> object:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_scorecard_json_lists_every_need_with_value_interval_target_and_trend(journey_store: Store) -> None:
    url = _db(journey_store)
    journey_store.close()
    doc = _json(["journey", "scorecard", "--db", url, "--json"])
    assert isinstance(doc, dict) and doc["period"] == "2026-10"
    metric = doc["needs"][0]["metrics"][0]
    assert {"value", "low", "high", "n", "target", "status", "trend", "series"} <= set(metric)
    delivery = _json(["journey", "scorecard", "--db", url, "--department", "delivery", "--json"])
    assert isinstance(delivery, dict)
    assert [n["department"] for n in delivery["needs"]] == ["delivery"]
    assert delivery["needs"][0]["metrics"][0]["trend"] == "worsening"


def test_the_scorecard_table_shows_each_metric_as_the_page_and_report_do(journey_store: Store) -> None:
    from heedful.journey.config import metric_text

    url = _db(journey_store)
    journey_store.close()
    doc = _json(["journey", "scorecard", "--db", url, "--department", "delivery", "--json"])
    assert isinstance(doc, dict)
    metric = doc["needs"][0]["metrics"][0]
    assert metric["kind"] in ("feedback_positive_share", "theme_positive_share")  # a share: shown as a percentage
    table = runner.invoke(app, ["journey", "scorecard", "--db", url, "--department", "delivery"], terminal_width=200)
    shown = metric_text(metric["value"], metric["kind"])
    assert shown.endswith("%") and f" {shown} " in table.output  # "83.3%", not "0.833"
    assert f"≥ {metric_text(metric['target'], metric['kind'])}" in table.output


def test_unknown_department_is_a_user_error(journey_store: Store) -> None:
    url = _db(journey_store)
    journey_store.close()
    result = runner.invoke(app, ["journey", "scorecard", "--db", url, "--department", "finance"])
    assert result.exit_code != 0
    assert "Unknown department 'finance'" in str(result.exception)


def test_alerts_since_a_date_are_stored_once_and_listed(journey_store: Store) -> None:
    url = _db(journey_store)
    journey_store.close()
    first = _json(["journey", "alerts", "--since", "2026-10-01", "--db", url, "--json"])
    assert isinstance(first, dict)
    subjects = {a["subject"] for a in first["alerts"]}
    assert "on_time_delivery/delivery_feedback" in subjects
    again = _json(["journey", "alerts", "--since", "2026-10", "--db", url, "--json"])
    assert isinstance(again, dict) and again["count"] == first["count"]
    from heedful.store import connect

    with connect(url) as store:
        assert store.count("alerts") == first["count"]  # re-running finds the same alerts, stores none twice


def test_alerts_send_posts_the_digest_to_the_configured_webhook(
    journey_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    webhook_inbox: tuple[str, list[dict[str, Any]]],
) -> None:
    base, received = webhook_inbox
    monkeypatch.setenv("HEEDFUL_ALERT_WEBHOOK", f"{base}/ok")
    monkeypatch.chdir(tmp_path)
    url = _db(journey_store)
    journey_store.close()
    doc = _json(["journey", "alerts", "--since", "2026-10", "--db", url, "--send", "--json"])
    assert isinstance(doc, dict) and doc["sent_via"] == ["webhook"]
    assert received and received[0]["json"]["count"] == doc["count"]
    second = _json(["journey", "alerts", "--since", "2026-10", "--db", url, "--send", "--json"])
    assert isinstance(second, dict) and second["sent_via"] == []  # already sent: nothing new
    assert len(received) == 1


def test_needs_export_then_import_round_trips(journey_store: Store, tmp_path: Path) -> None:
    url = _db(journey_store)
    journey_store.close()
    exported = runner.invoke(app, ["journey", "needs", "export", "--db", url])
    assert exported.exit_code == 0
    edited = exported.stdout.replace("target: 0.75", "target: 0.8", 1)
    path = tmp_path / "needs.yaml"
    path.write_text(edited)
    counts = _json(["journey", "needs", "import", str(path), "--db", url, "--json"])
    assert counts == {"stages": 8, "departments": 6, "needs": len(default_config().needs)}
    again = runner.invoke(app, ["journey", "needs", "export", "--db", url])
    assert "target: 0.8" in again.stdout


def test_needs_import_error_names_the_line(journey_store: Store, tmp_path: Path) -> None:
    url = _db(journey_store)
    journey_store.close()
    path = tmp_path / "bad.yaml"
    path.write_text("needs:\n  - id: x\n    label: X\n    stage: space\n    department: sales\n    metrics: []\n")
    result = runner.invoke(app, ["journey", "needs", "import", str(path), "--db", url])
    assert result.exit_code != 0
    assert "bad.yaml line 4" in str(result.exception)


def test_stages_and_departments_are_listed(journey_store: Store) -> None:
    url = _db(journey_store)
    journey_store.close()
    stages = _json(["journey", "stages", "--db", url, "--json"])
    assert isinstance(stages, list) and stages[0]["stage_id"] == "awareness" and len(stages) == 8
    departments = _json(["journey", "departments", "--db", url, "--json"])
    assert isinstance(departments, list)
    assert {d["department_id"] for d in departments} >= {"marketing", "support", "delivery"}


def test_operations_import_reports_bad_lines_and_stores_good_files(journey_store: Store, tmp_path: Path) -> None:
    url = _db(journey_store)
    journey_store.close()
    bad = tmp_path / "ops_bad.csv"
    bad.write_text("metric,period,numerator,denominator\non_time_delivery,2026-10,90,100\non_time_delivery,Oct,5,4\n")
    result = runner.invoke(app, ["journey", "operations", "import", str(bad), "--db", url])
    assert result.exit_code != 0 and "ops_bad.csv line 3" in str(result.exception)
    good = tmp_path / "ops.csv"
    good.write_text("metric,period,numerator,denominator\nfirst_contact_resolution,2026-10,70,100\n")
    doc = _json(["journey", "operations", "import", str(good), "--db", url, "--json"])
    assert doc == {"rows": 1, "stored": 1, "metrics": ["first_contact_resolution"]}


def test_demo_step_scores_the_needs_and_reports_headline_figures(journey_store: Store) -> None:
    figures = demo_step(journey_store)
    assert figures["period"] == "2026-10"
    assert figures["needs"] == len(default_config().needs)
    assert figures["needs_missed"] >= 1  # type: ignore[operator]
    assert figures["alerts"] >= 1  # type: ignore[operator]
    assert journey_store.count("metric_values") > 0


def test_alerts_send_emails_the_digest_and_each_department_its_own(
    journey_store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp_inbox: tuple[int, list[Any]],
) -> None:
    from heedful.services import journey as service

    port, received = smtp_inbox
    config = default_config()
    with_email = config.model_copy(
        update={
            "departments": [
                d.model_copy(update={"email": "logistics@example.com"}) if d.id == "delivery" else d
                for d in config.departments
            ]
        }
    )
    service.save_config(journey_store, with_email)
    url = _db(journey_store)
    journey_store.close()
    (tmp_path / "heedful.toml").write_text(
        f'[journey.alerts.smtp]\nhost = "127.0.0.1"\nport = {port}\nrecipients = ["cx@example.com"]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HEEDFUL_ALERT_WEBHOOK", raising=False)
    doc = _json(["journey", "alerts", "--since", "2026-10", "--db", url, "--send", "--json"])
    assert isinstance(doc, dict) and doc["sent_via"] == ["smtp", "smtp:delivery"]
    assert [m.rcpt_tos for m in received] == [["cx@example.com"], ["logistics@example.com"]]
    assert b"got worse" in received[1].content


def test_needs_file_with_an_unknown_department_exits_2_with_its_line_and_the_known_ones(
    duckdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heedful.cli.main import main

    path = tmp_path / "bad.yaml"
    path.write_text(
        "needs:\n  - id: x\n    label: X\n    stage: use\n    department: kitchen\n"
        "    metrics:\n      - {id: m, kind: repeat_rate, target: 0.5}\n"
    )
    monkeypatch.setattr("sys.argv", ["heedful", "journey", "needs", "import", str(path), "--db", duckdb_url])
    with pytest.raises(SystemExit) as exited:
        main()
    message = " ".join(capsys.readouterr().err.split())  # Rich wraps long lines on stderr
    assert exited.value.code == 2
    assert "bad.yaml line 5: needs.0.department" in message
    assert "unknown department 'kitchen' (known: delivery, marketing, product, sales, services, support)" in message
