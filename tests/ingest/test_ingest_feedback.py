"""Importing feedback with every preset: ids, ratings, author kinds, bad rows, idempotency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ingest_data import write

from heedful.ingest import import_file
from heedful.store import Store

TRUSTPILOT = (
    "Review ID,Review Created (UTC),Review Title,Review Content,Review Stars,Review Consumer Name,Reference ID,Review Language\n"
    'tp1,2024-02-01T09:30:00Z,Fast delivery,"Arrived in two days, well packed.",5,Ann,c1,en\n'
    'tp2,2024-02-03T18:00:00Z,Broken,"The lid was cracked, support never replied.",1,Bob,c2,en\n'
    "tp3,2024-02-04T18:00:00Z,Odd,Six stars!,6,Cy,c3,en\n"
)


def test_trustpilot_reviews_keep_ids_ratings_and_customers(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "trustpilot.csv", TRUSTPILOT)
    result = import_file(store, path, "feedback", preset="trustpilot")
    assert (result.accepted, result.rejected) == (2, 1)
    assert result.quarantine[0]["line"] == 4 and "outside 0-5" in result.quarantine[0]["error"]
    rows = store.query("SELECT * FROM feedback ORDER BY feedback_id").set_index("feedback_id")
    assert list(rows.index) == ["trustpilot:tp1", "trustpilot:tp2"]
    assert rows.loc["trustpilot:tp2", "rating"] == 1 and rows.loc["trustpilot:tp2", "rating_scale"] == 5
    assert rows.loc["trustpilot:tp1", "channel"] == "review" and rows.loc["trustpilot:tp1", "author"] == "Ann"
    assert str(rows.loc["trustpilot:tp1", "created_at"]) == "2024-02-01 09:30:00"
    kinds = store.query("SELECT customer_id, kind FROM customers ORDER BY customer_id")
    assert kinds.values.tolist() == [["c1", "customer"], ["c2", "customer"]]
    again = import_file(store, path, "feedback", preset="trustpilot")
    assert (again.accepted, again.duplicates) == (0, 2)


def test_app_store_reviews(store: Store, tmp_path: Path) -> None:
    text = (
        "id,date,title,review,rating,userName\n"
        "a1,2023-07-01 12:00:00,Crashes,App crashes on launch since the update,1,joe\n"
        "a2,07/02/2023,Love it,Does what it says,5,kim\n"
    )
    result = import_file(store, write(tmp_path / "appstore.csv", text), "feedback", preset="app-store")
    assert result.accepted == 2
    rows = store.query("SELECT external_id, author, rating, created_at FROM feedback ORDER BY external_id")
    assert rows["author"].tolist() == ["joe", "kim"]
    assert str(rows["created_at"].iloc[1]).startswith("2023-02-07")  # day-first unless --date-format says so


def test_date_format_option_is_tried_first(duck_store: Store, tmp_path: Path) -> None:
    text = "id,date,review,rating\na2,07/02/2023,Does what it says,5\n"
    import_file(duck_store, write(tmp_path / "a.csv", text), "feedback", preset="app-store", date_format="%m/%d/%Y")
    assert str(duck_store.query("SELECT created_at FROM feedback").iloc[0, 0]).startswith("2023-07-02")


def test_zendesk_tickets_from_json_lines_map_satisfaction_words(store: Store, tmp_path: Path) -> None:
    tickets = [
        {
            "id": 101,
            "created_at": "2024-05-01T08:00:00Z",
            "subject": "Refund",
            "description": "Where is my refund?",
            "requester_id": 9001,
            "satisfaction_rating": {"score": "bad"},
        },
        {
            "id": 102,
            "created_at": "2024-05-02T08:00:00Z",
            "subject": "Thanks",
            "description": "Solved quickly",
            "requester_id": 9002,
            "satisfaction_rating": {"score": "good"},
        },
        {
            "id": 103,
            "created_at": "2024-05-03T08:00:00Z",
            "subject": "No text",
            "description": "",
            "requester_id": 9003,
            "satisfaction_rating": {"score": "offered"},
        },
    ]
    path = write(tmp_path / "tickets.jsonl", "\n".join(json.dumps(t) for t in tickets) + "\n")
    result = import_file(store, path, "feedback", preset="zendesk")
    assert (result.accepted, result.rejected) == (2, 1)
    assert "missing text" in result.quarantine[0]["error"] and result.quarantine[0]["line"] == 3
    rows = store.query("SELECT feedback_id, channel, rating, customer_id FROM feedback ORDER BY feedback_id")
    assert rows["rating"].tolist() == [0.0, 1.0]
    assert set(rows["channel"]) == {"ticket"} and rows["customer_id"].tolist() == ["9001", "9002"]


def test_glassdoor_reviews_are_staff_and_join_pros_and_cons(store: Store, tmp_path: Path) -> None:
    text = (
        "firm,date_review,job_title,overall_rating,headline,pros,cons\n"
        "Acme,2021-03-04,Support agent,2,Tough,Nice colleagues,Ticket volume is crushing\n"
    )
    result = import_file(store, write(tmp_path / "glassdoor.csv", text), "feedback", preset="glassdoor")
    assert result.accepted == 1
    row = store.query("SELECT author_kind, text, attributes FROM feedback").iloc[0]
    assert row["author_kind"] == "staff"
    assert row["text"] == "Pros: Nice colleagues\nCons: Ticket volume is crushing"
    assert json.loads(row["attributes"]) == {"firm": "Acme"}


def test_generic_feedback_with_bad_rows_and_kind_option(store: Store, tmp_path: Path) -> None:
    text = (
        "comment,when,score,user\n"
        "Great onboarding call,2024-01-01,9,p1\n"
        ",2024-01-02,3,p2\n"
        "Pricing unclear,yesterday,4,p3\n"
        "Too pricey,2024-01-03,ten,p4\n"
    )
    path = write(tmp_path / "notes.csv", text)
    result = import_file(
        store,
        path,
        "feedback",
        mapping={"comment": "text", "when": "created_at", "user": "customer_id"},
        kind="prospect",
    )
    assert result.accepted == 1
    errors = {q["line"]: q["error"] for q in result.quarantine}
    assert "missing text" in errors[3] and "unparseable date" in errors[4] and "not a number" in errors[5]
    row = store.query("SELECT author_kind, rating, channel FROM feedback").iloc[0]
    assert (row["author_kind"], row["rating"], row["channel"]) == ("prospect", 9.0, "other")
    assert store.query("SELECT kind FROM customers WHERE customer_id = 'p1'").iloc[0, 0] == "prospect"


def test_feedback_without_ids_is_idempotent_by_content(duck_store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", "text,date\nhello,2024-01-01\nhello again,2024-01-02\n")
    assert import_file(duck_store, path, "feedback").accepted == 2
    again = import_file(duck_store, path, "feedback")
    assert (again.accepted, again.duplicates) == (0, 2)


@pytest.mark.parametrize("kind", ["martian"])
def test_unknown_kind_is_refused(duck_store: Store, tmp_path: Path, kind: str) -> None:
    from heedful.errors import InputError

    path = write(tmp_path / "t.csv", "text,date\nhello,2024-01-01\n")
    with pytest.raises(InputError, match="Unknown kind"):
        import_file(duck_store, path, "feedback", kind=kind)
