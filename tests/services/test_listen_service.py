"""Listening use cases on a real store: classify the stored feedback into feedback_enriched (new or changed
items only), then read it back as the overview, quotes and trends the CLI and the web page show."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from heedful.errors import InputError
from heedful.listen.classify import Classifier
from heedful.services import listen as service
from heedful.store import Store
from heedful.themes import decode_themes

FEEDBACK = [
    ("f1", "The delivery took three weeks and nobody answered my emails.", "2024-01-05"),
    ("f2", "Beautiful dress, fits true to size. Contact me at ann@example.com", "2024-02-05"),
    ("f3", "I was charged twice for one order.", "2024-03-05"),
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return service.build_classifier(fast=True)


def _seed(store: Store, rows: list[tuple[str, str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["feedback_id", "text", "created_at"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    frame["channel"], frame["author_kind"] = "review", "customer"
    store.upsert("feedback", frame)


def test_classify_store_saves_new_and_changed_items_only(store: Store, classifier: Classifier) -> None:
    _seed(store, FEEDBACK)
    written, skipped = service.classify_store(store, classifier)
    assert (len(written), skipped) == (3, 0)
    stored = store.query("SELECT * FROM feedback_enriched ORDER BY feedback_id").set_index("feedback_id")
    assert list(stored.index) == ["f1", "f2", "f3"]
    assert stored.loc["f1", "sentiment"] == "negative"
    assert "delivery_speed" in decode_themes(stored.loc["f1", "themes"])
    assert "ann@example.com" not in stored.loc["f2", "redacted_text"]
    assert stored.loc["f1", "model_version"] == classifier.version

    again, skipped = service.classify_store(store, classifier)
    assert (len(again), skipped) == (0, 3)
    _seed(store, [("f3", "Great service and lovely quality, thank you so much!", "2024-03-05")])
    changed, skipped = service.classify_store(store, classifier)
    assert list(changed["feedback_id"]) == ["f3"] and skipped == 2
    assert store.query("SELECT sentiment FROM feedback_enriched WHERE feedback_id = 'f3'")["sentiment"][0] == "positive"
    everything, skipped = service.classify_store(store, classifier, reprocess_all=True)
    assert (len(everything), skipped) == (3, 0)
    assert store.query("SELECT count(*) AS n FROM feedback_enriched")["n"][0] == 3


def test_rows_classified_by_another_model_version_are_redone(store: Store, classifier: Classifier) -> None:
    _seed(store, FEEDBACK)
    service.classify_store(store, classifier)
    store.execute("UPDATE feedback_enriched SET model_version = 'old-model' WHERE feedback_id = 'f2'")
    redone, skipped = service.classify_store(store, classifier)
    assert list(redone["feedback_id"]) == ["f2"] and skipped == 2
    versions = store.query("SELECT DISTINCT model_version FROM feedback_enriched")["model_version"].tolist()
    assert versions == [classifier.version]


def test_classify_store_can_keep_personal_data(store: Store, classifier: Classifier) -> None:
    _seed(store, FEEDBACK[1:2])
    service.classify_store(store, classifier, redact_pii=False)
    assert "ann@example.com" in store.query("SELECT redacted_text FROM feedback_enriched")["redacted_text"][0]


def test_overview_quotes_and_trends_read_what_classification_saved(store: Store, classifier: Classifier) -> None:
    with pytest.raises(InputError, match="No classified feedback"):
        service.trends(store)
    assert service.overview(store)["items"] == 0
    _seed(store, FEEDBACK)
    service.classify_store(store, classifier)

    data = service.overview(store, "M")
    assert data["items"] == 3
    assert "delivery_speed" in set(data["themes"]["theme"])
    assert data["sentiment"]["items"].sum() == 3

    stored = store.query("SELECT feedback_id, sentiment, themes FROM feedback_enriched")
    expected = {
        r.feedback_id
        for r in stored.itertuples()
        if "delivery_speed" in decode_themes(r.themes) and r.sentiment in ("negative", "mixed")
    }
    delivery = service.quotes(store, "delivery_speed", None)
    assert "f1" in expected and set(delivery["feedback_id"]) == expected
    assert list(delivery["feedback_id"]) == sorted(expected, reverse=True)  # latest first
    assert "delivery_speed" in delivery["themes"][0].split(", ")
    assert service.quotes(store, "delivery", None).empty  # a whole theme id, not a prefix
    assert list(service.quotes(store, None, "positive")["feedback_id"]) == ["f2"]
    assert "[EMAIL]" in service.quotes(store, None, "positive")["quote"][0]

    document = service.trends(store, "M", competitors=["Zalando"])
    assert set(document["trends"]["period"]) <= {"2024-01", "2024-02", "2024-03"}
    assert document["competitors"][0]["competitor"] == "Zalando"
    assert document["competitors"][0]["mentions"] == 0


def test_classify_a_file_keeps_its_ids_and_writes_a_csv(tmp_path: Path, classifier: Classifier) -> None:
    src = tmp_path / "feedback.csv"
    pd.DataFrame({"ticket": ["t1", "t2"], "body": [FEEDBACK[0][1], FEEDBACK[1][1]]}).to_csv(src, index=False)
    items = service.read_feedback_file(src, "body", "ticket")
    result = service.classify_items(classifier, items, "ticket")
    out = tmp_path / "out.csv"
    service.save_classification(result, out)
    table = pd.read_csv(out)
    assert list(table["ticket"]) == ["t1", "t2"]
    assert "text_hash" not in table.columns and "[EMAIL]" in table["text"][1]
    summary = service.classification_summary(result)
    assert summary["items"] == 2 and summary["theme_counts"]["delivery_speed"] == 1  # type: ignore[index]
    with pytest.raises(InputError, match="comment"):
        service.read_feedback_file(src, "comment")


def test_a_taxonomy_may_name_the_departments_and_stages_the_store_configures(store: Store, tmp_path: Path) -> None:
    from heedful.journey.config import parse_config
    from heedful.services.journey import save_config

    path = tmp_path / "kitchen.yaml"
    path.write_text(
        "themes:\n  - id: food_drink\n    label: Food and drink\n    department: kitchen\n    journey_stage: visit\n"
    )
    with pytest.raises(InputError, match=r"line 4: themes\.0\.department.*known: delivery, marketing"):
        service.load_taxonomy(path, store)  # the default journey has no kitchen
    save_config(
        store,
        parse_config(
            "stages:\n  - {id: visit, name: Visit}\ndepartments:\n  - {id: kitchen, name: Kitchen}\nneeds: []\n"
        ),
    )
    assert service.load_taxonomy(path, store).theme("food_drink").department == "kitchen"
    with pytest.raises(InputError, match=r"line 4: .*unknown department 'kitchen'"):
        service.load_taxonomy(path)  # without a store: the default journey


def test_promoting_a_cluster_to_an_unknown_department_is_refused(tmp_path: Path) -> None:
    import json

    topics = tmp_path / "topics.json"
    topic = {"cluster_id": 3, "label": "parking", "keywords": ["parking"], "quotes": ["no parking anywhere"]}
    topics.write_text(json.dumps({"topics": [topic]}))
    with pytest.raises(InputError, match=r"--department 'facilities'.*services, support"):
        service.promote_cluster(topics, 3, "parking", "facilities", "purchase")
    with pytest.raises(InputError, match="--journey-stage 'visit'"):
        service.promote_cluster(topics, 3, "parking", "services", "visit")
    tax = service.promote_cluster(topics, 3, "parking", "services", "purchase")
    assert tax.theme("parking").department == "services"


def test_a_complaint_beside_praise_opens_a_case_for_the_department_it_criticises(store: Store) -> None:
    # the closed loop: a feedback case goes to the department of the item's main theme, which for an unhappy
    # customer is what they criticise, not the dress they liked (before, both cases went to product)
    from datetime import datetime

    from heedful.services.cases import open_cases

    today = datetime.now().strftime("%Y-%m-%d")
    rows = [
        ("g1", "Beautiful dress, terrible customer service.", today),
        (
            "g2",
            "The fabric is gorgeous but it arrived with a hole in the box and I had to wait a month for my refund.",
            today,
        ),
    ]
    _seed(store, rows)
    service.classify_store(store, service.build_classifier())
    open_cases(store)
    cases = store.query("SELECT trigger_id, department, theme FROM cases WHERE trigger = 'feedback'")
    by_item = cases.set_index("trigger_id")
    assert set(by_item.index) == {"g1", "g2"}
    assert by_item.loc["g1", "department"] in {"services", "support"}  # staff or customer support
    assert by_item.loc["g2", ["theme", "department"]].tolist() == ["returns_refunds", "services"]
