"""Survey results count completed responses only and show no estimate below its minimum sample.

Issue 17: one completed response gave "MaxDiff share 100%" and a conjoint interval of ±10⁸; partial
responses counted into NPS (n = 5 beside "completed 1 of 8"); the results page showed CLI hints and
raw errors. The data here are generated (tests/surveys/responses.py).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.surveys.conftest import ANALYST, hidden, seed_survey_store
from tests.surveys.responses import store_responses
from tests.surveys.simulate import simulate_conjoint, simulate_maxdiff
from typer.testing import CliRunner

from heedful.cli.main import app as cli
from heedful.errors import InputError
from heedful.jsonable import to_jsonable
from heedful.services import surveys as service
from heedful.store import Store, connect
from heedful.surveys.conjoint import Conjoint
from heedful.surveys.maxdiff import MaxDiff
from heedful.surveys.results import MINIMUM_RESPONDENTS
from heedful.web.app import create_app

ESTIMATES = {"nps", "csat", "ces", "ranking", "numeric", "maxdiff", "conjoint", "van_westendorp"}


def _question(result: dict[str, Any], qid: str) -> dict[str, Any]:
    return next(q for q in result["questions"] if q["question_id"] == qid)


def test_partial_responses_are_counted_apart_and_one_completed_is_not_enough(survey_store: Store) -> None:
    store_responses(survey_store, completed=1, partial=4, partial_nps=0)
    result = service.results(survey_store, "customer-pulse").result
    assert (result["responses"], result["completed"], result["partial"]) == (5, 1, 4)
    assert result["counts"] == "completed responses"
    nps = _question(result, "nps")
    # the four partial detractors do not count: n is the one completed respondent, and it is too few
    assert nps["status"] == "not_enough_data" and nps["n"] == 1 and nps["minimum"] == 30
    assert "nps" not in nps and "low" not in nps
    for q in result["questions"]:
        if q["type"] in ESTIMATES:
            assert q["status"] == "not_enough_data" and q["n"] == 1, q
    assert result["key_drivers"]["status"] == "not_enough_data"
    assert all(row["status"] == "not_enough_data" for rows in result["nps_crosstabs"].values() for row in rows)


def test_a_lower_minimum_still_counts_completed_responses_only(survey_store: Store) -> None:
    store_responses(survey_store, completed=3, partial=4, partial_nps=0)
    result = service.results(survey_store, "customer-pulse", min_n=3).result
    nps = _question(result, "nps")
    assert nps["status"] == "ok" and nps["n"] == 3 and sum(nps["distribution"].values()) == 3
    with pytest.raises(InputError):
        service.results(survey_store, "customer-pulse", min_n=0)


def test_enough_completed_responses_give_every_estimate(survey_store: Store) -> None:
    store_responses(survey_store, completed=40, partial=10, partial_nps=0, seed=3)
    result = service.results(survey_store, "customer-pulse").result
    assert (result["completed"], result["partial"]) == (40, 10)
    assert result["minimum"] == MINIMUM_RESPONDENTS
    rows = survey_store.query(
        "SELECT a.value_num FROM answers a JOIN responses r USING (response_id) "
        "WHERE a.question_id = 'nps' AND r.completed_at IS NOT NULL"
    )["value_num"]
    expected = 100 * ((rows >= 9).mean() - (rows <= 6).mean())
    nps = _question(result, "nps")
    assert nps["status"] == "ok" and nps["n"] == 40 and nps["nps"] == pytest.approx(expected)
    for q in result["questions"]:
        if q["type"] in ESTIMATES:
            assert q["status"] == "ok" and q["n"] == 40, q
    assert {i["item"] for i in _question(result, "features")["items"]} >= {"free_delivery", "eco_packaging"}
    assert all(np.isfinite(u["high"]) and abs(u["high"]) < 100 for u in _question(result, "plans")["utilities"])
    assert result["key_drivers"]["status"] == "ok" and result["key_drivers"]["n"] == 40


def test_maxdiff_and_conjoint_with_one_respondent_show_no_shares_or_intervals(survey_store: Store) -> None:
    store_responses(survey_store, completed=1, partial=0)
    for min_n in (None, 1):  # by default too few; even when allowed, the model is not identified
        result = to_jsonable(service.results(survey_store, "customer-pulse", min_n=min_n).result)
        for qid in ("features", "plans"):
            q = _question(result, qid)
            assert q["status"] in ({"not_enough_data"} if min_n is None else {"not_identified", "not_estimable"}), q
            assert q["n"] == 1
            assert not {"items", "utilities", "importance", "share", "wtp"} & set(q), q
            assert "share" not in json.dumps(q) and "wtp" not in json.dumps(q)


def test_unidentified_choice_models_report_no_estimates() -> None:
    conjoint_data = simulate_conjoint(
        {"speed": ["fast", "slow"], "returns": ["14", "60"]},
        {"speed": np.array([1.0, -1.0]), "returns": np.array([-0.3, 0.3])},
        [5, 10, 15],
        -0.1,
        1,
        2,
        2,
        0.0,
        0,
    )
    model = Conjoint(method="mnl", price_col="price").fit(conjoint_data)
    assert not model.identified_ and model.to_dict()["status"] == "not_identified"
    assert "utilities" not in model.to_dict()
    maxdiff_data, _ = simulate_maxdiff(np.array([-1.0, 0.0, 1.0, 2.0]), 1, 2, 3, 0.0, seed=0)
    md = MaxDiff(method="mnl").fit(maxdiff_data)
    assert not md.identified_ and "items" not in md.to_dict()
    many, _ = simulate_maxdiff(np.array([-1.0, 0.0, 1.0, 2.0]), 40, 6, 3, 0.3, seed=1)
    assert MaxDiff(method="mnl").fit(many).identified_


def test_cli_results_json_and_text_say_completed_partial_and_not_enough_data(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'cli.duckdb'}"
    with connect(url) as store:
        seed_survey_store(store)
        store_responses(store, completed=1, partial=4, partial_nps=0)
    runner = CliRunner()
    out = runner.invoke(cli, ["survey", "results", "customer-pulse", "--db", url, "--json", "--no-feedback"])
    assert out.exit_code == 0, out.output
    result = json.loads(out.stdout)
    assert (result["completed"], result["partial"]) == (1, 4)
    assert _question(result, "nps") | {"text": ""} == {
        "question_id": "nps",
        "type": "nps",
        "text": "",
        "counts": "completed responses",
        "status": "not_enough_data",
        "n": 1,
        "minimum": 30,
        "distribution": _question(result, "nps")["distribution"],
    }
    text = runner.invoke(cli, ["survey", "results", "customer-pulse", "--db", url, "--no-feedback"])
    assert text.exit_code == 0, text.output
    assert "1 completed of 5 started (4 partial" in text.stdout
    said = " ".join(text.stdout.split())  # the question as respondents read it, not its id
    assert "NPS (“How likely is it that you would recommend us to a friend or colleague?”): not enough data" in said
    assert "(n = 1, needs 30)" in said and "NPS nps" not in said
    lowered = runner.invoke(cli, ["survey", "results", "customer-pulse", "--db", url, "--json", "--min-n", "1"])
    assert _question(json.loads(lowered.stdout), "nps")["n"] == 1


def _signed_in(store: Store) -> TestClient:
    client = TestClient(create_app(store=store, secret_key="s"), base_url="http://testserver")
    login = client.get("/login")
    client.post(
        "/login",
        data={"email": ANALYST[0], "password": ANALYST[1], "csrf_token": hidden(login.text, "csrf_token")},
        follow_redirects=False,
    )
    return client


def _visible(html: str) -> str:
    html = re.sub(r"<textarea.*?</textarea>", " ", html, flags=re.S)  # the embed snippet is HTML to copy
    html = re.sub(r"<(script|style).*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _assert_plain_words(html: str) -> None:
    assert "heedful " not in html  # no CLI instructions such as "run heedful survey results …"
    text = _visible(html)
    assert not re.search(r"heedful [a-z]", text), text  # (the brand "heedful" stands alone in the header)
    for word in ("None", "nan", "NaN", "Traceback", "Error", "found []"):
        assert not re.search(rf"\b{re.escape(word)}\b", text), (word, text)


@pytest.mark.parametrize(("completed", "partial"), [(0, 0), (1, 4), (40, 3)])
def test_results_page_speaks_plain_words(survey_store: Store, completed: int, partial: int) -> None:
    if completed or partial:
        store_responses(survey_store, completed=completed, partial=partial, partial_nps=0, seed=5)
    client = _signed_in(survey_store)
    page = client.get("/surveys/customer-pulse")
    assert page.status_code == 200
    _assert_plain_words(page.text)
    text = _visible(page.text)
    assert "counts completed responses only" in text
    # each measure by the question people answered and its kind in words, not the ids "nps" and "nps"
    assert "NPS · How likely is it that you would recommend us" in text and "NPS · nps" not in text
    assert "Would recommend (NPS, 0–10)" in text and "Open text" in text
    if completed == 0:
        assert "No MaxDiff answers yet." in text and "No conjoint answers yet." in text
    elif completed == 1:
        assert "not enough data (n = 1, needs 30)" in text and f"{partial} partial" in text
        assert "Share" not in text and "Willingness to pay" not in text
    else:
        assert "Willingness to pay" in text and "Share" in text and "n = 40" in text
