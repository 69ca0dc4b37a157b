"""Cases in the web app: the inbox, one case's page (status, note, reply), bulk assign, the API and the
Overview card. Cases are opened by the service from negative feedback seeded here."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from heedful.services import accounts
from heedful.services import cases as case_service
from heedful.services.accounts import Role
from heedful.store import Store

from .conftest import EMAILS, csrf_header

RAW = re.compile(r"\bNone\b|\bnan\b|\bNaN\b|\bNaT\b|\{'|\['|Timestamp\(|Traceback|\bheedful (cases|listen)\b")
THEME_IDS = re.compile(r"\b(delivery_speed|product_quality|price_value)\b")


def _text(html: str) -> str:
    """The words a person sees: tags, attributes and the page head dropped."""
    body = html.split("<body", 1)[-1]
    return re.sub(r"<[^>]+>", " ", body)


@pytest.fixture(scope="module")
def case_ids(web_store: Store) -> dict[str, str]:
    """Three unhappy customers (C1's seeded review, C2 and C3 below) become cases; C3's is overdue."""
    now = datetime(2024, 6, 30, 12, 0)
    more = [
        ("F3", "C2", "The product broke after a week", "product_quality", -0.9, 1.0),
        ("F4", "C3", "Far too expensive for what it is", "price_value", -0.8, 1.0),
    ]
    web_store.insert_new(
        "feedback",
        pd.DataFrame(
            [
                {
                    "feedback_id": fid,
                    "channel": "review",
                    "customer_id": cid,
                    "author_kind": "customer",
                    "text": text,
                    "rating": rating,
                    "rating_scale": 5.0,
                    "created_at": now - timedelta(days=2),
                }
                for fid, cid, text, _, _, rating in more
            ]
        ),
    )
    web_store.insert_new(
        "feedback_enriched",
        pd.DataFrame(
            [
                {
                    "feedback_id": fid,
                    "text_hash": f"h{fid}",
                    "sentiment": "negative",
                    "sentiment_score": score,
                    "themes": theme,
                    "theme_sentiments": f'{{"{theme}": "negative"}}',
                    "redacted_text": text,
                    "department": theme.split("_")[0].replace("price", "sales"),  # product, sales
                    "model_version": "t",
                    "processed_at": now,
                }
                for fid, _, text, theme, score, _ in more
            ]
        ),
    )
    result = case_service.open_cases(web_store)
    assert result["opened"] >= 3, result
    frame = case_service.list_cases(web_store, status="all", limit=100)
    by_customer = {str(r.customer_id): str(r.case_id) for r in frame.itertuples() if r.trigger == "feedback"}
    assert {"C1", "C2", "C3"} <= set(by_customer), by_customer
    # C3's case is long past its due date: the inbox puts it first and marks it
    web_store.execute("UPDATE cases SET due_at = ? WHERE case_id = ?", [datetime(2020, 1, 1), by_customer["C3"]])
    return by_customer


@pytest.fixture(scope="module")
def tokens(web_store: Store) -> dict[Role, str]:
    made = {}
    for role in (Role.viewer, Role.analyst):
        user = accounts.find_user(web_store, EMAILS[role])
        assert user is not None
        made[role] = accounts.create_token(web_store, user.user_id, f"cases {role.value}")[1]
    return made


def _form(client: TestClient, path: str, data: dict[str, Any]) -> Any:
    token = csrf_header(client)["X-CSRF-Token"]
    return client.post(path, data={**data, "csrf_token": token}, follow_redirects=False)


# ---------------------------------------------------------------- the inbox
def test_inbox_lists_open_cases_in_words_overdue_first(
    clients: dict[Role, TestClient], case_ids: dict[str, str]
) -> None:
    page = clients[Role.analyst].get("/cases")
    assert page.status_code == 200
    text = _text(page.text)
    for label in ("Delivery speed", "Product quality", "Ada Lovelace", "Grace Hopper", "Alan Turing"):
        assert label in text
    assert not THEME_IDS.search(text), THEME_IDS.search(text)
    assert not RAW.search(text), RAW.search(text)
    rows = re.findall(r'<tr[^>]*data-testid="case-row".*?</tr>', page.text, flags=re.S)
    assert len(rows) >= 3
    assert "Alan Turing" in rows[0] and 'data-testid="overdue"' in rows[0]  # the overdue case leads
    assert sum('data-testid="overdue"' in r for r in rows) == 1
    assert 'href="/customers/C3"' in rows[0]
    assert 'name="case_id"' in page.text and 'action="/cases/assign"' in page.text
    assert 'data-testid="cases-overdue">1<' in page.text
    assert "Per department" in text


def test_inbox_filters(clients: dict[Role, TestClient], case_ids: dict[str, str]) -> None:
    client = clients[Role.analyst]
    overdue = client.get("/cases", params={"overdue": "1"}).text
    assert "Alan Turing" in overdue and "Grace Hopper" not in overdue
    product = client.get("/cases", params={"department": "product"}).text
    assert "Grace Hopper" in product and "Ada Lovelace" not in product and "Alan Turing" not in product
    by_value = client.get("/cases", params={"sort": "value"}).text
    rows = re.findall(r'<tr[^>]*data-testid="case-row".*?</tr>', by_value, flags=re.S)
    assert "Alan Turing" in rows[0]  # C3 has the highest CLV of the seeded customers
    assert client.get("/cases", params={"status": "resolved"}).text.count('data-testid="case-row"') == 0
    assert client.get("/cases", params={"status": "bogus"}).status_code == 422


def test_viewers_read_but_do_not_work_cases(
    web_store: Store, clients: dict[Role, TestClient], case_ids: dict[str, str]
) -> None:
    viewer = clients[Role.viewer]
    page = viewer.get("/cases")
    assert page.status_code == 200 and "Alan Turing" in page.text
    assert 'name="case_id"' not in page.text and "/cases/assign" not in page.text
    one = viewer.get(f"/cases/{case_ids['C1']}")
    assert one.status_code == 200 and "/reply" not in one.text and "/notes" not in one.text
    case_id = case_ids["C1"]
    for path, data in (
        ("/cases/assign", {"case_id": case_id, "assignee": "v@example.com"}),
        (f"/cases/{case_id}/notes", {"text": "sneaky"}),
        (f"/cases/{case_id}/status", {"status": "resolved"}),
        (f"/cases/{case_id}/reply", {"text": "sneaky"}),
    ):
        assert _form(viewer, path, data).status_code == 403, path
    assert case_service.get_case(web_store, case_id)["status"] == "new"


def test_bulk_assign(clients: dict[Role, TestClient], case_ids: dict[str, str]) -> None:
    client = clients[Role.analyst]
    chosen = [case_ids["C1"], case_ids["C2"]]
    done = _form(client, "/cases/assign", {"case_id": chosen, "assignee": EMAILS[Role.analyst], "back": "sort=value"})
    assert done.status_code == 303 and done.headers["location"] == "/cases?sort=value"
    page = client.get(done.headers["location"])
    assert f"Assigned 2 cases to {EMAILS[Role.analyst]}." in page.text
    mine = client.get("/cases", params={"assignee": "me"}).text
    assert "Ada Lovelace" in mine and "Grace Hopper" in mine and "Alan Turing" not in mine
    assert "Assigned 2 cases" not in mine  # the message is shown once
    nothing = _form(client, "/cases/assign", {"assignee": "x@example.com", "back": "https://evil.example/"})
    assert nothing.headers["location"] == "/cases"
    assert "Tick at least one case" in client.get("/cases").text


# ---------------------------------------------------------------- one case
def test_case_page_status_note_and_reply(clients: dict[Role, TestClient], case_ids: dict[str, str]) -> None:
    client = clients[Role.analyst]
    case_id = case_ids["C1"]
    url = f"/cases/{case_id}"
    page = client.get(url)
    assert page.status_code == 200
    text = _text(page.text)
    assert "Delivery late again" in text or "Delivery was late again" in text
    assert "Ada Lovelace" in text and 'href="/customers/C1"' in page.text
    assert "CLV (12 months, GBP)" in text and 'data-testid="case-clv">100.00<' in page.text
    assert not RAW.search(text) and not THEME_IDS.search(text), (RAW.search(text), THEME_IDS.search(text))
    assert 'value="in_progress"' in page.text and 'value="new"' not in page.text

    moved = _form(client, f"{url}/status", {"status": "in_progress", "note": "Calling them today"})
    assert moved.status_code == 303 and moved.headers["location"] == url
    page = client.get(url)
    assert "Status set to In progress." in page.text
    assert 'data-testid="case-status">In progress<' in page.text

    _form(client, f"{url}/notes", {"text": "Courier confirmed the delay"})
    page = client.get(url)
    assert "Note added." in page.text and "Courier confirmed the delay" in page.text

    replied = _form(client, f"{url}/reply", {"text": "Sorry about the delay, a refund is on its way."})
    assert replied.status_code == 303
    page = client.get(url)
    assert "Mail is off: no SMTP settings — the reply is logged on the case" in page.text
    history = page.text.split('data-testid="case-history"', 1)[1]
    assert "Sorry about the delay, a refund is on its way." in history
    assert EMAILS[Role.analyst] in history
    assert not RAW.search(_text(page.text))

    assert 'data-testid="case-status">Waiting for customer<' in page.text  # a reply waits for the customer

    wrong = _form(client, f"{url}/status", {"status": "new"})  # a case never goes back to new
    assert wrong.status_code == 303
    page = client.get(url)
    assert 'class="notice error"' in page.text
    assert "A case that is Waiting for customer cannot become New; it can become In progress" in page.text
    assert 'data-testid="case-status">Waiting for customer<' in page.text
    empty = _form(client, f"{url}/notes", {"text": "  "})
    assert empty.status_code == 303 and "Write the note" in client.get(url).text


def test_a_missing_case_is_404(clients: dict[Role, TestClient], case_ids: dict[str, str]) -> None:
    client = clients[Role.analyst]
    assert client.get("/cases/nope").status_code == 404
    assert _form(client, "/cases/nope/notes", {"text": "hi"}).status_code == 404


# ---------------------------------------------------------------- API
def test_api_lists_gets_and_patches_cases(app: FastAPI, case_ids: dict[str, str], tokens: dict[Role, str]) -> None:
    viewer = {"Authorization": f"Bearer {tokens[Role.viewer]}"}
    analyst = {"Authorization": f"Bearer {tokens[Role.analyst]}"}
    with TestClient(app) as client:
        listed = client.get("/api/v1/cases", headers=viewer, params={"limit": 2})
        assert listed.status_code == 200
        body = listed.json()
        assert body["total"] >= 3 and len(body["items"]) == 2 and body["next_offset"] == 2
        assert body["items"][0]["customer_id"] == "C3" and body["items"][0]["overdue"] is True
        assert {"theme_label", "department_name", "due_at", "evidence_text"} <= set(body["items"][0])
        overdue = client.get("/api/v1/cases", headers=viewer, params={"overdue_only": "true"}).json()
        assert [i["customer_id"] for i in overdue["items"]] == ["C3"]

        case_id = case_ids["C2"]
        one = client.get(f"/api/v1/cases/{case_id}", headers=viewer).json()
        assert one["customer_name"] == "Grace Hopper" and isinstance(one["history"], list)
        missing = client.get("/api/v1/cases/nope", headers=viewer)
        assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")

        denied = client.patch(f"/api/v1/cases/{case_id}", headers=viewer, json={"status": "in_progress"})
        assert denied.status_code == 403 and denied.json()["required_role"] == "analyst"
        assert client.post(f"/api/v1/cases/{case_id}/notes", headers=viewer, json={"text": "x"}).status_code == 403

        patched = client.patch(
            f"/api/v1/cases/{case_id}",
            headers=analyst,
            json={"status": "waiting_for_customer", "assignee": "support@example.com", "note": "Asked for photos"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["status"] == "waiting_for_customer"
        assert patched.json()["assignee"] == "support@example.com"
        bad = client.patch(f"/api/v1/cases/{case_id}", headers=analyst, json={"status": "new"})
        assert bad.status_code == 400 and bad.headers["content-type"].startswith("application/problem+json")
        assert client.patch(f"/api/v1/cases/{case_id}", headers=analyst, json={}).status_code == 400

        noted = client.post(f"/api/v1/cases/{case_id}/notes", headers=analyst, json={"text": "Photos received"})
        assert noted.status_code == 201
        reply = client.post(f"/api/v1/cases/{case_id}/reply", headers=analyst, json={"text": "Thanks, replacing it."})
        assert reply.status_code == 200
        assert reply.json() == {"sent": False, "reason": "Mail is off: no SMTP settings.", "to": None}
        history = client.get(f"/api/v1/cases/{case_id}", headers=viewer).json()["history"]
        assert any("Photos received" in str(h.get("detail")) for h in history)
        assert any("Thanks, replacing it." in str(h.get("detail")) for h in history)

    spec = app.openapi()
    assert set(spec["paths"]["/api/v1/cases/{case_id}"]) == {"get", "patch"}
    operation = spec["paths"]["/api/v1/cases"]["get"]
    assert operation["tags"] == ["cases"] and "application/problem+json" in operation["responses"]["403"]["content"]


# ---------------------------------------------------------------- overview
def test_overview_card_counts_open_and_overdue_cases(
    web_store: Store, clients: dict[Role, TestClient], case_ids: dict[str, str]
) -> None:
    page = clients[Role.viewer].get("/")
    assert page.status_code == 200
    card = page.text.split('data-testid="kpi-cases"', 1)[1][:400]
    open_count = case_service.count_cases(web_store)
    assert f"{open_count} open" in card and 'href="/cases"' in page.text
    # open / overdue / resolved this month per department, by name, each linking to its inbox
    table = _text(page.text.split('data-testid="cases-by-department"', 1)[1].split("</table>", 1)[0])
    figures = case_service.case_figures(web_store)
    busiest = figures.sort_values("open", ascending=False).iloc[0]
    assert str(busiest["department_name"]) in table
    assert f"/cases?department={busiest['department']}" in page.text


def test_the_journey_page_says_whether_following_up_worked(
    clients: dict[Role, TestClient], case_ids: dict[str, str]
) -> None:
    page = clients[Role.viewer].get("/journey")
    assert page.status_code == 200 and "Did following up work?" in page.text
    said = " ".join(_text(page.text.split('data-testid="closed-loop"', 1)[1].split("</p>", 1)[0]).split())
    assert "cases for unhappy customers" in said and ("not enough data" in said or "came back" in said)


def test_overview_card_is_left_out_without_a_cases_table() -> None:
    from heedful.web.overview import case_counts

    class NoCases:
        def list_tables(self) -> list[str]:
            return ["customers"]

    class Broken:
        def list_tables(self) -> list[str]:
            raise RuntimeError("connection lost")

    assert case_counts(NoCases()) is None  # type: ignore[arg-type]
    assert case_counts(Broken()) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------- did it work
def test_inbox_says_whether_following_up_worked_and_hides_the_holdout(
    web_store: Store, clients: dict[Role, TestClient], case_ids: dict[str, str]
) -> None:
    from heedful.store import cases_repo

    now = datetime(2024, 6, 30, 12, 0)
    held = {
        "case_id": "cheld1",
        "idempotency_key": "C1|feedback|held-1",
        "customer_id": "C1",
        "trigger": "feedback",
        "trigger_id": "held-1",
        "department": "delivery",
        "priority": "low",
        "status": "new",
        "holdout": True,
        "evidence": '{"quote": "Held-out complaint"}',
        "opened_at": now,
        "due_at": now + timedelta(days=7),
        "updated_at": now,
    }
    cases_repo.insert_cases(web_store, pd.DataFrame([held]), [])
    client = clients[Role.analyst]
    page = client.get("/cases", params={"status": "all"})
    text = _text(page.text)
    section = _text(page.text.split('data-testid="did-it-work"', 1)[1])
    assert "Did it work?" in text and "Closed within the promised time" in section
    assert "not enough data (n = " in section and "held out" in section
    assert "Held-out complaint" not in text and "cheld1" not in page.text
    assert not RAW.search(text), RAW.search(text)
    one = client.get("/cases/cheld1")
    assert one.status_code == 200 and 'data-testid="holdout"' in one.text
    assert "/reply" not in one.text and "/notes" not in one.text and "/status" not in one.text
    refused = _form(client, "/cases/cheld1/notes", {"text": "hi"})
    assert refused.status_code == 303 and "in the holdout" in client.get("/cases/cheld1").text
