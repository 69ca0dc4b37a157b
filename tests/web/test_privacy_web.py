"""Privacy erase / export and backup from the running web app (admins only), on DuckDB and PostgreSQL."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.store.seed import SUBJECT, seed
from tests.store.test_privacy import _find_everywhere
from tests.web.conftest import EMAILS, PASSWORD, csrf_of, sign_in

from heedful.services.accounts import Role, create_token, create_user
from heedful.store import Store, connect
from heedful.store.backup import nonempty_tables, read_manifest, restore
from heedful.web.app import create_app

CID = SUBJECT["customer_id"]


@pytest.fixture
def world(store: Store) -> Iterator[tuple[Store, dict[Role, TestClient]]]:
    """The privacy seed (one person in every table, two others) served with one signed-in client per role."""
    seed(store)
    for role, email in EMAILS.items():
        create_user(store, email, role, PASSWORD)
    app = create_app(store=store, secret_key="test-secret", warm_cache=False)
    clients = {role: sign_in(TestClient(app, base_url="http://testserver"), EMAILS[role]) for role in Role}
    yield store, clients
    for client in clients.values():
        client.close()


def _form_csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the form"
    return match.group(1)


def _audit(store: Store, action: str) -> list[tuple[str | None, str | None, str]]:
    return store.fetchall("SELECT actor, target, detail FROM audit_log WHERE action = ?", [action])


def test_admin_erases_a_person_from_the_web_after_confirming(world: tuple[Store, dict[Role, TestClient]]) -> None:
    store, clients = world
    admin = clients[Role.admin]
    profile = admin.get(f"/customers/{CID}")
    assert profile.status_code == 200 and f"/privacy/erase?customer={CID}" in profile.text
    before = {t: store.count(t) for t in ("customers", "orders", "feedback", "answers")}

    review = admin.get("/privacy/erase", params={"customer": CID})
    assert review.status_code == 200
    assert 'data-testid="erase-preview"' in review.text
    # the preview is the erase rolled back: counts per table shown, nothing changed
    assert re.search(r"<td>customers</td><td class=\"num\">1</td>", review.text)
    assert re.search(r"<td>orders</td><td class=\"num\">0</td><td class=\"num\">3</td>", review.text)
    assert {t: store.count(t) for t in before} == before

    done = admin.post("/privacy/erase", data={"customer": CID, "confirm": CID, "csrf_token": _form_csrf(review.text)})
    assert done.status_code == 200, done.text[:500]
    message = re.search(r'data-testid="erase-result">([^<]+)<', done.text)
    assert message and message.group(1).startswith("Deleted ") and "erased-" in message.group(1)
    # the person is gone from every text column of every table (the CLI's test, reused)
    for needle in SUBJECT.values():
        assert _find_everywhere(store, needle) == [], needle
    assert store.count("customers") == before["customers"] - 1
    assert store.count("orders") == before["orders"]  # kept for accounting, de-identified
    audit = _audit(store, "privacy.erase")
    assert len(audit) == 1
    actor, target, detail = audit[0]
    assert actor == EMAILS[Role.admin] and target and target.startswith("erased-")
    assert json.loads(detail)["deleted"]["customers"] == 1
    assert admin.get(f"/customers/{CID}").status_code == 404


def test_a_wrong_confirmation_erases_nothing(world: tuple[Store, dict[Role, TestClient]]) -> None:
    store, clients = world
    admin = clients[Role.admin]
    token = csrf_of(admin, "/account")
    before = {t: store.count(t) for t in store.list_tables() if t != "audit_log"}
    for typed in ("", "yes", CID.lower(), "C2"):
        response = admin.post("/privacy/erase", data={"customer": CID, "confirm": typed, "csrf_token": token})
        assert response.status_code == 400
        assert "Nothing was erased" in response.text and 'data-testid="erase-preview"' in response.text
    assert {t: store.count(t) for t in store.list_tables() if t != "audit_log"} == before
    assert _find_everywhere(store, SUBJECT["email"])  # still there
    assert _audit(store, "privacy.erase") == []
    # no confirmation at all: refused by validation, nothing erased either
    assert admin.post("/privacy/erase", data={"customer": CID, "csrf_token": token}).status_code in (400, 422)
    assert store.count("customers") == before["customers"]


def test_viewers_and_analysts_get_403_and_change_nothing(world: tuple[Store, dict[Role, TestClient]]) -> None:
    store, clients = world
    for role in (Role.viewer, Role.analyst):
        client = clients[role]
        token = csrf_of(client, "/account")
        assert f"/privacy/erase?customer={CID}" not in client.get(f"/customers/{CID}").text
        assert client.get("/privacy/erase", params={"customer": CID}).status_code == 403
        for path in ("/privacy/erase", "/privacy/export", "/settings/backup"):
            response = client.post(path, data={"customer": CID, "confirm": CID, "csrf_token": token})
            assert response.status_code == 403, (role, path)
        api = client.post(
            "/api/v1/privacy/erase", json={"customer": CID, "confirm": CID}, headers={"X-CSRF-Token": token}
        )
        assert api.status_code == 403 and api.json()["required_role"] == "admin"
    assert store.count("customers") == 3
    assert _audit(store, "privacy.erase") == _audit(store, "privacy.export") == _audit(store, "store.backup") == []


def test_admin_exports_a_persons_data_as_the_cli_does(world: tuple[Store, dict[Role, TestClient]]) -> None:
    store, clients = world
    admin = clients[Role.admin]
    response = admin.post(
        "/privacy/export", data={"customer": SUBJECT["email"], "csrf_token": csrf_of(admin, f"/customers/{CID}")}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert f'filename="privacy-export-{CID}.json"' in response.headers["content-disposition"]
    doc = response.json()
    assert doc["subject"]["customer_id"] == CID
    assert len(doc["tables"]["orders"]) == 3 and {r["feedback_id"] for r in doc["tables"]["feedback"]} == {"F1"}
    assert doc["rows"] > 0 and "audit_log" in doc["mentions"]
    assert _audit(store, "privacy.export") == [
        (EMAILS[Role.admin], CID, json.dumps({"rows": doc["rows"]}, sort_keys=True))
    ]
    missing = admin.post("/privacy/export", data={"customer": "nobody", "csrf_token": csrf_of(admin, "/account")})
    assert missing.status_code == 404


def test_api_erase_and_export_with_an_admin_token(world: tuple[Store, dict[Role, TestClient]]) -> None:
    store, clients = world
    admin_id = store.fetchall("SELECT user_id FROM users WHERE email = ?", [EMAILS[Role.admin]])[0][0]
    _, token = create_token(store, admin_id, "privacy")
    bearer = {"Authorization": f"Bearer {token}"}
    api = clients[Role.admin]
    exported = api.get("/api/v1/privacy/export", params={"customer": CID}, headers=bearer)
    assert exported.status_code == 200 and exported.json()["subject"]["customer_id"] == CID
    wrong = api.post("/api/v1/privacy/erase", json={"customer": CID, "confirm": "C2"}, headers=bearer)
    assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("application/problem+json")
    assert store.count("customers") == 3
    done = api.post("/api/v1/privacy/erase", json={"customer": CID, "confirm": CID}, headers=bearer)
    assert done.status_code == 200, done.text
    assert done.json()["deleted"]["customers"] == 1 and done.json()["pseudonymised"]["orders"] == 3
    for needle in SUBJECT.values():
        assert _find_everywhere(store, needle) == [], needle
    again = api.post("/api/v1/privacy/erase", json={"customer": CID, "confirm": CID}, headers=bearer)
    assert again.status_code == 404
    paths = api.get("/openapi.json").json()["paths"]
    assert "/api/v1/privacy/erase" in paths and "/api/v1/privacy/export" in paths
    assert "/privacy/erase" not in paths and "/settings/backup" not in paths


def test_backup_download_while_serving_restores_into_a_fresh_store(
    world: tuple[Store, dict[Role, TestClient]], tmp_path: Path
) -> None:
    store, clients = world
    admin = clients[Role.admin]
    settings = admin.get("/settings")
    assert 'action="/settings/backup"' in settings.text
    response = admin.post("/settings/backup", data={"csrf_token": _form_csrf(settings.text)})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    assert re.search(r'filename="heedful-backup-\d{8}T\d{6}Z\.zip"', response.headers["content-disposition"])
    archive = tmp_path / "download.zip"
    archive.write_bytes(response.content)
    assert zipfile.ZipFile(io.BytesIO(response.content)).testzip() is None
    manifest = read_manifest(archive)
    assert manifest["dialect"] == store.dialect
    audit = _audit(store, "store.backup")
    assert len(audit) == 1 and audit[0][0] == EMAILS[Role.admin]
    assert json.loads(audit[0][2])["rows"] == sum(t["rows"] for t in manifest["tables"])

    fresh = connect(f"duckdb:///{tmp_path / 'restored.duckdb'}")
    try:
        restore(fresh, archive)
        restored = nonempty_tables(fresh)
    finally:
        fresh.close()
    expected = {t["table"]: t["rows"] for t in manifest["tables"] if t["rows"] and t["table"] != "schema_migrations"}
    assert restored == expected
    # the snapshot matches the live store (the backup's own audit row came after it)
    live = {t: n for t, n in nonempty_tables(store).items() if t != "audit_log"}
    assert {t: n for t, n in restored.items() if t != "audit_log"} == live
    assert restored["audit_log"] == store.count("audit_log") - 1
    assert restored["customers"] == 3 and restored["users"] == 3
