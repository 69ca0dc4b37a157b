"""`heedful survey …` end to end on a DuckDB file."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.surveys.simulate import simulate_conjoint, simulate_maxdiff
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import InputError
from heedful.services.surveys import EXAMPLE, demo_step
from heedful.store import connect

runner = CliRunner()


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_create_invite_results_close(tmp_path: Path, duckdb_url: str) -> None:
    created = _json(["survey", "create", str(EXAMPLE), "--db", duckdb_url, "--json"])
    assert created["version"] == 1 and created["questions"] == 13
    with connect(duckdb_url) as store:
        store.insert_new(
            "customers",
            pd.DataFrame(
                [
                    {
                        "customer_id": f"c{i}",
                        "kind": "customer",
                        "name": f"N{i}",
                        "email": f"n{i}@x.org",
                        "country": "FR" if i < 2 else "DE",
                        "created_at": datetime(2026, 1, 1),
                    }
                    for i in range(3)
                ]
            ),
        )
    out = tmp_path / "links.csv"
    invited = _json(
        [
            "survey",
            "invite",
            "customer-pulse",
            "--customers",
            "country = 'FR'",
            "--out",
            str(out),
            "--db",
            duckdb_url,
            "--json",
        ]
    )
    assert invited["invited"] == 2
    links = list(csv.DictReader(out.open()))
    assert all("/s/customer-pulse?t=" in row["link"] for row in links)
    results = _json(["survey", "results", "customer-pulse", "--db", duckdb_url, "--json"])
    assert results["invited"] == 2 and results["completed"] == 0 and results["status"] == "open"
    assert _json(["survey", "close", "customer-pulse", "--db", duckdb_url, "--json"])["status"] == "closed"


def test_invalid_definition_fails_with_its_line(tmp_path: Path, duckdb_url: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("slug: s\ntitle: T\npages:\n  - id: p\n    questions:\n      - {id: q, type: nps}\n")
    result = runner.invoke(app, ["survey", "create", str(bad), "--db", duckdb_url])
    assert isinstance(result.exception, InputError)
    assert "bad.yaml:6" in str(result.exception)


def test_maxdiff_and_conjoint_and_van_westendorp_from_csv(tmp_path: Path) -> None:
    md, _ = simulate_maxdiff(np.array([-1.0, -0.3, 0.3, 1.0]), 40, 6, 3, 0.3, seed=1)
    md.to_csv(tmp_path / "md.csv", index=False)
    out = _json(["survey", "maxdiff", str(tmp_path / "md.csv"), "--method", "mnl", "--json"])
    assert out["items"][0]["item"] == "item3" and out["fit"]["n_respondents"] == 40

    cj = simulate_conjoint(
        {"speed": ["fast", "slow"]}, {"speed": np.array([1.0, -1.0])}, [10, 20, 30], -0.05, 60, 8, 3, 0.2, 2
    )
    cj.to_csv(tmp_path / "cj.csv", index=False)
    pd.DataFrame([{"speed": "fast", "price": 30}, {"speed": "slow", "price": 10}]).to_csv(
        tmp_path / "sim.csv", index=False
    )
    out = _json(
        [
            "survey",
            "conjoint",
            str(tmp_path / "cj.csv"),
            "--price-col",
            "price",
            "--method",
            "hb",
            "--iterations",
            "600",
            "--simulate",
            str(tmp_path / "sim.csv"),
            "--json",
        ]
    )
    wtp = next(u for u in out["utilities"] if u["level"] == "slow")["wtp"]
    assert wtp < 0 and sum(s["share"] for s in out["simulation"]) == pytest.approx(100)

    pd.DataFrame(
        {"too_cheap": [5, 6, 8], "cheap": [10, 10, 12], "expensive": [20, 22, 25], "too_expensive": [30, 30, 40]}
    ).to_csv(tmp_path / "vw.csv", index=False)
    out = _json(["survey", "van-westendorp", str(tmp_path / "vw.csv"), "--plot", str(tmp_path / "vw.html"), "--json"])
    assert out["pmc"] <= out["opp"] <= out["pme"] and out["pmc"] < out["pme"] and (tmp_path / "vw.html").exists()


def test_demo_step_stores_the_sample_survey_without_inventing_answers(duckdb_url: str) -> None:
    with connect(duckdb_url) as store:
        figures = demo_step(store)
        assert figures["survey"] == "customer-pulse" and figures["responses"] == 0
        assert store.count("answers") == 0
