"""`listen evaluate` scores the path a user runs: classify with a taxonomy built from the train split."""

from __future__ import annotations

from pathlib import Path

from heedful.services.listen_eval import SEMEVAL_DIR, _semeval_report

TRAIN = [
    ("The pasta was delicious.", [("food", "positive")]),
    ("Great pizza and fresh salads.", [("food", "positive")]),
    ("The soup was cold and bland.", [("food", "negative")]),
    ("Our waiter was rude and slow.", [("service", "negative")]),
    ("The staff were friendly and attentive.", [("service", "positive")]),
    ("Service was quick.", [("service", "positive")]),
    ("Way too expensive for what you get.", [("price", "negative")]),
    ("Prices are very reasonable.", [("price", "positive")]),
    ("Cozy room with soft music.", [("ambience", "positive")]),
    ("It was far too noisy inside.", [("ambience", "negative")]),
    ("We went there for my birthday.", [("anecdotes/miscellaneous", "neutral")]),
    ("I have been coming here for years.", [("anecdotes/miscellaneous", "positive")]),
]
TEST = [
    ("The food was great but the waiter was rude.", [("food", "positive"), ("service", "negative")]),
    ("Tasty dishes, though pricey.", [("food", "positive"), ("price", "negative"), ("service", "conflict")]),
    ("Lovely decor.", [("ambience", "positive")]),
]


def _xml(rows: list[tuple[str, list[tuple[str, str]]]]) -> str:
    body = "".join(
        f'<sentence id="{i}"><text>{text}</text><aspectCategories>'
        + "".join(f'<aspectCategory category="{c}" polarity="{p}"/>' for c, p in cats)
        + "</aspectCategories></sentence>"
        for i, (text, cats) in enumerate(rows)
    )
    return f"<sentences>{body}</sentences>"


def test_semeval_report_scores_end_to_end_gold_and_multi_aspect_pairs(tmp_path: Path) -> None:
    folder = tmp_path / SEMEVAL_DIR
    folder.mkdir(parents=True)
    (folder / "Restaurants_Train_v2.xml").write_text(_xml(TRAIN))
    (folder / "Restaurants_Test_Gold.xml").write_text(_xml(TEST))
    report = _semeval_report(tmp_path, "static")
    assert report["test_sentences"] == 3
    e2e, gold, multi = report["end_to_end_polarity"], report["gold_category_polarity"], report["multi_aspect_proxy"]
    assert isinstance(e2e, dict) and isinstance(gold, dict) and isinstance(multi, dict)
    assert e2e["pairs"] == gold["pairs"] == 5  # the conflict pair is left out
    assert multi["sentences"] == 2 and multi["pairs"] == 4
    assert multi["most_common_class_accuracy"] == 0.5  # two positive, two negative pairs
    assert 0 <= e2e["accuracy"] <= 1 and 0 <= gold["accuracy"] <= 1
    main = report["main_theme"]
    assert isinstance(main, dict) and "joined" not in main  # no two single-opinion sentences to join
    # only the two sentences that praise one category and criticise another can be counted, each on one side
    counted = main["test_sentences"]["complaints"]["items"] + main["test_sentences"]["praise"]["items"]
    assert 0 <= counted <= 2


def test_clothing_reviews_split_by_product_so_no_garment_is_in_both_parts() -> None:
    from heedful.services.listen_eval import clothing_part

    parts = [clothing_part(i) for i in range(2000)]
    assert set(parts) == {"train", "test"}
    assert 0.4 < parts.count("train") / len(parts) < 0.6
    # stable across runs and types: the training script and `listen evaluate` must agree
    assert [clothing_part(str(i)) for i in range(2000)] == parts


def test_semeval_report_adds_a_joined_multi_aspect_proxy_from_single_opinion_test_sentences(tmp_path: Path) -> None:
    from heedful.services.listen_eval import JOINED_TEXTS

    folder = tmp_path / SEMEVAL_DIR
    folder.mkdir(parents=True)
    (folder / "Restaurants_Train_v2.xml").write_text(_xml(TRAIN))
    single = [
        ("The soup was delicious.", [("food", "positive")]),
        ("Our waiter ignored us all night.", [("service", "negative")]),
        ("We sat by the window.", [("ambience", "neutral")]),
    ]
    (folder / "Restaurants_Test_Gold.xml").write_text(_xml(TEST + single))
    report = _semeval_report(tmp_path, "static")
    joined = report["multi_aspect_joined"]
    assert isinstance(joined, dict)
    assert joined["texts"] == JOINED_TEXTS and joined["pairs"] == 2 * JOINED_TEXTS
    by_truth = joined["end_to_end_by_truth"]
    assert isinstance(by_truth, dict) and set(by_truth) <= {"negative", "neutral", "positive"} and len(by_truth) >= 2
    assert all(0 <= v <= 1 for v in by_truth.values())
    found, right = joined["themes_found"], joined["end_to_end_accuracy"]
    assert isinstance(found, float) and isinstance(right, float) and 0 <= right <= found <= 1
    main = report["main_theme"]["joined"]  # type: ignore[index]
    sides = [main["complaints"], main["praise"]]
    assert sum(side["items"] for side in sides) <= JOINED_TEXTS
    assert all(side["main_theme_right"] is None or 0 <= side["main_theme_right"] <= 1 for side in sides)


def test_semeval_report_says_when_no_test_sentences_can_be_joined(tmp_path: Path) -> None:
    folder = tmp_path / SEMEVAL_DIR
    folder.mkdir(parents=True)
    (folder / "Restaurants_Train_v2.xml").write_text(_xml(TRAIN))
    (folder / "Restaurants_Test_Gold.xml").write_text(_xml(TEST))  # one single-opinion sentence only
    joined = _semeval_report(tmp_path, "static")["multi_aspect_joined"]
    assert joined == {"texts": 0, "pairs": 0, "end_to_end_accuracy": None}


def test_the_hand_labelled_clothing_themes_are_default_taxonomy_themes_in_two_parts() -> None:
    import json
    from importlib import resources

    from heedful.listen.taxonomy import default_taxonomy

    lines = resources.files("heedful.listen").joinpath("labelled", "clothing_review_themes.jsonl").read_text()
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["part"] for r in rows].count("development") == 100 and [r["part"] for r in rows].count("test") == 60
    assert len({r["review_sha1"] for r in rows}) == len(rows)
    assert {t for r in rows for t in r["themes"]} <= set(default_taxonomy().ids)
    assert all(r["themes"] for r in rows)


def test_few_shot_themes_are_scored_on_labelled_test_reviews_and_semeval_with_the_restaurant_example() -> None:
    from tests.conftest import require_shared_data

    from heedful.services.listen_eval import _few_shot_report, read_labelled_reviews, read_star_reviews

    data = require_shared_data("womens_ecommerce_clothing_reviews").parent
    require_shared_data(SEMEVAL_DIR.name)
    stars = read_star_reviews(data)
    part_of = dict(zip(stars["text"], stars["part"], strict=False))
    test = read_labelled_reviews(data, "test")
    assert len(test) == 60 and {part_of[text] for text, _ in test} == {"test"}  # never a training product
    assert len(read_labelled_reviews(data, "development")) == 100
    report = _few_shot_report(data, "static")
    clothing, semeval = report["default_taxonomy_clothing"], report["restaurant_example_semeval"]
    assert isinstance(clothing, dict) and isinstance(semeval, dict)
    assert clothing["reviews"] == 60 and semeval["sentences"] == 800 and semeval["pairs"] == 754
    assert 0 < clothing["micro_f1"] <= 1 and 0 < semeval["micro_f1"] <= 1
