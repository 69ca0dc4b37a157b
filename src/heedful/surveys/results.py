"""Survey results from stored answers (long format): rates, NPS/CSAT/CES, cross-tabs, drivers, trade-offs.

Pure: takes the survey definition and the responses / answers tables, returns plain dicts and
DataFrames. Trade-off questions are estimated by aggregate MNL here (fast enough for a page);
`heedful survey maxdiff/conjoint --method hb` gives individual utilities. Estimates count completed
responses only and need MINIMUM_RESPONDENTS of them; otherwise a status in words replaces the figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from heedful.errors import HeedfulError
from heedful.surveys.conjoint import Conjoint
from heedful.surveys.drivers import KeyDrivers
from heedful.surveys.maxdiff import MaxDiff
from heedful.surveys.nps import CustomerEffortScore, CustomerSatisfaction, NetPromoterScore, nps_by_segment
from heedful.surveys.vanwestendorp import VanWestendorp

RATING_TYPES = {"nps": NetPromoterScore, "csat": CustomerSatisfaction, "ces": CustomerEffortScore}


def _simple(answers: pd.DataFrame, qid: str) -> pd.Series:
    rows = answers[(answers["question_id"] == qid) & (answers["field"] == "")]
    return rows.set_index("response_id")["value"]


def _numbers(answers: pd.DataFrame, qid: str) -> pd.Series:
    return pd.to_numeric(_simple(answers, qid), errors="coerce").dropna()


def maxdiff_frame(answers: pd.DataFrame, qid: str) -> pd.DataFrame:
    """Stored MaxDiff answers -> long rows: respondent, task, item, best, worst."""
    rows = answers[answers["question_id"] == qid]
    out = []
    for (rid, task), group in rows.assign(task=rows["field"].str.split(".").str[0]).groupby(["response_id", "task"]):
        fields = dict(zip(group["field"].str.split(".").str[1], group["value"], strict=True))
        if not {"shown", "best", "worst"} <= fields.keys():
            continue
        for item in fields["shown"].split("|"):
            out.append((rid, task, item, int(item == fields["best"]), int(item == fields["worst"])))
    return pd.DataFrame(out, columns=["respondent", "task", "item", "best", "worst"])


def conjoint_frame(answers: pd.DataFrame, qid: str) -> pd.DataFrame:
    """Stored conjoint answers -> long rows: respondent, task, alternative, attributes…, chosen."""
    rows = answers[answers["question_id"] == qid]
    designs = rows[rows["field"].str.endswith(".design")]
    chosen = rows[~rows["field"].str.contains(".", regex=False)].set_index(["response_id", "field"])["value"]
    out = []
    for _, row in designs.iterrows():
        task = row["field"].split(".")[0]
        pick = chosen.get((row["response_id"], task))
        if pick is None:
            continue
        for j, profile in enumerate(json.loads(row["value"]), start=1):
            out.append(
                {
                    "respondent": row["response_id"],
                    "task": task,
                    "alternative": j,
                    **profile,
                    "chosen": int(int(pick) == j),
                }
            )
    return pd.DataFrame(out)


def van_westendorp_frame(answers: pd.DataFrame, qid: str) -> pd.DataFrame:
    rows = answers[answers["question_id"] == qid]
    return rows.pivot_table(index="response_id", columns="field", values="value_num", aggfunc="first").dropna()


# The fewest completed respondents an estimate needs before it is shown: one constant per kind of
# estimate (documented in docs/surveys.md; `survey_results(min_n=…)` and `--min-n` override them).
# Below it the estimate is replaced by {"status": "not_enough_data", "n": K, "minimum": M}. 30 matches
# the journey scorecard's `min_n`; with fewer, intervals are too wide to act on and choice models
# (MaxDiff, conjoint) are often not identified at all.
MINIMUM_RESPONDENTS: dict[str, int] = {
    "nps": 30,  # NPS, also per segment (cross-tabs, waves)
    "csat": 30,
    "ces": 30,
    "likert": 30,  # mean per row
    "ranking": 30,  # mean ranks
    "numeric": 30,  # mean and median
    "maxdiff": 30,
    "conjoint": 30,
    "van_westendorp": 30,
    "key_drivers": 30,
}
COUNTS = "completed responses"  # what every estimate counts: partial responses are left out

NOT_ESTIMABLE = "the answers so far do not allow an estimate"


def minimums(min_n: int | Mapping[str, int] | None = None) -> dict[str, int]:
    """The minimum per kind of estimate: the defaults, all replaced by an int, or some by a mapping."""
    if min_n is None:
        return dict(MINIMUM_RESPONDENTS)
    if isinstance(min_n, int):
        return dict.fromkeys(MINIMUM_RESPONDENTS, max(min_n, 1))
    return MINIMUM_RESPONDENTS | {k: max(int(v), 1) for k, v in min_n.items()}


def _short(n: int, minimum: int) -> dict[str, Any] | None:
    """The status that replaces an estimate from `n` respondents, or None when there are enough."""
    if n == 0:
        return {"status": "no_answers", "n": 0, "minimum": minimum}
    if n < minimum:
        return {"status": "not_enough_data", "n": n, "minimum": minimum}
    return None


def _estimate(n: int, minimum: int, fit: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """An estimate from `n` respondents, its shortfall, or — when the model fails — a reason in words."""
    short = _short(n, minimum)
    if short is not None:
        return short
    try:
        out = fit()
    except (HeedfulError, np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        return {"status": "not_estimable", "n": n, "minimum": minimum, "reason": NOT_ESTIMABLE}
    if out.get("status") == "not_identified":
        return out | {"n": n, "minimum": minimum}
    return {"status": "ok", "n": n} | out


def _segments(scores: pd.Series, groups: pd.Series, minimum: int) -> list[dict[str, Any]]:
    """NPS per segment; segments with fewer than `minimum` answers say so instead of a figure."""
    rows = []
    for row in nps_by_segment(scores, groups).to_dict(orient="records"):
        n = int(row["n"])
        short = _short(n, minimum)
        rows.append({"segment": row["segment"]} | (short or {"status": "ok"} | row))
    return rows


def question_results(
    q: Any, answers: pd.DataFrame, responses: pd.DataFrame, min_n: int | Mapping[str, int] | None = None
) -> dict[str, Any]:
    """Result of one question (what it shows depends on its type), from the answers given.

    `survey_results` passes the answers of completed responses only. Each estimate carries `status`:
    "ok" (with `n`, the respondents it counts), or "no_answers" / "not_enough_data" (`n`, `minimum`),
    "not_identified" / "not_estimable" (`reason`, in words).
    """
    kind = q.type
    minimum = minimums(min_n).get(kind, 1)
    base: dict[str, Any] = {"question_id": q.id, "type": kind, "text": q.text, "counts": COUNTS}
    if kind in RATING_TYPES:
        values = _numbers(answers, q.id)
        result = base | _estimate(len(values), minimum, lambda: RATING_TYPES[kind]().fit(values).to_dict())
        if len(values):
            result["distribution"] = {str(k): int(v) for k, v in values.astype(int).value_counts().sort_index().items()}
        if kind == "nps" and len(values):
            waves = responses.set_index("response_id")["wave"].reindex(values.index).fillna("")
            if waves.nunique() > 1:
                result["trend"] = _segments(values, waves, minimum)
        return result
    if kind == "likert":
        rows = answers[answers["question_id"] == q.id]
        table = []
        for row in q.rows:
            v = rows.loc[rows["field"] == row.value, "value_num"].dropna()
            mean: dict[str, Any] = {"mean": float(v.mean())} if len(v) else {}
            table.append({"row": row.value, "label": row.label} | _estimate(len(v), minimum, mean.copy))
        return base | {"n": int(rows["response_id"].nunique()), "rows": table}
    if kind in ("single", "multiple"):
        rows = answers[answers["question_id"] == q.id]
        counts = (
            rows.loc[rows["field"] == "", "value"].value_counts()
            if kind == "single"
            else rows.loc[rows["value"] == "1", "field"].value_counts()
        )
        n = rows["response_id"].nunique()
        options = [{"option": o.value, "label": o.label, "count": int(counts.get(o.value, 0))} for o in q.options]
        if q.other:
            options.append({"option": "other", "label": "Other", "count": int((rows["field"] == "other").sum())})
        return base | {"n": n, "options": options}
    if kind == "ranking":
        rows = answers[answers["question_id"] == q.id]
        mean_rank = rows.groupby("field")["value_num"].mean()

        def ranks() -> dict[str, Any]:
            return {
                "mean_rank": [
                    {"option": o.value, "label": o.label, "mean_rank": mean_rank.get(o.value)} for o in q.options
                ]
            }

        return base | _estimate(int(rows["response_id"].nunique()), minimum, ranks)
    if kind == "numeric":
        v = _numbers(answers, q.id)
        return base | _estimate(len(v), minimum, lambda: {"mean": float(v.mean()), "median": float(v.median())})
    if kind == "text":
        texts = _simple(answers, q.id)
        return base | {"n": len(texts), "latest": texts.tail(20).tolist()}
    if kind == "maxdiff":
        frame = maxdiff_frame(answers, q.id)
        n = int(frame["respondent"].nunique())
        return base | _estimate(n, minimum, lambda: MaxDiff(method="mnl").fit(frame).to_dict())
    if kind == "conjoint":
        frame = conjoint_frame(answers, q.id)
        n = int(frame["respondent"].nunique()) if len(frame) else 0
        fit = Conjoint(method="mnl", price_col=q.price).fit
        return base | _estimate(n, minimum, lambda: fit(frame).to_dict())
    if kind == "van_westendorp":
        frame = van_westendorp_frame(answers, q.id)
        return base | _estimate(len(frame), minimum, lambda: VanWestendorp().fit(frame).to_dict())
    return base


def rating_table(survey: Any, answers: pd.DataFrame) -> pd.DataFrame:
    """One row per response, one column per rating (nps, csat, ces, likert rows): input for key drivers."""
    cols: dict[str, pd.Series] = {}
    for q in survey.questions:
        if q.type in RATING_TYPES:
            cols[q.id] = _numbers(answers, q.id)
        elif q.type == "likert":
            rows = answers[answers["question_id"] == q.id]
            for row in q.rows:
                cols[f"{q.id}.{row.value}"] = rows.loc[rows["field"] == row.value].set_index("response_id")["value_num"]
    return pd.DataFrame(cols)


def survey_results(
    survey: Any,
    responses: pd.DataFrame,
    answers: pd.DataFrame,
    invited: int = 0,
    *,
    min_n: int | Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Everything the results page and `heedful survey results --json` show.

    `responses` counts every response started; `completed` those finished and `partial` the rest.
    Every estimate counts completed responses only (`counts`), and is shown only from its kind's
    minimum number of respondents (`minimum`; see MINIMUM_RESPONDENTS).
    """
    limits = minimums(min_n)
    done = responses["completed_at"].notna() if len(responses) else pd.Series([], dtype=bool)
    completed = int(done.sum())
    finished = responses[done] if len(responses) else responses
    answers = answers[answers["response_id"].isin(set(finished["response_id"]))] if len(answers) else answers
    result: dict[str, Any] = {
        "slug": survey.slug,
        "title": survey.title,
        "responses": len(responses),
        "completed": completed,
        "partial": len(responses) - completed,
        "counts": COUNTS,
        "minimum": limits,
        "invited": invited,
        "response_rate": completed / invited if invited else None,
        "completion_rate": completed / len(responses) if len(responses) else None,
        "questions": [question_results(q, answers, finished, limits) for q in survey.questions],
    }
    nps_q = next((q for q in survey.questions if q.type == "nps"), None)
    if nps_q is not None:
        scores = _numbers(answers, nps_q.id)
        crosstabs: dict[str, Any] = {}
        segments = finished.set_index("response_id")
        for column in ("customer_kind", "customer_country"):
            if column in segments and segments[column].notna().any():
                crosstabs[column] = _segments(scores, segments[column].reindex(scores.index), limits["nps"])
        for q in survey.questions:
            if q.type == "single":
                crosstabs[q.id] = _segments(scores, _simple(answers, q.id).reindex(scores.index), limits["nps"])
        result["nps_crosstabs"] = crosstabs
        table = rating_table(survey, answers)
        drivers = [c for c in table.columns if c != nps_q.id]
        if drivers:
            n = len(table.apply(pd.to_numeric, errors="coerce").dropna())
            result["key_drivers"] = {"counts": COUNTS} | _estimate(
                n,
                limits["key_drivers"],
                lambda: KeyDrivers(n_bootstrap=100).fit(table, outcome=nps_q.id, drivers=drivers).to_dict(),
            )
    return result


def open_text_feedback(survey: Any, responses: pd.DataFrame, answers: pd.DataFrame) -> pd.DataFrame:
    """Open-text answers as rows of the `feedback` table, so listening classifies them like any review."""
    text_ids = [q.id for q in survey.questions if q.type == "text"]
    rows = answers[answers["question_id"].isin(text_ids) & (answers["field"] == "")]
    meta = responses.set_index("response_id")
    out = pd.DataFrame(
        {
            "feedback_id": "survey:" + survey.slug + ":" + rows["response_id"] + ":" + rows["question_id"],
            "external_id": rows["response_id"] + ":" + rows["question_id"],
            "channel": "survey",
            "customer_id": meta["customer_id"].reindex(rows["response_id"]).to_numpy(),
            "author_kind": "staff"
            if survey.audience == "staff"
            else ("partner" if survey.audience == "partner" else "customer"),
            "title": survey.title,
            "text": rows["value"].to_numpy(),
            "created_at": pd.to_datetime(meta["started_at"].reindex(rows["response_id"]).to_numpy()),
            "source": f"survey:{survey.slug}",
        }
    )
    return out.reset_index(drop=True)
