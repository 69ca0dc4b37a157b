"""`heedful import …`, `heedful customer show` and `heedful demo --no-serve`, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from heedful.cli.main import app

runner = CliRunner()

RETAIL = (
    "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,17850,United Kingdom\n"
    "536370,22728,ALARM CLOCK,24,not a date,3.75,12583,France\n"
)


@pytest.fixture
def retail(tmp_path: Path) -> Path:
    path = tmp_path / "retail.csv"
    path.write_text(RETAIL)
    return path


def test_import_orders_json_then_again_adds_nothing(retail: Path, db_url: str) -> None:
    args = ["import", "orders", str(retail), "--preset", "online-retail", "--db", db_url, "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    doc = json.loads(first.stdout)
    assert set(doc) == {"import_id", "accepted", "rejected", "duplicates", "quarantine"}
    assert (doc["accepted"], doc["rejected"], doc["duplicates"]) == (2, 1, 0)
    assert doc["quarantine"][0]["line"] == 4 and "unparseable date" in doc["quarantine"][0]["error"]
    again = json.loads(runner.invoke(app, args).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 2)


def test_import_prints_file_and_line_of_rejected_rows(retail: Path, duckdb_url: str) -> None:
    result = runner.invoke(app, ["import", "orders", str(retail), "--preset", "online-retail", "--db", duckdb_url])
    assert result.exit_code == 0
    assert f"{retail}:4: unparseable date" in result.stdout
    assert "2 accepted" in result.stdout


def test_map_option_and_customers_kind(tmp_path: Path, duckdb_url: str) -> None:
    people = tmp_path / "people.csv"
    people.write_text("Kundennummer;Name\nk1;Ann\nk2;Bob\n")
    args = ["import", "customers", str(people), "--map", "Kundennummer=customer_id", "--kind", "partner"]
    result = runner.invoke(app, [*args, "--json", "--db", duckdb_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accepted"] == 2
    shown = runner.invoke(app, ["customer", "show", "k1", "--db", duckdb_url, "--json"])
    profile = json.loads(shown.stdout)
    assert (profile["customer_id"], profile["kind"], profile["identity"]["name"]) == ("k1", "partner", "Ann")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--preset", "amazon"], "Unknown preset"),
        (["--map", "Nope=order_id"], "column 'Nope' is not in"),
        (["--map", "InvoiceNo"], "must look like COLUMN=field"),
        (["--db", "mysql://x/y"], "Unsupported database URL"),
    ],
)
def test_user_mistakes_exit_2_with_a_message_and_no_traceback(
    retail: Path, duckdb_url: str, extra: list[str], message: str
) -> None:
    args = ["import", "orders", str(retail), "--db", duckdb_url, *extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_file_and_unknown_customer(tmp_path: Path, duckdb_url: str) -> None:
    missing = runner.invoke(app, ["import", "feedback", str(tmp_path / "none.csv"), "--db", duckdb_url])
    assert missing.exit_code == 2 and "File not found" in missing.output
    unknown = runner.invoke(app, ["customer", "show", "nobody", "--db", duckdb_url])
    assert unknown.exit_code == 2 and "No customer" in unknown.output


def test_help_explains_every_option() -> None:
    for command in ("orders", "customers", "feedback"):
        result = runner.invoke(app, ["import", command, "--help"])
        assert result.exit_code == 0
        for option in (
            "--preset",
            "--map",
            "--db",
            "--json",
            "--delimiter",
            "--encoding",
            "--date-format",
            "--commit-every",
        ):
            assert option in result.stdout
    assert "--kind" in runner.invoke(app, ["import", "customers", "--help"]).stdout


def test_demo_no_serve_runs_end_to_end_and_exits_0(tmp_path: Path) -> None:
    db = f"duckdb:///{tmp_path / 'demo.duckdb'}"
    cmd = [sys.executable, "-m", "heedful.cli.main", "demo", "--no-serve", "--db", db, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    summary = doc["summary"]
    assert summary["customers"] == 400 and summary["feedback_items"] == 1500 and summary["orders"] > 0
    assert doc["imports"]["orders"]["accepted"] > 10_000
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["imports"]["orders"]["accepted"] == 0


def test_demo_prints_each_step_in_sentences_not_python_dicts() -> None:
    from heedful.cli.demo import DEMO_STEPS, step_lines

    results = {
        "value": {"customers_valued": 398, "total_clv_12m": 227014.61, "champions": 46, "at_risk": 57, "cant_lose": 10},
        "listen": {
            "feedback_classified": 1500,
            "negative_or_mixed_share": 0.2,
            "top_themes": {"fit_size": 619},
            "top_theme_labels": {"Fit and size": 619},
            "department_with_most_negative": "product",
            "department_with_most_negative_name": "Product management",
        },
        "surveys": {"survey": "customer-pulse", "questions": 13, "link": "/s/customer-pulse", "responses": 0},
        "retain": {
            "customers_scored": 398,
            "churn_cv_auc": 0.64,
            "churn_days": 90,
            "churn_weak": True,
            "value_at_risk": 111239.46,
            "top_action": "reach out",
        },
        "advocacy": {"customers_ranked": 400, "advocates_enrolled": 30, "matched": 114, "holdout": 36},
        "journey": {"period": "2011-11", "needs": 10, "needs_met": 1, "needs_not_enough_data": 2, "alerts": 0},
        "cases": {
            "opened": 12,
            "already_open": 0,
            "by_trigger": {"feedback": 10, "survey": 2},
            "open": 12,
            "overdue": 0,
        },
        "web": {"login": "admin@demo.heedful", "password": "x"},
    }
    assert set(results) == {name for name, _ in DEMO_STEPS}
    for name, result in results.items():
        text = " ".join(step_lines(name, result))
        assert text and not any(c in text for c in "{}[]"), (name, text)
        assert "_" not in text.replace("admin@demo.heedful", ""), (name, text)  # no raw keys or theme ids
    assert "Fit and size (619)" in " ".join(step_lines("listen", results["listen"]))
    assert "Product management" in " ".join(step_lines("listen", results["listen"]))
    retain = " ".join(step_lines("retain", results["retain"]))
    assert "churn in the next 90 days (cross-validated AUC 0.64: weak, a rough guide)" in retain
