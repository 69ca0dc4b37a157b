"""Survey results from stored answers (long format): rates, NPS/CSAT/CES, cross-tabs, drivers, trade-offs.

Pure: takes the survey definition and the responses / answers tables, returns plain dicts and
DataFrames. Trade-off questions are estimated by aggregate MNL here (fast enough for a page);
`heedful survey maxdiff/conjoint --method hb` gives individual utilities.
"""

from __future__ import annotations

import json
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


def _fit_or_note(fn: Any) -> dict[str, Any]:
    try:
        out: dict[str, Any] = fn()
        return out
    except (HeedfulError, np.linalg.LinAlgError, ValueError) as exc:
        return {"note": f"not enough answers to estimate: {exc}"}


def question_results(q: Any, answers: pd.DataFrame, responses: pd.DataFrame) -> dict[str, Any]:
    """Result of one question (what it shows depends on its type)."""
    kind = q.type
    base: dict[str, Any] = {"question_id": q.id, "type": kind, "text": q.text}
    if kind in RATING_TYPES:
        values = _numbers(answers, q.id)
        if values.empty:
            return base | {"n": 0}
        result = base | RATING_TYPES[kind]().fit(values).to_dict()
        if kind == "nps":
            waves = responses.set_index("response_id")["wave"].reindex(values.index).fillna("")
            if waves.nunique() > 1:
                result["trend"] = nps_by_segment(values, waves).to_dict(orient="records")
            result["distribution"] = {str(k): int(v) for k, v in values.astype(int).value_counts().sort_index().items()}
        return result
    if kind == "likert":
        rows = answers[answers["question_id"] == q.id]
        table = []
        for row in q.rows:
            v = rows.loc[rows["field"] == row.value, "value_num"].dropna()
            table.append(
                {"row": row.value, "label": row.label, "n": len(v), "mean": float(v.mean()) if len(v) else None}
            )
        return base | {"rows": table}
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
        return base | {
            "mean_rank": [{"option": o.value, "label": o.label, "mean_rank": mean_rank.get(o.value)} for o in q.options]
        }
    if kind == "numeric":
        v = _numbers(answers, q.id)
        return base | {
            "n": len(v),
            "mean": float(v.mean()) if len(v) else None,
            "median": float(v.median()) if len(v) else None,
        }
    if kind == "text":
        texts = _simple(answers, q.id)
        return base | {"n": len(texts), "latest": texts.tail(20).tolist()}
    if kind == "maxdiff":
        frame = maxdiff_frame(answers, q.id)
        return base | _fit_or_note(lambda: MaxDiff(method="mnl").fit(frame).to_dict())
    if kind == "conjoint":
        frame = conjoint_frame(answers, q.id)
        return base | _fit_or_note(lambda: Conjoint(method="mnl", price_col=q.price).fit(frame).to_dict())
    if kind == "van_westendorp":
        frame = van_westendorp_frame(answers, q.id)
        return base | _fit_or_note(lambda: VanWestendorp().fit(frame).to_dict())
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


def survey_results(survey: Any, responses: pd.DataFrame, answers: pd.DataFrame, invited: int = 0) -> dict[str, Any]:
    """Everything the results page and `heedful survey results --json` show."""
    completed = int(responses["completed_at"].notna().sum()) if len(responses) else 0
    result: dict[str, Any] = {
        "slug": survey.slug,
        "title": survey.title,
        "responses": len(responses),
        "completed": completed,
        "invited": invited,
        "response_rate": completed / invited if invited else None,
        "completion_rate": completed / len(responses) if len(responses) else None,
        "questions": [question_results(q, answers, responses) for q in survey.questions],
    }
    nps_q = next((q for q in survey.questions if q.type == "nps"), None)
    if nps_q is not None:
        scores = _numbers(answers, nps_q.id)
        crosstabs: dict[str, Any] = {}
        segments = responses.set_index("response_id")
        for column in ("customer_kind", "customer_country"):
            if column in segments and segments[column].notna().any():
                crosstabs[column] = nps_by_segment(scores, segments[column].reindex(scores.index)).to_dict(
                    orient="records"
                )
        for q in survey.questions:
            if q.type == "single":
                crosstabs[q.id] = nps_by_segment(scores, _simple(answers, q.id).reindex(scores.index)).to_dict(
                    orient="records"
                )
        result["nps_crosstabs"] = crosstabs
        table = rating_table(survey, answers)
        drivers = [c for c in table.columns if c != nps_q.id]
        if drivers:
            result["key_drivers"] = _fit_or_note(
                lambda: KeyDrivers(n_bootstrap=100).fit(table, outcome=nps_q.id, drivers=drivers).to_dict()
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
