"""REST API /api/v1: lists with pagination and filters, single records, imports, value, problem+json errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from heedful.services.accounts import Role
from heedful.store import Store

from .conftest import csrf_of


@pytest.fixture(scope="module")
def api(clients: dict[Role, TestClient]) -> TestClient:
    return clients[Role.viewer]


def test_customer_list_pages_with_total_and_next_offset(api: TestClient, web_store: Store) -> None:
    first = api.get("/api/v1/customers", params={"limit": 2}).json()
    assert first["total"] == web_store.count("customers")
    assert [c["customer_id"] for c in first["items"]] == ["C1", "C2"]
    assert first["next_offset"] == 2
    rest = api.get("/api/v1/customers", params={"limit": 2, "offset": first["next_offset"]}).json()
    assert [c["customer_id"] for c in rest["items"]] == ["C3"]
    assert rest["next_offset"] is None


def test_customer_list_walks_pages_with_a_cursor(api: TestClient, web_store: Store) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        body = api.get("/api/v1/customers", params=params).json()
        assert body["total"] == web_store.count("customers")
        seen.extend(c["customer_id"] for c in body["items"])
        if body["next_after"] is None:
            break
        params = {"limit": 2, "after": body["next_after"]}
    assert seen == sorted(r[0] for r in web_store.fetchall("SELECT customer_id FROM customers"))


def test_customer_search_and_filters(api: TestClient) -> None:
    assert [c["name"] for c in api.get("/api/v1/customers", params={"q": "hopper"}).json()["items"]] == ["Grace Hopper"]
    uk = api.get("/api/v1/customers", params={"country": "UK"}).json()
    assert {c["customer_id"] for c in uk["items"]} == {"C1", "C3"}
    assert api.get("/api/v1/customers", params={"kind": "partner"}).json()["total"] == 0


def test_customer_search_takes_wildcards_literally(api: TestClient) -> None:
    """`q=%` once matched every customer; `_` matched any one character."""
    for wildcard in ("%", "_", "C_", "%hopper"):
        assert api.get("/api/v1/customers", params={"q": wildcard}).json()["total"] == 0, wildcard
    assert api.get("/api/v1/customers", params={"q": "race hop"}).json()["total"] == 1


def test_customer_record_never_leaks_unlisted_fields(api: TestClient) -> None:
    body = api.get("/api/v1/customers/C1").json()
    assert body["name"] == "Ada Lovelace"
    assert "attributes" not in body and "import_id" not in body


def test_orders_filter_by_customer_time_and_returns(api: TestClient, web_store: Store) -> None:
    all_c1 = api.get("/api/v1/orders", params={"customer_id": "C1"}).json()
    assert all_c1["total"] == web_store.fetchall("SELECT COUNT(*) FROM orders WHERE customer_id = 'C1'")[0][0]
    no_returns = api.get("/api/v1/orders", params={"customer_id": "C1", "include_returns": False}).json()
    assert no_returns["total"] == all_c1["total"] - 1
    assert all(not o["is_return"] for o in no_returns["items"])
    recent = api.get("/api/v1/orders", params={"since": "2024-06-01T00:00:00"}).json()
    assert recent["total"] > 0 and all(o["ordered_at"] >= "2024-06-01" for o in recent["items"])
    times = [o["ordered_at"] for o in all_c1["items"]]
    assert times == sorted(times)


def test_feedback_carries_listening_results_and_filters_by_theme(api: TestClient) -> None:
    body = api.get("/api/v1/feedback", params={"theme": "product_quality"}).json()
    assert [f["feedback_id"] for f in body["items"]] == ["F2"]
    assert body["items"][0]["themes"] == ["delivery_speed", "product_quality"]
    negative = api.get("/api/v1/feedback", params={"sentiment": "negative"}).json()
    assert [f["feedback_id"] for f in negative["items"]] == ["F1"]


def test_value_results_sorted_and_filtered(api: TestClient) -> None:
    body = api.get("/api/v1/value", params={"sort": "clv", "order": "desc"}).json()
    clvs = [v["clv"] for v in body["items"]]
    assert clvs == sorted(clvs, reverse=True)
    assert "T" in body["items"][0]
    assert [v["customer_id"] for v in api.get("/api/v1/value", params={"segment": "loyal"}).json()["items"]] == ["C2"]
    assert api.get("/api/v1/value", params={"min_clv": 250}).json()["total"] == 1
    one = api.get("/api/v1/value/C3").json()
    assert one["segment"] == "champions"
    segments = {s["segment"]: s["customers"] for s in api.get("/api/v1/value/segments").json()}
    assert segments == {"at risk": 1, "loyal": 1, "champions": 1}


def test_profile_lists_the_customers_orders_and_feedback(api: TestClient, web_store: Store) -> None:
    body = api.get("/api/v1/customers/C1/profile").json()
    text = str(body)
    assert "Delivery was late again" in text
    order_ids = {r[0] for r in web_store.fetchall("SELECT order_id FROM orders WHERE customer_id = 'C1'")}
    assert all(order_id in text for order_id in order_ids)


def test_errors_are_problem_documents(api: TestClient) -> None:
    missing = api.get("/api/v1/customers/NOPE")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    problem = missing.json()
    assert problem["status"] == 404 and problem["instance"] == "/api/v1/customers/NOPE" and "NOPE" in problem["detail"]
    invalid = api.get("/api/v1/orders", params={"limit": 0})
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["loc"] == ["query", "limit"]
    assert api.get("/api/v1/value", params={"sort": "drop table"}).status_code == 422
    assert api.get("/api/v1/no-such-thing").headers["content-type"].startswith("application/problem+json")


def test_import_via_api_reports_quarantined_rows(clients: dict[Role, TestClient], web_store: Store) -> None:
    analyst = clients[Role.analyst]
    csv = b"order_id,customer_id,order_date,quantity,price\nB1,C2,2024-02-01,1,9.5\nB2,C2,yesterday-ish,1,3\n"
    response = analyst.post(
        "/api/v1/imports",
        files={"file": ("bad.csv", csv, "text/csv")},
        data={"entity": "orders", "preset": "generic"},
        headers={"X-CSRF-Token": csrf_of(analyst, "/account")},
    )
    assert response.status_code == 201, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (1, 1)
    detail = clients[Role.viewer].get(f"/api/v1/imports/{result['import_id']}").json()
    assert detail["status"] == "done"
    assert [q["line"] for q in detail["quarantine"]] == [3]
    assert detail["quarantine"][0]["raw"]["order_id"] == "B2"
    listed = clients[Role.viewer].get("/api/v1/imports", params={"entity": "orders"}).json()
    assert result["import_id"] in {i["import_id"] for i in listed["items"]}
    unknown = analyst.post(
        "/api/v1/imports",
        files={"file": ("x.csv", b"a\n1\n", "text/csv")},
        data={"entity": "planets"},
        headers={"X-CSRF-Token": csrf_of(analyst, "/account")},
    )
    assert unknown.status_code == 400
    assert "Entity" in unknown.json()["detail"]


def test_openapi_documents_every_api_route(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/customers", "/api/v1/orders", "/api/v1/feedback", "/api/v1/imports", "/api/v1/value"):
        assert path in paths
    assert not any(p.startswith("/settings") for p in paths)  # pages stay out of the API schema
