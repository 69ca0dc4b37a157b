"""heedful.services.imports: an upload into the store, its quarantined rows, and their fixed re-import."""

from __future__ import annotations

import io
import json

import pytest

from heedful.errors import HeedfulError, InputError, NotFoundError
from heedful.services import imports
from heedful.store import Store

UPLOAD = b"order_id,customer_id,order_date,quantity,price\nU1,C3,2024-03-01,2,4.5\nU2,C3,31/31/2024,1,2\n"


def test_a_fixed_quarantine_imports_with_the_original_entity_and_preset(store: Store) -> None:
    first = imports.import_upload(store, "../shop data.csv", io.BytesIO(UPLOAD), "orders", "generic")
    assert (first["accepted"], first["rejected"]) == (1, 1)
    record = imports.import_record(store, first["import_id"])
    assert record["source_file"].endswith("shop_data.csv") and record["entity"] == "orders"
    rows = imports.quarantine_rows(store, first["import_id"])
    assert [r["line"] for r in rows] == [3] and rows[0]["raw"]["order_id"] == "U2"
    fixed = imports.quarantine_csv(rows).replace("31/31/2024", "2024-03-02")
    assert fixed.splitlines()[0] == "order_id,customer_id,order_date,quantity,price"
    second = imports.reimport_fixed(store, first["import_id"], fixed)
    assert (second["accepted"], second["rejected"]) == (1, 0)
    assert imports.import_record(store, second["import_id"])["source_file"].endswith("shop_data-fixed.csv")
    assert store.count("orders") == 2
    recent = imports.recent_imports(store, 5)
    assert list(recent["import_id"]) == [second["import_id"], first["import_id"]]


def test_uploads_over_the_limit_or_empty_or_of_an_unknown_entity_are_refused(duck_store: Store) -> None:
    with pytest.raises(InputError, match="larger than"):
        imports.import_upload(duck_store, "big.csv", io.BytesIO(UPLOAD * 100), "orders", max_bytes=1024)
    with pytest.raises(InputError, match="empty"):
        imports.import_upload(duck_store, "none.csv", b"", "orders")
    with pytest.raises(InputError, match="Entity"):
        imports.import_upload(duck_store, "x.csv", UPLOAD, "invoices")
    with pytest.raises(NotFoundError):
        imports.import_record(duck_store, "nope")
    assert duck_store.count("imports") == 0


def test_an_upload_never_shows_the_servers_temporary_path(store: Store) -> None:
    good_and_bad = (
        b"order_id,customer_id,ordered_at,product_id,quantity,unit_price\n1,c1,2024-01-01,p1,2,3.5\n2,c2,soon,p1,x,1\n"
    )
    summary = imports.import_upload(store, "orders.csv", good_and_bad, "orders", "generic")
    stored = [
        *store.query("SELECT source_file FROM quarantine")["source_file"],
        *store.query("SELECT source_file FROM imports")["source_file"],
    ]
    assert summary["quarantine"][0]["file"] == "orders.csv" and set(stored) == {"orders.csv"}
    assert "heedful-upload-" not in json.dumps(summary)
    with pytest.raises(HeedfulError) as refused:
        imports.import_upload(store, "weird.csv", b"a,b\n1,2\n", "orders", "generic")
    assert "weird.csv" in str(refused.value) and "heedful-upload-" not in str(refused.value)
    assert "/tmp" not in str(refused.value)
