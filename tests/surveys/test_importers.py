"""Importing SurveyMonkey, Typeform and Google Forms exports into responses and answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from heedful.errors import InputError
from heedful.ingest.surveys_import import import_survey_file
from heedful.services.surveys import latest_survey
from heedful.store import Store
from heedful.store import surveys_repo as repo
from heedful.surveys.results import survey_results

FIXTURES = Path(__file__).parent / "fixtures"


def test_surveymonkey_export_keeps_multi_option_answers_and_other_text(duck_store: Store) -> None:
    out = import_survey_file(duck_store, FIXTURES / "surveymonkey.csv", "surveymonkey", "sm")
    assert (out["responses"], out["accepted"]) == (4, 4)
    types = {q["text"]: q["type"] for q in out["questions"]}
    assert types["How likely is it that you would recommend us to a friend?"] == "nps"
    assert types["What did you buy?"] == "multiple"
    rows = duck_store.fetchall(
        "SELECT field, value FROM answers WHERE response_id = 'surveymonkey:sm:114002' AND question_id = 'what_did_you_buy' ORDER BY field"
    )
    assert rows == [("bags", "1"), ("other", "a hat")]
    again = import_survey_file(duck_store, FIXTURES / "surveymonkey.csv", "surveymonkey", "sm")
    assert (again["accepted"], again["duplicates"], again["answers"]) == (0, 4, 0)


def test_typeform_export_gives_nps_with_an_interval(duck_store: Store) -> None:
    import_survey_file(duck_store, FIXTURES / "typeform.csv", "typeform", "tf")
    _, survey = latest_survey(duck_store, "tf")
    responses, answers, _ = repo.survey_data(duck_store, "tf")
    # the export holds 4 responses, below the default minimum of 30: shown as not enough data …
    nps = next(q for q in survey_results(survey, responses, answers)["questions"] if q["type"] == "nps")
    assert (nps["status"], nps["n"]) == ("not_enough_data", 4)
    # … so the import's arithmetic is checked with the minimum lowered explicitly
    result = survey_results(survey, responses, answers, min_n=4)
    nps = next(q for q in result["questions"] if q["type"] == "nps")
    assert nps["nps"] == pytest.approx(25.0)  # 2 promoters, 1 detractor of 4
    assert nps["low"] < 25 < nps["high"]
    assert next(q for q in result["questions"] if q["type"] == "single")["options"][0]["count"] == 2


def test_google_forms_grid_becomes_likert_and_checkboxes_multiple(duck_store: Store) -> None:
    out = import_survey_file(duck_store, FIXTURES / "google-forms.csv", "google-forms", "gf")
    types = {q["id"]: q["type"] for q in out["questions"]}
    assert types["rate_us"] == "likert" and types["which_features_do_you_use"] == "multiple"
    picked = duck_store.fetchall("SELECT COUNT(*) FROM answers WHERE question_id = 'which_features_do_you_use'")[0][0]
    assert picked == 4


def test_wrong_format_is_named(duck_store: Store) -> None:
    with pytest.raises(InputError, match="Typeform"):
        import_survey_file(duck_store, FIXTURES / "google-forms.csv", "typeform", "x")
