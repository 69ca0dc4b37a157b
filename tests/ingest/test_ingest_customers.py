"""Importing customers: kinds, validation, attributes, updates of known people, duplicates."""

from __future__ import annotations

import json
from pathlib import Path

from ingest_data import write

from heedful.ingest import import_file
from heedful.store import Store

PEOPLE = (
    "id,name,email,company,country,segment,type\n"
    "17850,Ann Lee,ann@example.com,Lee Ltd,United Kingdom,gold,customer\n"
    "p-1,Bob Stone,bob@example.com,,France,,prospect\n"
    "s-1,Cat Ray,not-an-email,,,,staff\n"
    ",No Id,x@example.com,,,,customer\n"
    "x-1,Dan,dan@example.com,,,,alien\n"
)


def test_customers_import_validates_and_keeps_other_columns_as_attributes(store: Store, tmp_path: Path) -> None:
    result = import_file(store, write(tmp_path / "people.csv", PEOPLE), "customers")
    assert (result.accepted, result.rejected) == (2, 3)
    errors = {q["line"]: q["error"] for q in result.quarantine}
    assert "invalid e-mail" in errors[4] and "missing customer id" in errors[5] and "unknown kind" in errors[6]
    rows = store.query("SELECT * FROM customers ORDER BY customer_id").set_index("customer_id")
    assert rows.loc["17850", "kind"] == "customer" and rows.loc["p-1", "kind"] == "prospect"
    assert json.loads(rows.loc["17850", "attributes"]) == {"segment": "gold"}


def test_reimport_counts_duplicates_and_updates_changed_people(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "people.csv", PEOPLE)
    import_file(store, path, "customers")
    again = import_file(store, path, "customers")
    assert (again.accepted, again.duplicates) == (0, 2)
    changed = write(tmp_path / "people2.csv", "id,name,city\n17850,Ann Lee-Smith,London\n")
    update = import_file(store, changed, "customers")
    assert (update.accepted, update.duplicates) == (1, 0)
    row = store.query("SELECT name, email, city FROM customers WHERE customer_id = '17850'").iloc[0]
    assert (row["name"], row["email"], row["city"]) == ("Ann Lee-Smith", "ann@example.com", "London")


def test_customers_created_from_orders_get_names_and_keep_their_kind(duck_store: Store, tmp_path: Path) -> None:
    orders = write(
        tmp_path / "o.csv",
        "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        "1,A,Thing,1,2011-01-01 10:00:00,2.0,17850,United Kingdom\n",
    )
    import_file(duck_store, orders, "orders", preset="online-retail")
    names = write(tmp_path / "n.csv", "customer_id,name\n17850,Ann\n")
    assert import_file(duck_store, names, "customers").accepted == 1
    row = duck_store.query("SELECT kind, name, country, first_seen_at FROM customers").iloc[0]
    assert (row["kind"], row["name"], row["country"]) == ("customer", "Ann", "United Kingdom")
    assert str(row["first_seen_at"]) == "2011-01-01 10:00:00"
    staff = import_file(duck_store, names, "customers", kind="staff")
    assert staff.accepted == 1
    assert duck_store.query("SELECT kind FROM customers").iloc[0, 0] == "staff"


def test_shopify_customers_join_first_and_last_name(duck_store: Store, tmp_path: Path) -> None:
    text = (
        "Customer ID,First Name,Last Name,Email,City,Country,Total Spent\n42,Ann,Lee,ann@example.com,Berlin,DE,120.50\n"
    )
    assert import_file(duck_store, write(tmp_path / "c.csv", text), "customers", preset="shopify").accepted == 1
    row = duck_store.query("SELECT customer_id, name, city, attributes FROM customers").iloc[0]
    assert (row["customer_id"], row["name"], row["city"]) == ("42", "Ann Lee", "Berlin")
    assert json.loads(row["attributes"]) == {"Total Spent": "120.50"}
