"""One figure, one value: the CLI, the API, the Retain page and the monthly report show the same value at
risk (to the cent) on the bundled data — Σ CLV × churn risk, as `services.retain.value_at_risk` computes it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from heedful.cli.main import app as cli
from heedful.ingest.datasets import import_demo_data
from heedful.services.accounts import Role, create_user
from heedful.services.value import compute_customer_value
from heedful.store import connect
from heedful.web.app import create_app

PASSWORD = "correct-horse-battery"


def test_cli_api_page_and_report_agree_on_value_at_risk(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'heedful.duckdb'}"
    with connect(url) as store:
        import_demo_data(store)
        compute_customer_value(store)
        create_user(store, "viewer@example.com", Role.viewer, PASSWORD)
    runner = CliRunner()
    scored = runner.invoke(cli, ["retain", "at-risk", "--db", url, "--json", "--top", "5"])
    assert scored.exit_code == 0, scored.output
    doc = json.loads(scored.stdout)
    total = doc["total_value_at_risk"]
    assert total > 0 and doc["value_at_risk"]["total"] == total
    assert doc["value_at_risk"]["currency"] == "GBP" and doc["value_at_risk"]["horizon_months"] == 12

    reported = runner.invoke(cli, ["report", "--period", "2011-11", "--db", url, "--json"])
    assert reported.exit_code == 0, reported.output
    headline = {h["label"]: h for h in json.loads(reported.stdout)["headline"]}
    assert headline["Value at risk"]["value"] == total
    assert headline["Value at risk"]["shown"] == f"{total:,.2f} GBP"  # money names its currency
    assert headline["Revenue"]["shown"].split()[1] == "GBP"

    with connect(url) as store:
        web = create_app(store=store, secret_key="test-secret")
        with TestClient(web, base_url="http://testserver") as client:
            token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text)
            assert token
            signed = client.post(
                "/login",
                data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
                follow_redirects=False,
            )
            assert signed.status_code == 303
            api = client.get("/api/v1/retain/at-risk?top=1").json()
            assert api["value_at_risk"]["total"] == total
            # the run `retain at-risk` made says how far to trust its scores, in the API as on the page
            assert api["model"]["horizon_days"] == 90 and api["model"]["cv_auc"] == pytest.approx(doc["cv_auc"])
            page = client.get("/retain").text
            shown = re.search(r'data-testid="value-at-risk">([^<]+)<', page)
            assert shown and shown.group(1).strip() == f"{total:,.2f}"
            assert "12 months, GBP" in page
