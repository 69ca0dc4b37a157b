"""Import survey responses exported as CSV from SurveyMonkey, Typeform and Google Forms.

Each export becomes responses and answers (one row per answered field). When the survey slug is not
stored yet, a definition is inferred from the columns (0-10 "recommend" questions become NPS,
checkbox groups multiple choice, few distinct values single choice, numbers numeric, the rest open
text) and stored; when it exists, columns are matched to its questions by their text. Response ids
are derived from the export's own respondent ids, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from heedful.errors import InputError, NotFoundError
from heedful.store.backend import Store
from heedful.store.surveys_repo import import_responses, latest_definition, save_definition
from heedful.surveys.definition import SurveyDefinition, survey_from_json, survey_to_json

FORMATS = ("surveymonkey", "typeform", "google-forms")


@dataclass
class Column:
    """One question of the export: its text, and the CSV columns holding it (sub-label -> values)."""

    text: str
    parts: dict[str, pd.Series] = field(default_factory=dict)


@dataclass
class Export:
    respondent: pd.Series
    started: pd.Series
    completed: pd.Series
    email: pd.Series
    questions: list[Column]


def _read(path: Path, header: Any) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=header, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path.name}: cannot read as CSV: {exc}") from exc


def _blank(n: int) -> pd.Series:
    return pd.Series([""] * n)


def parse_surveymonkey(path: Path) -> Export:
    raw = _read(path, header=None)
    if len(raw) < 2:
        raise InputError(f"{path.name}: a SurveyMonkey export has two header rows; this file is too short.")
    top, sub, body = raw.iloc[0].tolist(), raw.iloc[1].tolist(), raw.iloc[2:].reset_index(drop=True)
    meta = {
        "respondent id",
        "collector id",
        "start date",
        "end date",
        "ip address",
        "email address",
        "first name",
        "last name",
    }
    columns: list[Column] = []
    found: dict[str, int] = {}
    current: Column | None = None
    for i, (head, label) in enumerate(zip(top, sub, strict=True)):
        head, label = str(head).strip(), str(label).strip()
        if head.lower() in meta or head.lower().startswith("custom data"):
            found[head.lower()] = i
            current = None
            continue
        if head:
            current = Column(head)
            columns.append(current)
        if current is None:
            continue
        if label in ("Response", "Open-Ended Response") or label.lower().startswith("other"):
            label = ""
        current.parts[label] = body[i]
    if "respondent id" not in found:
        raise InputError(
            f"{path.name}: no 'Respondent ID' column; is this a SurveyMonkey export (format 'surveymonkey')?"
        )
    n = len(body)
    get = lambda key: body[found[key]] if key in found else _blank(n)  # noqa: E731
    return Export(get("respondent id"), get("start date"), get("end date"), get("email address"), columns)


def parse_typeform(path: Path) -> Export:
    frame = _read(path, header=0)
    lower = {c.lower(): c for c in frame.columns}
    rid = lower.get("#") or lower.get("token") or lower.get("response id")
    if rid is None:
        raise InputError(f"{path.name}: no '#' (response id) column; is this a Typeform export (format 'typeform')?")
    meta = {
        rid,
        lower.get("start date (utc)"),
        lower.get("submit date (utc)"),
        lower.get("network id"),
        lower.get("stage date (utc)"),
        lower.get("tags"),
        lower.get("response type"),
        lower.get("ending"),
    }
    n = len(frame)
    columns = [Column(c, {"": frame[c]}) for c in frame.columns if c not in meta]
    email = next((frame[c] for c in frame.columns if "email" in c.lower()), _blank(n))
    return Export(
        frame[rid],
        frame[lower["start date (utc)"]] if "start date (utc)" in lower else _blank(n),
        frame[lower["submit date (utc)"]] if "submit date (utc)" in lower else _blank(n),
        email,
        columns,
    )


def parse_google_forms(path: Path) -> Export:
    frame = _read(path, header=0)
    if "Timestamp" not in frame.columns:
        raise InputError(f"{path.name}: no 'Timestamp' column; is this a Google Forms export (format 'google-forms')?")
    n = len(frame)
    email_col = next((c for c in frame.columns if c.lower() in ("email address", "email")), None)
    columns: list[Column] = []
    grids: dict[str, Column] = {}
    for c in frame.columns:
        if c in ("Timestamp", email_col):
            continue
        grid = re.match(r"^(.*) \[(.+)\]$", c)
        if grid:  # a grid (Likert) question: "Question [Row]"
            col = grids.get(grid.group(1))
            if col is None:
                col = grids[grid.group(1)] = Column(grid.group(1))
                columns.append(col)
            col.parts[grid.group(2)] = frame[c]
        else:
            columns.append(Column(c, {"": frame[c]}))
    # Google Forms has no respondent id: the row's timestamp and content identify it
    key = frame.apply(lambda r: hashlib.sha256("\x1f".join(r.astype(str)).encode()).hexdigest()[:16], axis=1)
    return Export(key, frame["Timestamp"], frame["Timestamp"], frame[email_col] if email_col else _blank(n), columns)


PARSERS = {"surveymonkey": parse_surveymonkey, "typeform": parse_typeform, "google-forms": parse_google_forms}


def _qid(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40].strip("_") or "q"
    if not base[0].isalpha():
        base = "q_" + base
    qid, k = base, 2
    while qid in taken:
        qid, k = f"{base}_{k}", k + 1
    taken.add(qid)
    return qid


def _split_multi(value: str, fmt: str) -> list[str]:
    return [v.strip() for v in value.split(";" if fmt == "google-forms" and ";" in value else ",") if v.strip()]


def infer_definition(export: Export, slug: str, title: str, fmt: str) -> SurveyDefinition:
    """A definition for an export: one page, every question optional, types guessed from the answers."""
    taken: set[str] = set()
    questions: list[dict[str, Any]] = []
    for col in export.questions:
        qid = _qid(col.text, taken)
        q: dict[str, Any] = {"id": qid, "text": col.text, "required": False}
        if len(col.parts) > 1 and fmt == "google-forms":
            q |= {"type": "likert", "rows": list(col.parts)}
            scale = sorted({v for s in col.parts.values() for v in s if v})
            q["scale"] = scale or ["1", "2", "3", "4", "5"]
        elif len(col.parts) > 1:
            q |= {"type": "multiple", "options": [p for p in col.parts if p], "other": "" in col.parts}
        else:
            values = next(iter(col.parts.values()))
            filled = values[values != ""]
            numbers = pd.to_numeric(filled, errors="coerce")
            parts = sorted({v for value in filled for v in _split_multi(value, fmt)})
            if fmt == "google-forms" and filled.str.contains(",").any() and 2 <= len(parts) <= 15:
                q |= {"type": "multiple", "options": parts}
            elif len(filled) and numbers.notna().all():
                if "recommend" in col.text.lower() and numbers.between(0, 10).all():
                    q["type"] = "nps"
                else:
                    q |= {"type": "numeric"}
            elif len(filled) and filled.nunique() <= 12 and filled.nunique() < max(3, len(filled) // 2):
                opts = sorted(filled.unique())
                q |= {"type": "single", "options": opts if len(opts) >= 2 else [*opts, "(none)"]}
            else:
                q["type"] = "text"
        questions.append(q)
    if not questions:
        raise InputError("The export has no question columns.")
    data = {"slug": slug, "title": title, "audience": "customer", "pages": [{"id": "imported", "questions": questions}]}
    return SurveyDefinition.model_validate(data)


def _answers_for(q: Any, col: Column, row: int, fmt: str) -> list[tuple[str, str, float | None]]:
    """(field, value, value_num) rows for one respondent and question."""
    kind = q.type
    if kind == "multiple":
        out: list[tuple[str, str, float | None]] = []
        by_label = {o.label: o.value for o in q.options}
        if len(col.parts) > 1:
            for label, series in col.parts.items():
                value = str(series.iloc[row]).strip()
                if value:
                    out.append(("other", value, None) if label == "" else (by_label.get(label, label), "1", 1.0))
        else:
            for value in _split_multi(str(next(iter(col.parts.values())).iloc[row]), fmt):
                out.append((by_label[value], "1", 1.0) if value in by_label else ("other", value, None))
        return out
    if kind == "likert":
        scale = {label: i + 1 for i, label in enumerate(q.scale)}
        rows = {o.label: o.value for o in q.rows}
        out = []
        for label, series in col.parts.items():
            value = str(series.iloc[row]).strip()
            if value and label in rows:
                out.append((rows[label], str(scale.get(value, value)), float(scale[value]) if value in scale else None))
        return out
    value = str(next(iter(col.parts.values())).iloc[row]).strip()
    if not value:
        return []
    if kind == "single":
        by_label = {o.label: o.value for o in q.options}
        return [("", by_label[value], None)] if value in by_label else [("", "other", None), ("other", value, None)]
    number = pd.to_numeric(value, errors="coerce")
    return [("", value, None if pd.isna(number) else float(number))]


def _when(value: Any) -> datetime | None:
    ts = pd.to_datetime(str(value), errors="coerce", utc=True)
    return None if pd.isna(ts) else ts.tz_convert(None).to_pydatetime()


def import_survey_file(store: Store, path: Path, fmt: str, slug: str, title: str | None = None) -> dict[str, Any]:
    """Import one export; returns counts. Re-importing the same file adds nothing."""
    if fmt not in PARSERS:
        raise InputError(f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.")
    export = PARSERS[fmt](path)
    try:
        survey = survey_from_json(latest_definition(store, slug)[1])
    except NotFoundError:
        survey = infer_definition(export, slug, title or path.stem, fmt)
    info = save_definition(store, survey_to_json(survey))
    by_text = {q.text.strip().lower(): q for q in survey.questions}
    unmatched = [c.text for c in export.questions if c.text.strip().lower() not in by_text]
    if unmatched:
        raise InputError(f"Columns not in survey {slug!r}: {unmatched[:5]}; import into a new slug instead.")
    now = datetime.now(UTC).replace(tzinfo=None)
    import_id = uuid.uuid4().hex
    emails = export.email.str.strip().str.lower()
    known = store.query("SELECT customer_id, LOWER(email) AS email FROM customers WHERE email IS NOT NULL")
    customer_by_email = dict(zip(known["email"], known["customer_id"], strict=True))
    responses, answers = [], []
    for i in range(len(export.respondent)):
        rid = f"{fmt}:{slug}:{export.respondent.iloc[i]}"
        started = _when(export.started.iloc[i]) or now
        responses.append(
            {
                "response_id": rid,
                "survey_id": info["survey_id"],
                "slug": slug,
                "customer_id": customer_by_email.get(emails.iloc[i]),
                "started_at": started,
                "completed_at": _when(export.completed.iloc[i]) or started,
                "wave": survey.wave,
                "source": fmt,
                "source_file": path.name,
                "source_line": i + (3 if fmt == "surveymonkey" else 2),
                "import_id": import_id,
            }
        )
        for col in export.questions:
            q = by_text[col.text.strip().lower()]
            for fld, value, num in _answers_for(q, col, i, fmt):
                answers.append(
                    {
                        "response_id": rid,
                        "question_id": q.id,
                        "field": fld,
                        "value": value,
                        "value_num": num,
                        "idempotency_key": f"import:{rid}",
                        "answered_at": started,
                    }
                )
    added_r, added_a = import_responses(store, pd.DataFrame(responses), pd.DataFrame(answers))
    store.execute(
        "INSERT INTO imports (import_id, entity, preset, source_file, file_hash, started_at, finished_at, accepted, rejected, duplicates, status) "
        "VALUES (?, 'responses', ?, ?, ?, ?, ?, ?, 0, ?, 'done')",
        [
            import_id,
            fmt,
            path.name,
            hashlib.sha256(path.read_bytes()).hexdigest(),
            now,
            datetime.now(UTC).replace(tzinfo=None),
            added_r,
            len(responses) - added_r,
        ],
    )
    return {
        "import_id": import_id,
        "slug": slug,
        "survey_id": info["survey_id"],
        "responses": len(responses),
        "accepted": added_r,
        "duplicates": len(responses) - added_r,
        "answers": added_a,
        "questions": [{"id": q.id, "type": q.type, "text": q.text} for q in survey.questions],
    }
