"""`heedful advocacy …` end to end on a small DuckDB store: rank, invite, refer, reward, stories, match, effect."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from tests.advocacy.seed import add_customers, add_orders
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.services.advocacy import submit_story
from heedful.store import Store, connect
from heedful.store import advocacy_repo as repo

runner = CliRunner()


def run(*args: str) -> dict:
    result = runner.invoke(app, ["advocacy", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def shop(duckdb_url: str) -> str:
    store = connect(duckdb_url)
    add_customers(
        store,
        [
            {"customer_id": "loyal", "name": "Lou Yal", "email": "lou@example.com", "country": "UK"},
            {"customer_id": "steady", "name": "Stu Dy", "email": "stu@example.com", "country": "UK"},
            {"customer_id": "grump", "name": "Gru Mp", "email": "gru@example.com", "country": "UK"},
            {"customer_id": "newbie", "name": "New Bie", "email": "new@example.com", "country": "UK"},
            {"customer_id": "friend", "name": "Fre Nd", "email": "friend@example.com", "country": "UK"},
        ],
    )
    add_orders(
        store,
        [
            ("o1", "loyal", "2023-01-05", 120.0),
            ("o2", "loyal", "2024-11-01", 80.0),
            ("o3", "steady", "2023-06-01", 30.0),
            ("o4", "grump", "2023-02-01", 300.0),
            ("o5", "newbie", "2025-01-20", 25.0),
        ],
    )
    store.upsert(
        "customer_value",
        pd.DataFrame(
            {
                "customer_id": ["loyal", "steady", "grump", "newbie"],
                "model": "bgnbd",
                "clv": [400.0, 90.0, 500.0, 50.0],
                "p_alive": [0.95, 0.7, 0.9, 0.99],
                "segment": ["champions", "loyal", "champions", "new"],
                "computed_at": datetime(2025, 2, 1),
            }
        ),
    )
    _nps(store, {"loyal": 10, "steady": 8, "grump": 2})
    store.close()
    return duckdb_url


def _nps(store: Store, scores: dict[str, int]) -> None:
    now = datetime(2025, 1, 1)
    store.insert_new(
        "responses",
        pd.DataFrame(
            {
                "response_id": [f"r-{c}" for c in scores],
                "survey_id": "nps-1",
                "slug": "nps",
                "customer_id": list(scores),
                "started_at": now,
            }
        ),
    )
    store.insert_new(
        "answers",
        pd.DataFrame(
            {
                "response_id": [f"r-{c}" for c in scores],
                "question_id": "nps",
                "field": "",
                "value": [str(v) for v in scores.values()],
                "value_num": [float(v) for v in scores.values()],
                "idempotency_key": "k",
                "answered_at": now,
            }
        ),
    )


def test_advocates_rank_promoters_first_and_leave_out_detractors(shop: str) -> None:
    out = run("advocates", "--db", shop, "--json")
    ids = [a["customer_id"] for a in out["advocates"]]
    assert ids[0] == "loyal"
    assert "grump" not in ids  # detractor, whatever their CLV
    assert out["advocates"][0]["consent_status"] == "not_invited"
    assert any("promoter" in r for r in out["advocates"][0]["reasons"])
    with_all = run("advocates", "--db", shop, "--json", "--all")
    assert "grump" in [a["customer_id"] for a in with_all["advocates"]]


def test_a_referral_from_invitation_to_reward_shows_in_the_report(shop: str) -> None:
    invited = run("invite", "--db", shop, "--top", "1", "--json")["invited"]
    assert [i["advocate_id"] for i in invited] == ["loyal"]
    code = invited[0]["code"]
    assert invited[0]["link"].endswith(f"/r/{code}")
    assert runner.invoke(app, ["advocacy", "consent", "loyal", "--status", "joined", "--db", shop]).exit_code == 0
    with connect(shop) as store:
        repo.record_landing(store, code, email="Friend@Example.com", at=datetime(2025, 1, 2))
        add_orders(store, [("o9", "friend", "2025-01-10", 60.0)])
    first = run("attribute", "--db", shop, "--json")
    assert first["linked"] == 1 and first["converted"] == 1 and first["rewards"]["earned"] == 1
    again = run("attribute", "--db", shop, "--json")
    assert again["rewards"]["earned"] == 0
    report = run("referrals", "--db", shop, "--json")
    assert report["referrals"] == 1 and report["converted"] == 1 and report["conversion_rate"] == 1.0
    assert report["rewards"]["owed"] == 20.0 and report["rewards"]["paid"] == 0.0
    assert report["referred_revenue"] == 60.0
    assert report["ledger_check"]["ok"] is True
    run("pay", "--db", shop, "--json")
    assert run("referrals", "--db", shop, "--json")["rewards"]["owed"] == 0.0


def test_only_approved_stories_with_consent_for_the_scope_are_exported(shop: str) -> None:
    with connect(shop) as store:
        ok = submit_story(store, idempotency_key="a", title="Saved my shop", body="<b>Great</b>", consent=["website"])
        submit_story(store, idempotency_key="a", title="Saved my shop", body="<b>Great</b>", consent=["website"])
        social = submit_story(store, idempotency_key="b", title="Fast", body="Quick", consent=["social"])
        submit_story(store, idempotency_key="c", title="Pending", body="Not yet approved", consent=["website"])
        repo.review_story(store, ok, approve=True, reviewer="staff")
        repo.review_story(store, social, approve=True, reviewer="staff")
        assert store.count("stories") == 3  # the double submit stored one story
    exported = run("stories", "export", "--db", shop, "--format", "json", "--scope", "website")
    assert [s["title"] for s in exported["stories"]] == ["Saved my shop"]
    html = runner.invoke(app, ["advocacy", "stories", "export", "--db", shop, "--format", "html"]).stdout
    assert "Saved my shop" in html and "Fast" in html and "Pending" not in html
    assert "&lt;b&gt;Great&lt;/b&gt;" in html  # story text is escaped


def test_matching_proposes_opted_in_advocates_and_holds_out_some(shop: str) -> None:
    with connect(shop) as store:
        repo.enrol_advocates(store, ["loyal"], status="joined", peer_opt_in=True, capacity=2)
        repo.enrol_advocates(store, ["steady"], status="joined", peer_opt_in=False)
    out = run("match", "--db", shop, "--json", "--holdout", "0")
    pairs = {m["customer_id"]: m["advocate_id"] for m in out["matches"]}
    assert pairs == {"newbie": "loyal"}
    assert out["matches"][0]["reasons"]
    # matched customers are not proposed again
    assert run("match", "--db", shop, "--json")["matches"] == []
    effect = run("effect", "--db", shop, "--json")
    assert effect["matches"] == 1 and effect["pending"] == 1  # the outcome window has not passed yet


def test_bad_rules_file_is_a_clear_error(shop: str, tmp_path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("reward_amount: -5\n")
    result = runner.invoke(app, ["advocacy", "attribute", "--db", shop, "--rules", str(rules)])
    assert result.exit_code != 0
    assert "reward_amount" in str(result.exception)


def test_a_code_given_on_import_attributes_the_customer_and_earns_once(shop: str, tmp_path) -> None:
    from heedful.ingest import import_file

    with connect(shop) as store:
        code = repo.enrol_advocates(store, ["loyal"], status="joined")["code"].iloc[0]
        people = tmp_path / "customers.csv"
        people.write_text(
            f"customer_id,name,email,referral_code\nref1,Ref One,ref1@example.org,{code.lower()}\nref2,Ref Two,ref2@example.org,\n"
        )
        import_file(store, people, "customers")
        add_orders(store, [("r1-1", "ref1", "2025-01-03", 45.0), ("r2-1", "ref2", "2025-01-04", 45.0)])
    for _ in range(2):  # importing and attributing again changes nothing
        with connect(shop) as store:
            import_file(store, people, "customers")
        result = run("attribute", "--db", shop, "--json")
    report = run("referrals", "--db", shop, "--json")
    assert report["referrals"] == 1 and report["converted"] == 1
    assert report["rewards"]["earned"] == 20.0 and result["rewards"]["earned"] == 0
