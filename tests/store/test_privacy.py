"""Privacy: export everything about a person; erase them from every table; retention of raw text."""

from __future__ import annotations

import json
from datetime import datetime

import pandas as pd
import pytest
from tests.store.seed import SUBJECT, seed
from typer.testing import CliRunner

from heedful.cli.main import app
from heedful.errors import NotFoundError
from heedful.services.privacy import apply_retention, erase_subject, export_subject
from heedful.store import Store, connect
from heedful.store.privacy import references

runner = CliRunner()


def _text_columns(store: Store, table: str) -> list[str]:
    schema_filter = "current_schema()" if store.dialect == "postgres" else "'main'"
    rows = store.fetchall(
        "SELECT column_name, data_type FROM information_schema.columns "
        f"WHERE table_name = ? AND table_schema = {schema_filter}",
        [table],
    )
    return [n for n, t in rows if str(t).lower() in ("varchar", "text", "character varying")]


def _find_everywhere(store: Store, needle: str) -> list[str]:
    """Every table.column (all text columns of all tables) whose value contains `needle`, case-insensitive."""
    hits = []
    for table in store.list_tables():
        for col in _text_columns(store, table):
            n = store.fetchall(f'SELECT COUNT(*) FROM {table} WHERE strpos(lower("{col}"), lower(?)) > 0', [needle])
            if n[0][0]:
                hits.append(f"{table}.{col}")
    return hits


def test_references_come_from_the_schema() -> None:
    refs = {(t, c) for t, c, _ in references()}
    for expected in [
        ("orders", "customer_id"),
        ("referrals", "referred_customer_id"),
        ("referrals", "referred_email"),
        ("rewards", "advocate_id"),
        ("feedback", "author"),
        ("stories", "author_name"),
        ("churn_scores", "customer_id"),
        ("offers", "customer_id"),
        ("customer_value", "customer_id"),
    ]:
        assert expected in refs


def test_export_holds_every_table_about_the_person(store: Store) -> None:
    seed(store)
    doc = export_subject(store, SUBJECT["email"])  # found by e-mail as well as by id
    assert doc["subject"]["customer_id"] == SUBJECT["customer_id"]
    tables = doc["tables"]
    for table in [
        "customers",
        "orders",
        "feedback",
        "feedback_enriched",
        "invitations",
        "responses",
        "answers",
        "referrals",
        "rewards",
        "peer_matches",
        "advocates",
        "stories",
        "customer_value",
        "churn_scores",
        "offers",
    ]:
        assert tables.get(table), table
    assert len(tables["orders"]) == 3 and len(tables["answers"]) == 2 and len(tables["referrals"]) == 2
    assert {r["feedback_id"] for r in tables["feedback"]} == {"F1"}
    assert all(r["customer_id"] == SUBJECT["customer_id"] for r in tables["customer_value"])
    # Texts elsewhere that mention them: another customer's ticket, a quarantined row, the audit log.
    assert {r["feedback_id"] for r in doc["mentions"]["feedback"]} == {"F3"}
    assert "quarantine" in doc["mentions"] and "audit_log" in doc["mentions"]
    json.dumps(doc)  # JSON-ready


def test_erase_leaves_no_trace_in_any_table(store: Store) -> None:
    seed(store)
    revenue = store.fetchall("SELECT SUM(amount) FROM orders")[0][0]
    result = erase_subject(store, SUBJECT["customer_id"])
    for needle in SUBJECT.values():
        assert _find_everywhere(store, needle) == [], needle
    # Orders kept for accounting, de-identified under one pseudonym; others untouched.
    assert store.count("orders") == 6
    assert store.fetchall("SELECT SUM(amount) FROM orders")[0][0] == pytest.approx(revenue)
    pseud = store.fetchall("SELECT DISTINCT customer_id FROM orders WHERE customer_id NOT IN ('C2', 'C3')")
    assert pseud == [(result.pseudonym,)]
    assert store.fetchall("SELECT advocate_id FROM rewards") == [(result.pseudonym,)]
    assert store.fetchall("SELECT referred_email FROM referrals WHERE referral_id = 'RF2'") == [(None,)]
    # Derived tables lose the person, keep the others.
    assert store.fetchall("SELECT customer_id FROM customer_value") == [("C2",)]
    assert store.count("churn_scores") == store.count("offers") == store.count("advocates") == 0
    assert store.fetchall("SELECT feedback_id FROM feedback_enriched ORDER BY 1") == [("F2",), ("F3",)]
    assert store.fetchall("SELECT response_id FROM answers") == [("R2",)]
    assert store.count("customers") == 2
    # An audit record without personal data.
    audit = store.fetchall("SELECT target, detail FROM audit_log WHERE action = 'privacy.erase'")
    assert len(audit) == 1 and audit[0][0] == result.pseudonym
    assert json.loads(audit[0][1])["deleted"]["customers"] == 1
    with pytest.raises(NotFoundError):
        export_subject(store, SUBJECT["customer_id"])


def test_retention_redacts_old_raw_text_keeps_enrichment(store: Store) -> None:
    seed(store)
    out = apply_retention(store, days=30, now=datetime(2026, 6, 1))
    assert out["checked"] == 2 and out["redacted"] == 2  # F1, F3 are old; F2 is newer than the cutoff
    texts = dict(store.fetchall("SELECT feedback_id, text FROM feedback"))
    assert SUBJECT["email"] not in texts["F1"] and SUBJECT["phone"] not in texts["F1"]
    assert texts["F1"] == "Parcel late again. Call me on [phone]."  # the stored redacted text
    assert "x@y.com" not in texts["F3"]
    assert texts["F2"] == "Lovely mugs, fast delivery."
    assert store.count("feedback_enriched") == 3
    assert apply_retention(store, days=30, now=datetime(2026, 6, 1))["redacted"] == 0  # idempotent


def test_cli_privacy(duckdb_url: str) -> None:
    with connect(duckdb_url) as st:
        seed(st)
    res = runner.invoke(app, ["privacy", "export", SUBJECT["customer_id"], "--db", duckdb_url])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["subject"]["email"] == SUBJECT["email"]
    res = runner.invoke(app, ["privacy", "erase", SUBJECT["customer_id"], "--db", duckdb_url], input="n\n")
    assert res.exit_code == 1
    res = runner.invoke(app, ["privacy", "erase", SUBJECT["customer_id"], "--db", duckdb_url, "--yes", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["deleted"]["customers"] == 1
    res = runner.invoke(app, ["privacy", "export", SUBJECT["customer_id"], "--db", duckdb_url])
    assert res.exit_code == 2
    res = runner.invoke(app, ["privacy", "retention", "--days", "0", "--db", duckdb_url, "--json"])
    # F1 was erased; of F2 and F3 only F3 is older than today (F2 is dated in 2027).
    assert res.exit_code == 0 and json.loads(res.stdout)["checked"] == 1


def test_customer_show_redacts_quotes_unless_asked(duckdb_url: str) -> None:
    with connect(duckdb_url) as st:
        seed(st)
    args = ["customer", "show", SUBJECT["customer_id"], "--db", duckdb_url, "--json"]
    shown = json.loads(runner.invoke(app, args).stdout)
    quote = shown["feedback"][0]["text"]
    assert SUBJECT["email"] not in quote and "[EMAIL]" in quote
    answers = " ".join(a["value"] for a in shown["survey_answers"])
    assert SUBJECT["email"] not in answers
    raw = json.loads(runner.invoke(app, [*args, "--no-redact"]).stdout)
    assert SUBJECT["email"] in raw["feedback"][0]["text"]


def test_web_profile_redacts_quotes(duck_store: Store) -> None:
    from heedful.web.customers import customer_profile

    seed(duck_store)
    profile = customer_profile(duck_store, SUBJECT["customer_id"])
    assert all(SUBJECT["email"] not in (f["text"] or "") for f in profile["feedback"])


def test_namesake_rows_linked_to_someone_else_are_not_theirs(store: Store) -> None:
    seed(store)
    namesake = pd.DataFrame(
        [
            {
                "feedback_id": "F9",
                "channel": "review",
                "customer_id": "C2",
                "author_kind": "customer",
                "author": SUBJECT["name"],
                "text": "Good mugs.",
                "created_at": datetime(2026, 1, 1),
            }
        ]
    )
    store.insert_new("feedback", namesake)
    doc = export_subject(store, SUBJECT["customer_id"])
    assert {r["feedback_id"] for r in doc["tables"]["feedback"]} == {"F1"}  # not C2's row
    erase_subject(store, SUBJECT["customer_id"])
    assert store.fetchall("SELECT customer_id, text FROM feedback WHERE feedback_id = 'F9'") == [("C2", "Good mugs.")]


def test_erase_by_a_short_id_also_clears_its_quarantined_rows(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Small shops use ids like "42": the sweep skipped ids under 4 characters, so the person's rejected
    import rows stayed downloadable from the Imports page."""
    from heedful.ingest import import_file

    store.upsert(
        "customers",
        pd.DataFrame(
            [
                {"customer_id": "42", "name": "Ann Lee", "email": "ann@lee.example", "phone": "+44 7700 900123"},
                {"customer_id": "7", "name": "Bo Kim", "email": "bo@kim.example", "phone": None},
            ]
        ).assign(kind="customer", created_at=pd.Timestamp("2010-01-01")),
    )
    path = tmp_path / "orders.csv"
    path.write_text(
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,Mug,2,12/01/2010 08:26,3.5,42,UK\n"
        "2,A,Mug,2,not a date,3.5,42,UK\n"  # the person's row, quarantined
        "3,A,Mug,42,not a date,3.5,7,UK\n"  # someone else's rejected row that happens to hold 42
    )
    import_file(store, path, "orders", preset="online-retail")
    assert store.count("quarantine") == 2
    erase_subject(store, "42")
    raws = [json.loads(r) for (r,) in store.fetchall("SELECT raw FROM quarantine")]
    assert raws == [{**raws[0], "CustomerID": "7", "Quantity": "42"}]  # the other customer's row stays whole
    for table in store.list_tables():
        for col in _text_columns(store, table):
            exact = store.fetchall(f'SELECT COUNT(*) FROM {table} WHERE lower("{col}") = ?', ["42"])[0][0]
            assert exact == 0, f"{table}.{col} still holds the id"
    for needle in ("Ann Lee", "ann@lee.example", "+44 7700 900123"):
        assert _find_everywhere(store, needle) == [], needle


def test_erase_in_a_long_running_process_skips_the_views_ibis_registers(duck_store: Store) -> None:
    """A server's connection holds Ibis's temporary views of in-memory frames (`ibis_pandas_memtable_…`);
    the erasure sweep once tried to UPDATE them ("Can only update base table") and the web page failed."""
    import ibis

    seed(duck_store)
    frame = pd.DataFrame({"note": [f"about {SUBJECT['email']}"]})
    duck_store.ibis.execute(ibis.memtable(frame))  # as a page computing on a frame does
    assert any(t.startswith("ibis_") for t in duck_store.list_tables())
    erase_subject(duck_store, SUBJECT["customer_id"])  # raised BinderException before
    stored = [hit for hit in _find_everywhere(duck_store, SUBJECT["email"]) if not hit.startswith("ibis_")]
    assert stored == []  # the view is the page's own frame in memory, not stored data
