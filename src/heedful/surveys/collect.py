"""Collecting answers, as pure logic: validate a page submission, and find the next page under skip logic.

Form field names (plain HTML forms, no JavaScript needed): a simple question `q` posts `q`; a Likert
row posts `q.<row>`; "other" text posts `q.other`; a ranking posts `q.<option>` = rank; a MaxDiff task
posts `q.t<n>.best` / `q.t<n>.worst`; a conjoint task posts `q.t<n>` = alternative number; Van
Westendorp posts `q.too_cheap`, `q.cheap`, `q.expensive`, `q.too_expensive`.

Answers come out as `Answer` rows, one per answered field, exactly as the `answers` table stores them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from heedful.surveys.definition import Condition, Page, SurveyDefinition

OTHER = "__other__"
VW_FIELDS = ("too_cheap", "cheap", "expensive", "too_expensive")
VW_LABELS = {
    "too_cheap": "At what price would {p} be so cheap that you would doubt its quality?",
    "cheap": "At what price would {p} be a bargain — a great buy for the money?",
    "expensive": "At what price would {p} start to seem expensive, though you would still consider it?",
    "too_expensive": "At what price would {p} be so expensive that you would not consider it?",
}
SCALE_RANGES = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True)
class Answer:
    """One answered field: the row the `answers` table stores."""

    question_id: str
    field: str
    value: str
    value_num: float | None = None


@dataclass
class PageResult:
    answers: list[Answer] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


Form = Mapping[str, Sequence[str]]


def _first(form: Form, name: str) -> str:
    values = form.get(name) or []
    return str(values[0]).strip() if values else ""


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


# ------------------------------------------------------------------------ per-respondent designs
def design_version(response_id: str, versions: int) -> int:
    """The design version a respondent sees: stable for the response, spread evenly over versions."""
    digest = hashlib.sha256(response_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % versions + 1


def _seed(question_id: str) -> int:
    return int.from_bytes(hashlib.sha256(question_id.encode()).digest()[:4], "big")


@lru_cache(maxsize=64)
def _maxdiff_tasks(question_json: str) -> dict[int, list[list[str]]]:
    from heedful.surveys.maxdiff import maxdiff_design

    q = json.loads(question_json)
    items = [o["value"] for o in q["items"]]
    design = maxdiff_design(len(items), q["items_per_task"], q["tasks"], q["versions"], seed=_seed(q["id"]))
    out: dict[int, list[list[str]]] = {}
    for (version, _task), group in design.groupby(["version", "task"], sort=True):
        out.setdefault(int(version), []).append([items[i] for i in group.sort_values("position")["item"]])
    return out


def maxdiff_tasks(question: Any, response_id: str) -> list[list[str]]:
    """The MaxDiff tasks (item values per task) this respondent sees."""
    tasks = _maxdiff_tasks(question.model_dump_json())
    return tasks[design_version(response_id, question.versions)]


@lru_cache(maxsize=64)
def _conjoint_tasks(question_json: str) -> dict[int, list[list[dict[str, Any]]]]:
    from heedful.surveys.conjoint import cbc_design

    q = json.loads(question_json)
    design = cbc_design(q["attributes"], q["alternatives"], q["tasks"], q["versions"], seed=_seed(q["id"]))
    out: dict[int, list[list[dict[str, Any]]]] = {}
    for (version, _task), group in design.groupby(["version", "task"], sort=True):
        profiles = group.sort_values("alternative")[list(q["attributes"])].to_dict(orient="records")
        out.setdefault(int(version), []).append(profiles)
    return out


def conjoint_tasks(question: Any, response_id: str) -> list[list[dict[str, Any]]]:
    """The conjoint tasks (a list of alternative profiles per task) this respondent sees."""
    tasks = _conjoint_tasks(question.model_dump_json())
    return tasks[design_version(response_id, question.versions)]


# ------------------------------------------------------------------------------ validation
def validate_page(
    survey: SurveyDefinition, page: Page, form: Form, response_id: str, known: dict[str, list[str]]
) -> PageResult:
    """Check every visible question of a page; answers for the valid ones, a message for the others."""
    result = PageResult()
    for q in visible_questions(page, known):
        try:
            answers = _validate_question(q, form, response_id)
        except ValueError as exc:
            result.errors[q.id] = str(exc)
            continue
        if not answers and q.required:
            result.errors[q.id] = "Please answer this question."
            continue
        result.answers.extend(answers)
    return result


def _scale(q: Any, form: Form) -> list[Answer]:
    text = _first(form, q.id)
    if not text:
        return []
    low, high = SCALE_RANGES[q.type]
    value = _number(text)
    if value is None or value != int(value) or not low <= value <= high:
        raise ValueError(f"Choose a number from {low} to {high}.")
    return [Answer(q.id, "", str(int(value)), value)]


def _validate_question(q: Any, form: Form, response_id: str) -> list[Answer]:
    kind = q.type
    if kind in SCALE_RANGES:
        return _scale(q, form)
    if kind == "likert":
        out = []
        missing = []
        for row in q.rows:
            text = _first(form, f"{q.id}.{row.value}")
            if not text:
                missing.append(row.label)
                continue
            value = _number(text)
            if value is None or not 1 <= value <= len(q.scale):
                raise ValueError(f"Choose one point of the scale for “{row.label}”.")
            out.append(Answer(q.id, row.value, str(int(value)), value))
        if out and missing and q.required:
            raise ValueError(f"Please rate every row; missing: {', '.join(missing)}.")
        return out
    if kind == "single":
        text = _first(form, q.id)
        if not text:
            return []
        values = {o.value for o in q.options}
        if text == OTHER and q.other:
            other = _first(form, f"{q.id}.other")
            if not other:
                raise ValueError("Please say what “Other” is.")
            return [Answer(q.id, "", "other"), Answer(q.id, "other", other[:1000])]
        if text not in values:
            raise ValueError("Choose one of the options.")
        return [Answer(q.id, "", text)]
    if kind == "multiple":
        picked = [str(v) for v in form.get(q.id) or [] if str(v)]
        values = {o.value for o in q.options}
        out = []
        for v in dict.fromkeys(picked):
            if v == OTHER and q.other:
                other = _first(form, f"{q.id}.other")
                if not other:
                    raise ValueError("Please say what “Other” is.")
                out.append(Answer(q.id, "other", other[:1000]))
            elif v in values:
                out.append(Answer(q.id, v, "1", 1.0))
            else:
                raise ValueError("Choose among the options.")
        if q.max_choices is not None and len(out) > q.max_choices:
            raise ValueError(f"Choose at most {q.max_choices}.")
        return out
    if kind == "ranking":
        ranks = {o.value: _first(form, f"{q.id}.{o.value}") for o in q.options}
        if not any(ranks.values()):
            return []
        numbers = {k: _number(v) for k, v in ranks.items()}
        expected = set(range(1, len(q.options) + 1))
        if any(v is None for v in numbers.values()) or {int(v) for v in numbers.values() if v is not None} != expected:
            raise ValueError(f"Give each option a different rank from 1 to {len(q.options)}.")
        return [Answer(q.id, k, str(int(v)), v) for k, v in numbers.items() if v is not None]
    if kind == "numeric":
        text = _first(form, q.id)
        if not text:
            return []
        value = _number(text)
        if value is None:
            raise ValueError("Enter a number.")
        if q.integer and value != int(value):
            raise ValueError("Enter a whole number.")
        if q.min is not None and value < q.min:
            raise ValueError(f"Enter {q.min:g} or more.")
        if q.max is not None and value > q.max:
            raise ValueError(f"Enter {q.max:g} or less.")
        return [Answer(q.id, "", f"{value:g}", value)]
    if kind == "text":
        text = _first(form, q.id)
        if len(text) > q.max_length:
            raise ValueError(f"Please keep it under {q.max_length} characters.")
        return [Answer(q.id, "", text)] if text else []
    if kind == "maxdiff":
        return _maxdiff(q, form, response_id)
    if kind == "conjoint":
        return _conjoint(q, form, response_id)
    if kind == "van_westendorp":
        return _van_westendorp(q, form)
    raise ValueError(f"Unknown question type {kind}.")  # pragma: no cover - the definition forbids it


def _maxdiff(q: Any, form: Form, response_id: str) -> list[Answer]:
    out: list[Answer] = []
    tasks = maxdiff_tasks(q, response_id)
    for t, shown in enumerate(tasks, start=1):
        best, worst = _first(form, f"{q.id}.t{t}.best"), _first(form, f"{q.id}.t{t}.worst")
        if not best and not worst:
            continue
        if best not in shown or worst not in shown:
            raise ValueError(f"In set {t}, choose one “{q.best_label}” and one “{q.worst_label}”.")
        if best == worst:
            raise ValueError(f"In set {t}, the same item cannot be both most and least.")
        out += [
            Answer(q.id, f"t{t}.shown", "|".join(shown)),
            Answer(q.id, f"t{t}.best", best),
            Answer(q.id, f"t{t}.worst", worst),
        ]
    if out and len(out) < 3 * len(tasks) and q.required:
        raise ValueError("Please answer every set.")
    return out


def _conjoint(q: Any, form: Form, response_id: str) -> list[Answer]:
    out: list[Answer] = []
    tasks = conjoint_tasks(q, response_id)
    for t, profiles in enumerate(tasks, start=1):
        text = _first(form, f"{q.id}.t{t}")
        if not text:
            continue
        value = _number(text)
        if value is None or not 1 <= value <= len(profiles) or value != int(value):
            raise ValueError(f"In choice {t}, pick one of the options.")
        out += [
            Answer(q.id, f"t{t}.design", json.dumps(profiles, default=str)),
            Answer(q.id, f"t{t}", str(int(value)), value),
        ]
    if out and len(out) < 2 * len(tasks) and q.required:
        raise ValueError("Please make every choice.")
    return out


def _van_westendorp(q: Any, form: Form) -> list[Answer]:
    texts = {f: _first(form, f"{q.id}.{f}") for f in VW_FIELDS}
    if not any(texts.values()):
        return []
    values = {f: _number(t) for f, t in texts.items()}
    if any(v is None or v < 0 for v in values.values()):
        raise ValueError("Enter a price (a number, 0 or more) for each of the four questions.")
    ordered = [values[f] or 0.0 for f in VW_FIELDS]
    if ordered != sorted(ordered):
        raise ValueError("The four prices should rise from “too cheap” to “too expensive”.")
    return [Answer(q.id, f, f"{v:g}", v) for f, v in zip(VW_FIELDS, ordered, strict=True)]


# ---------------------------------------------------------------------------- skip logic
def known_values(answers: Sequence[Answer] | Sequence[tuple[str, str, str]]) -> dict[str, list[str]]:
    """Answers by question, for conditions: simple questions give [value], multiple choice the options picked."""
    out: dict[str, list[str]] = {}
    for a in answers:
        qid, fld, value = (a.question_id, a.field, a.value) if isinstance(a, Answer) else a
        if fld == "":
            out.setdefault(qid, []).append(value)
        elif value == "1" or fld == "other":
            out.setdefault(qid, []).append(fld)
    return out


def condition_holds(cond: Condition, known: dict[str, list[str]]) -> bool:
    values = known.get(cond.question, [])
    numbers = [n for n in (_number(v) for v in values) if n is not None]
    if cond.answered is not None:
        return bool(values) == cond.answered
    if cond.equals is not None:
        return any(_same(v, cond.equals) for v in values)
    if cond.not_equals is not None:
        return bool(values) and not any(_same(v, cond.not_equals) for v in values)
    if cond.less_than is not None:
        return bool(numbers) and numbers[0] < cond.less_than
    if cond.more_than is not None:
        return bool(numbers) and numbers[0] > cond.more_than
    if cond.in_ is not None:
        return any(_same(v, c) for v in values for c in cond.in_)
    return False


def _same(value: str, expected: str | float) -> bool:
    if isinstance(expected, int | float):
        number = _number(value)
        return number is not None and number == float(expected)
    return value == expected


def visible_questions(page: Page, known: dict[str, list[str]]) -> list[Any]:
    return [q for q in page.questions if q.show_if is None or condition_holds(q.show_if, known)]


def next_page(survey: SurveyDefinition, current: int, known: dict[str, list[str]]) -> int | None:
    """Index of the page after page `current` given the answers so far; None when the survey is done."""
    page = survey.pages[current]
    ids = [p.id for p in survey.pages]
    for rule in page.next:
        if condition_holds(rule.if_, known):
            if rule.goto == "end":
                return None
            return _first_visible(survey, ids.index(rule.goto), known)
    return _first_visible(survey, current + 1, known)


def _first_visible(survey: SurveyDefinition, start: int, known: dict[str, list[str]]) -> int | None:
    for index in range(start, len(survey.pages)):
        page = survey.pages[index]
        if (page.show_if is None or condition_holds(page.show_if, known)) and visible_questions(page, known):
            return index
    return None


def progress(survey: SurveyDefinition, current: int) -> tuple[int, int]:
    """(page number, number of pages) for the progress indicator."""
    return current + 1, len(survey.pages)
