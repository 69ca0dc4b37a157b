from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from heedful.cli.listen import app
from heedful.store import Store, connect

runner = CliRunner()

FEEDBACK = [
    ("f1", "The delivery took three weeks and nobody answered my emails."),
    ("f2", "Beautiful dress, fits true to size. Contact me at ann@example.com"),
    ("f3", "I was charged twice for one order."),
]


def _seed(store: Store, rows: list[tuple[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["feedback_id", "text"])
    frame["channel"] = "review"
    frame["author_kind"] = "customer"
    frame["created_at"] = pd.Timestamp("2024-01-01")
    store.upsert("feedback", frame)


def _classify_db(url: str) -> dict[str, object]:
    result = runner.invoke(app, ["classify", "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_classify_csv_end_to_end(tmp_path: Path) -> None:
    src = tmp_path / "feedback.csv"
    pd.DataFrame({"ticket": ["t1", "t2"], "body": [FEEDBACK[0][1], FEEDBACK[1][1]]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["classify", str(src), "--text-col", "body", "--id-col", "ticket", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table["ticket"]) == ["t1", "t2"]
    for col in ["sentiment", "sentiment_score", "themes", "theme_sentiments", "department", "journey_stage"]:
        assert col in table.columns
    assert table.loc[0, "sentiment"] == "negative"
    assert "delivery_speed" in table.loc[0, "themes"].split(";")
    assert json.loads(table.loc[0, "theme_sentiments"])["delivery_speed"] == "negative"
    assert "[EMAIL]" in table.loc[1, "text"]  # quotes are redacted unless --no-redact
    said = " ".join(result.output.split())  # in words: shares, and themes by their labels (no dict, no ids)
    assert "Sentiment: negative 1 (50%)" in said and "Delivery speed 1" in said
    assert "{" not in said and "delivery_speed" not in said
    assert "had no text" not in said and "too many themes" not in said  # the default path, nothing blank


def test_blank_items_are_counted_and_the_fast_paths_few_shot_themes_come_with_a_warning(tmp_path: Path) -> None:
    src, out = tmp_path / "feedback.csv", tmp_path / "out.csv"
    pd.DataFrame({"body": [FEEDBACK[0][1], "", "   ", FEEDBACK[2][1]]}).to_csv(src, index=False)
    args = ["classify", str(src), "--text-col", "body", "--out", str(out), "--fast"]
    doc = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert doc["items"] == 4 and doc["empty_texts"] == 2 and doc["sentiment_counts"]["neutral"] >= 2
    assert len(doc["notes"]) == 1 and "too many themes" in doc["notes"][0]  # the default taxonomy is few-shot
    said = " ".join(runner.invoke(app, args).output.split())
    assert "2 of them had no text at all and count as neutral." in said and "too many themes" in said


def test_missing_text_column_is_a_clear_error(tmp_path: Path) -> None:
    src = tmp_path / "feedback.csv"
    pd.DataFrame({"body": ["hello"]}).to_csv(src, index=False)
    result = runner.invoke(app, ["classify", str(src), "--text-col", "comment", "--out", str(tmp_path / "o.csv")])
    assert result.exit_code != 0
    assert "comment" in str(result.exception)


def test_second_db_run_processes_nothing_and_changed_text_is_reprocessed(duckdb_url: str) -> None:
    with connect(duckdb_url) as store:
        _seed(store, FEEDBACK)
    first = _classify_db(duckdb_url)
    assert first["processed"] == 3
    second = _classify_db(duckdb_url)
    assert second["processed"] == 0 and second["skipped_unchanged"] == 3
    with connect(duckdb_url) as store:
        _seed(
            store, [("f3", "Great service and lovely quality, thank you so much!"), ("f4", "The app keeps crashing.")]
        )
    third = _classify_db(duckdb_url)
    assert third["processed"] == 2
    with connect(duckdb_url) as store:
        stored = store.query("SELECT feedback_id, sentiment, redacted_text FROM feedback_enriched ORDER BY 1")
    assert list(stored["feedback_id"]) == ["f1", "f2", "f3", "f4"]
    assert stored.set_index("feedback_id").loc["f3", "sentiment"] == "positive"
    assert "ann@example.com" not in stored.set_index("feedback_id").loc["f2", "redacted_text"]


def test_trends_command_reports_shares_changes_and_competitors(duckdb_url: str) -> None:
    rows = [(f"m{m}-{i}", "Delivery was slow. Zalando ships faster.") for m in (1, 2, 3) for i in range(2)]
    with connect(duckdb_url) as store:
        frame = pd.DataFrame(rows, columns=["feedback_id", "text"])
        frame["channel"], frame["author_kind"] = "review", "customer"
        frame["created_at"] = [pd.Timestamp(2024, int(fid[1]), 5) for fid in frame["feedback_id"]]
        store.upsert("feedback", frame)
    _classify_db(duckdb_url)
    result = runner.invoke(app, ["trends", "--db", duckdb_url, "--period", "M", "--competitor", "Zalando", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    delivery = [r for r in doc["trends"] if r["theme"] == "delivery_speed"]
    assert [r["period"] for r in delivery] == ["2024-01", "2024-02", "2024-03"]
    assert all(r["share"] == 1.0 for r in delivery)
    assert not any(c["flagged"] for c in doc["changes"])  # nothing changed month to month
    assert doc["competitors"][0]["mentions"] == 6
    assert doc["competitors"][0]["quotes"][0] == "Zalando ships faster."
    # in words: labels (not ids), the latest period against the ones before, and a plain verdict
    text = runner.invoke(app, ["trends", "--db", duckdb_url, "--period", "M", "--baseline", "2"]).output
    assert "Themes in Mar 2024 (partial, 5 days) against the 2 periods before" in text  # the feedback ends 5 March
    row = next(line for line in text.splitlines() if "Delivery speed" in line)
    assert "100% → 100%" in row and "delivery_speed" not in text
    said = " ".join(text.split())
    assert "No theme is emerging or worsening in Mar 2024 (partial, 5 days) beyond what chance explains." in said
    assert doc["latest_label"] == "Mar 2024 (partial, 5 days)"


def test_demo_step_classifies_stored_feedback_and_reports_headlines(duckdb_url: str) -> None:
    from heedful.services.listen import demo_step

    with connect(duckdb_url) as store:
        _seed(store, FEEDBACK)
        figures = demo_step(store)
    assert figures["feedback_classified"] == 3
    assert 0 < figures["negative_or_mixed_share"] <= 1  # type: ignore[operator]
    assert "delivery_speed" in figures["top_themes"]  # type: ignore[operator]


def test_fast_classify_runs_without_torch_in_a_fresh_process(tmp_path: Path) -> None:
    """`listen classify --fast` reads the packaged piece table: the command never loads torch or the model
    (seconds of start-up), and writes its rows."""
    src, out = tmp_path / "feedback.csv", tmp_path / "out.csv"
    pd.DataFrame({"body": [text for _, text in FEEDBACK]}).to_csv(src, index=False)
    args = ["listen", "classify", str(src), "--text-col", "body", "--out", str(out), "--fast", "--json"]
    child = (
        "import sys\n"
        "from heedful.cli.main import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('torch' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["processed"] == len(FEEDBACK)
    assert done.stderr.strip().splitlines()[-1] == "False"
    assert len(pd.read_csv(out)) == len(FEEDBACK)


def test_taxonomy_with_an_unknown_department_exits_2_before_any_model_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from heedful.cli import main as cli_main
    from heedful.services import listen as service

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the classifier was built for a taxonomy that must be refused")

    monkeypatch.setattr(service, "build_classifier", no_model)
    src = tmp_path / "feedback.csv"
    pd.DataFrame({"body": [FEEDBACK[0][1]]}).to_csv(src, index=False)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "themes:\n"
        "  - id: food_drink\n"
        "    label: Food and drink\n"
        "    department: kitchen\n"
        "    journey_stage: use\n"
        "    examples: [the food was delicious]\n"
    )
    args = ["heedful", "listen", "classify", str(src), "--text-col", "body", "--out", str(tmp_path / "o.csv")]
    monkeypatch.setattr("sys.argv", [*args, "--taxonomy", str(bad)])
    with pytest.raises(SystemExit) as exited:
        cli_main.main()
    message = "".join(capsys.readouterr().err.split())  # Rich wraps long lines (paths too) on stderr
    assert exited.value.code == 2
    assert f"{bad},line4:themes.0.department" in message
    assert "unknowndepartment'kitchen'(known:delivery,marketing,product,sales,services,support)" in message
    assert not (tmp_path / "o.csv").exists()
