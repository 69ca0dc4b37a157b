"""The survey builder's form: a survey as flat form fields and back, without writing YAML.

`form_of(survey)` turns a `SurveyDefinition` into a `SurveyForm` (what the builder page shows);
`read_form(fields)` reads the posted fields back; `apply(form, action)` adds, removes and moves
pages and questions; `build(form)` makes the `SurveyDefinition` (the same model YAML is parsed
into) or raises `BuilderErrors` with a message per form field, in words. Pure: no store, no I/O.

Field names: survey fields by name (`slug`, `title`, …); page i as `p{i}.id`, `p{i}.title`,
`p{i}.show_if.*`, `p{i}.next{k}.*`; question j (in survey order) as `q{j}.page`, `q{j}.id`,
`q{j}.type`, `q{j}.text`, `q{j}.help`, `q{j}.required`, `q{j}.show_if.*` and its type's own
settings as `q{j}.x.<name>`. A condition is `.question`, `.test` and `.value`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from heedful.surveys import definition as model
from heedful.surveys.definition import QUESTION_TYPES, Condition, SurveyDefinition, survey_to_json

TYPE_LABELS: dict[str, str] = {
    "nps": "Would recommend (NPS, 0–10)",
    "csat": "Satisfaction (CSAT, 1–5)",
    "ces": "Effort (CES, 1–7)",
    "likert": "Agreement grid (rows × scale)",
    "single": "Single choice",
    "multiple": "Multiple choice",
    "ranking": "Ranking",
    "numeric": "Number",
    "text": "Open text",
    "maxdiff": "Most and least important (MaxDiff)",
    "conjoint": "Choice between offers (conjoint)",
    "van_westendorp": "Price sensitivity (Van Westendorp)",
}
AUDIENCES = {
    "customer": "Customers",
    "prospect": "Prospects",
    "staff": "Staff",
    "partner": "Partners",
    "anonymous": "Anyone (anonymous)",
}
# test -> (label, takes a value)
TESTS: dict[str, tuple[str, bool]] = {
    "equals": ("is", True),
    "not_equals": ("is not", True),
    "less_than": ("is less than", True),
    "more_than": ("is more than", True),
    "in": ("is one of (comma-separated)", True),
    "answered": ("was answered", False),
    "not_answered": ("was not answered", False),
}


@dataclass(frozen=True)
class Extra:
    """A type's own setting: its model field name, how it is edited, and its label."""

    name: str
    kind: str  # text | lines | options | int | float | bool | attributes
    label: str


_OPTIONS_HINT = "one per line; write “value | Label” to keep a stored value"
EXTRAS: dict[str, tuple[Extra, ...]] = {
    "nps": (Extra("low_label", "text", "Label of 0"), Extra("high_label", "text", "Label of 10")),
    "csat": (Extra("labels", "lines", "Labels of 1 to 5, one per line"),),
    "ces": (Extra("labels", "lines", "Labels of 1 to 7, one per line"),),
    "likert": (
        Extra("rows", "options", f"Statements ({_OPTIONS_HINT})"),
        Extra("scale", "lines", "Scale, one point per line"),
    ),
    "single": (Extra("options", "options", f"Options ({_OPTIONS_HINT})"), Extra("other", "bool", "Offer “Other”")),
    "multiple": (
        Extra("options", "options", f"Options ({_OPTIONS_HINT})"),
        Extra("other", "bool", "Offer “Other”"),
        Extra("max_choices", "int", "At most this many choices (empty: no limit)"),
    ),
    "ranking": (Extra("options", "options", f"Options to rank ({_OPTIONS_HINT})"),),
    "numeric": (
        Extra("min", "float", "Smallest allowed"),
        Extra("max", "float", "Largest allowed"),
        Extra("integer", "bool", "Whole numbers only"),
        Extra("unit", "text", "Unit shown after the box"),
    ),
    "text": (Extra("multiline", "bool", "Several lines"), Extra("max_length", "int", "Longest answer (characters)")),
    "maxdiff": (
        Extra("items", "options", f"Items ({_OPTIONS_HINT})"),
        Extra("items_per_task", "int", "Items per set"),
        Extra("tasks", "int", "Sets per respondent"),
        Extra("versions", "int", "Design versions"),
        Extra("best_label", "text", "Label for the best"),
        Extra("worst_label", "text", "Label for the worst"),
    ),
    "conjoint": (
        Extra("attributes", "attributes", "Attributes, one per line: “name: level, level, …”"),
        Extra("price", "text", "Attribute that is the price (empty: none)"),
        Extra("alternatives", "int", "Offers per choice"),
        Extra("tasks", "int", "Choices per respondent"),
        Extra("versions", "int", "Design versions"),
        Extra("currency", "text", "Currency"),
    ),
    "van_westendorp": (Extra("currency", "text", "Currency"), Extra("product", "text", "What is priced")),
}
_COMMON = ("id", "text", "help", "required", "show_if", "type")
_MODELS: dict[str, Any] = {
    "nps": model.NPSQuestion,
    "csat": model.CSATQuestion,
    "ces": model.CESQuestion,
    "likert": model.LikertQuestion,
    "single": model.SingleQuestion,
    "multiple": model.MultipleQuestion,
    "ranking": model.RankingQuestion,
    "numeric": model.NumericQuestion,
    "text": model.TextQuestion,
    "maxdiff": model.MaxDiffQuestion,
    "conjoint": model.ConjointQuestion,
    "van_westendorp": model.VanWestendorpQuestion,
}


@dataclass
class ConditionForm:
    question: str = ""
    test: str = "equals"
    value: str = ""

    @property
    def empty(self) -> bool:
        return not self.question.strip()


@dataclass
class PageForm:
    id: str = ""
    title: str = ""
    show_if: ConditionForm = field(default_factory=ConditionForm)
    next: list[tuple[ConditionForm, str]] = field(default_factory=list)


@dataclass
class QuestionForm:
    page: int = 0
    id: str = ""
    type: str = "nps"
    text: str = ""
    help: str = ""
    required: bool = True
    show_if: ConditionForm = field(default_factory=ConditionForm)
    extras: dict[str, str] = field(default_factory=dict)


@dataclass
class SurveyForm:
    slug: str = ""
    title: str = ""
    intro: str = ""
    audience: str = "customer"
    wave: str = ""
    thank_you: str = "Thank you for your answers."
    pages: list[PageForm] = field(default_factory=list)
    questions: list[QuestionForm] = field(default_factory=list)

    def on_page(self, page: int) -> list[tuple[int, QuestionForm]]:
        """(index, question) of the questions on page `page`, in order."""
        return [(j, q) for j, q in enumerate(self.questions) if q.page == page]


class BuilderErrors(Exception):
    """The form does not make a valid survey: messages by field name, and those about the whole survey."""

    def __init__(self, fields: dict[str, str], general: list[str]) -> None:
        super().__init__("; ".join([*fields.values(), *general]))
        self.fields = fields
        self.general = general


# ------------------------------------------------------------------------------ definition -> form
def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _slug_of(label: str) -> str:
    """The value a plain option label gets (as `definition._options` makes it)."""
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or label


def _condition_text(value: Any) -> str:
    """A condition's value as typed in the form; text that looks like a number is quoted ("3") to stay text."""
    if isinstance(value, str) and not isinstance(_number_or_text(value), str):
        return f'"{value}"'
    return _text(value)


def _condition_form(cond: Condition | None) -> ConditionForm:
    if cond is None:
        return ConditionForm()
    if cond.answered is not None:
        return ConditionForm(cond.question, "answered" if cond.answered else "not_answered", "")
    for test, value in (
        ("equals", cond.equals),
        ("not_equals", cond.not_equals),
        ("less_than", cond.less_than),
        ("more_than", cond.more_than),
    ):
        if value is not None:
            return ConditionForm(cond.question, test, _condition_text(value))
    return ConditionForm(cond.question, "in", ", ".join(_condition_text(v) for v in cond.in_ or []))


def _extra_text(extra: Extra, value: Any) -> str:
    if extra.kind == "lines":
        return "\n".join(value)
    if extra.kind == "options":
        return "\n".join(o.label if o.value == _slug_of(o.label) else f"{o.value} | {o.label}" for o in value)
    if extra.kind == "attributes":
        return "\n".join(f"{name}: {', '.join(_text(v) for v in levels)}" for name, levels in value.items())
    return _text(value)


def form_of(survey: SurveyDefinition) -> SurveyForm:
    """The builder form showing `survey`."""
    form = SurveyForm(
        survey.slug, survey.title, survey.intro, survey.audience, survey.wave or "", survey.thank_you, [], []
    )
    for i, page in enumerate(survey.pages):
        rules = [(_condition_form(rule.if_), rule.goto) for rule in page.next]
        form.pages.append(PageForm(page.id, page.title or "", _condition_form(page.show_if), rules))
        for q in page.questions:
            extras = {e.name: _extra_text(e, getattr(q, e.name)) for e in EXTRAS[q.type]}
            form.questions.append(
                QuestionForm(i, q.id, q.type, q.text, q.help or "", q.required, _condition_form(q.show_if), extras)
            )
    return form


def default_extras(kind: str) -> dict[str, str]:
    """A new question's own settings as the model's defaults give them."""
    model = _MODELS[kind]
    out: dict[str, str] = {}
    for extra in EXTRAS[kind]:
        info = model.model_fields[extra.name]
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        out[extra.name] = "" if default is None else _extra_text(extra, default)
    return out


def new_form() -> SurveyForm:
    """A blank survey: one page holding one would-recommend question."""
    question = QuestionForm(0, "nps", "nps", "How likely is it that you would recommend us to a friend or colleague?")
    question.extras = default_extras("nps")
    return SurveyForm(pages=[PageForm("page_1", "")], questions=[question])


# ------------------------------------------------------------------------------ posted fields -> form
def _condition_from(fields: Mapping[str, str], prefix: str) -> ConditionForm:
    return ConditionForm(
        fields.get(f"{prefix}.question", "").strip(),
        fields.get(f"{prefix}.test", "equals").strip() or "equals",
        fields.get(f"{prefix}.value", "").strip(),
    )


def _indices(fields: Mapping[str, str], pattern: str) -> list[int]:
    found = {int(m.group(1)) for key in fields if (m := re.fullmatch(pattern, key))}
    return sorted(found)


def read_form(fields: Mapping[str, str]) -> SurveyForm:
    """The builder form as posted (one value per field name; unchecked boxes are absent)."""
    form = SurveyForm(
        fields.get("slug", "").strip(),
        fields.get("title", "").strip(),
        fields.get("intro", "").strip(),
        fields.get("audience", "customer").strip() or "customer",
        fields.get("wave", "").strip(),
        fields.get("thank_you", "").strip(),
    )
    for i in _indices(fields, r"p(\d+)\.id"):
        rules = [
            (_condition_from(fields, f"p{i}.next{k}"), fields.get(f"p{i}.next{k}.goto", "").strip())
            for k in _indices(fields, rf"p{i}\.next(\d+)\.question")
        ]
        rules = [(c, goto) for c, goto in rules if not c.empty or goto]
        form.pages.append(
            PageForm(
                fields[f"p{i}.id"].strip(),
                fields.get(f"p{i}.title", "").strip(),
                _condition_from(fields, f"p{i}.show_if"),
                rules,
            )
        )
    for j in _indices(fields, r"q(\d+)\.id"):
        kind = fields.get(f"q{j}.type", "text")
        kind = kind if kind in EXTRAS else "text"
        try:
            page = int(fields.get(f"q{j}.page", "0"))
        except ValueError:
            page = 0
        extras = {}
        for extra in EXTRAS[kind]:
            raw = fields.get(f"q{j}.x.{extra.name}", "")
            extras[extra.name] = raw.replace("\r\n", "\n").strip() if extra.kind != "bool" else ("1" if raw else "")
        form.questions.append(
            QuestionForm(
                min(max(page, 0), max(len(form.pages) - 1, 0)),
                fields[f"q{j}.id"].strip(),
                kind,
                fields.get(f"q{j}.text", "").strip(),
                fields.get(f"q{j}.help", "").strip(),
                bool(fields.get(f"q{j}.required")),
                _condition_from(fields, f"q{j}.show_if"),
                extras,
            )
        )
    return form


# ------------------------------------------------------------------------------ editing actions
def _unused_id(taken: set[str], stem: str) -> str:
    n = 1
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


def apply(form: SurveyForm, action: str) -> SurveyForm:
    """One editing step: `add_question:<page>:<type>`, `remove_question:<j>`, `up:<j>`, `down:<j>`,
    `add_page`, `remove_page:<i>`, `add_rule:<i>`. Unknown actions change nothing."""
    form = replace(form, pages=list(form.pages), questions=list(form.questions))
    verb, _, rest = action.partition(":")
    args = rest.split(":") if rest else []
    try:
        numbers = [int(a) for a in args if a.isdigit()]
    except ValueError:
        return form
    if verb == "add_page":
        form.pages.append(PageForm(_unused_id({p.id for p in form.pages}, "page"), ""))
    elif verb == "remove_page" and numbers and len(form.pages) > 1 and numbers[0] < len(form.pages):
        gone = numbers[0]
        del form.pages[gone]
        form.questions = [
            replace(q, page=q.page - 1 if q.page > gone else q.page) for q in form.questions if q.page != gone
        ]
    elif verb == "add_rule" and numbers and numbers[0] < len(form.pages):
        page = form.pages[numbers[0]]
        form.pages[numbers[0]] = replace(page, next=[*page.next, (ConditionForm(), "")])
    elif verb == "add_question" and numbers and numbers[0] < len(form.pages):
        kind = args[1] if len(args) > 1 and args[1] in QUESTION_TYPES else "text"
        question = QuestionForm(numbers[0], _unused_id({q.id for q in form.questions}, kind), kind)
        question.extras = default_extras(kind)
        last = max((j for j, q in enumerate(form.questions) if q.page <= numbers[0]), default=-1)
        form.questions.insert(last + 1, question)
    elif verb == "remove_question" and numbers and numbers[0] < len(form.questions):
        del form.questions[numbers[0]]
    elif verb in ("up", "down") and numbers and numbers[0] < len(form.questions):
        _move(form, numbers[0], -1 if verb == "up" else 1)
    return form


def _move(form: SurveyForm, j: int, step: int) -> None:
    """Swap with the neighbour on the same page; at a page's edge, go to the neighbouring page."""
    q = form.questions[j]
    k = j + step
    if 0 <= k < len(form.questions) and form.questions[k].page == q.page:
        form.questions[j], form.questions[k] = form.questions[k], q
    elif 0 <= q.page + step < len(form.pages):
        form.questions[j] = replace(q, page=q.page + step)


# ------------------------------------------------------------------------------ form -> definition
def _number_or_text(raw: str) -> str | int | float:
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _condition_doc(cond: ConditionForm, where: str, errors: dict[str, str]) -> dict[str, Any] | None:
    if cond.empty:
        return None
    if cond.test not in TESTS:
        errors[where] = "Choose how the answer is compared."
        return None
    doc: dict[str, Any] = {"question": cond.question}
    if cond.test in ("answered", "not_answered"):
        doc["answered"] = cond.test == "answered"
        return doc
    if not cond.value:
        errors[where] = "Give the answer to compare with."
        return None
    if cond.test == "in":
        doc["in"] = [_as_condition_value(v.strip()) for v in cond.value.split(",") if v.strip()]
    elif cond.test in ("less_than", "more_than"):
        number = _as_condition_value(cond.value)
        if isinstance(number, str):
            errors[where] = "Give a number to compare with."
            return None
        doc[cond.test] = number
    else:
        doc[cond.test] = _as_condition_value(cond.value)
    return doc


def _as_condition_value(raw: str) -> str | float:
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    value = _number_or_text(raw)
    return float(value) if isinstance(value, int | float) else value


def _extra_doc(extra: Extra, raw: str, where: str, errors: dict[str, str]) -> Any:
    """A type's own setting as the model reads it; None leaves the model's default."""
    if extra.kind == "bool":
        return bool(raw)
    if not raw:
        return None
    if extra.kind == "lines":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    if extra.kind == "options":
        out: list[Any] = []
        for line in (line.strip() for line in raw.splitlines()):
            value, bar, label = line.partition("|")
            if line:
                out.append({"value": value.strip(), "label": label.strip()} if bar else line)
        return out
    if extra.kind == "attributes":
        attributes: dict[str, list[Any]] = {}
        for line in (line.strip() for line in raw.splitlines()):
            name, colon, levels = line.partition(":")
            if not line:
                continue
            if not colon or not name.strip():
                errors[where] = f"Write each attribute as “name: level, level”; this line is not: {line}"
                return None
            attributes[name.strip()] = [_number_or_text(v.strip()) for v in levels.split(",") if v.strip()]
        return attributes
    return raw  # numbers as typed: the model reads "12" as 12 and says so when it is not a number


def document_of(form: SurveyForm) -> tuple[dict[str, Any], dict[str, str], dict[int, tuple[int, int]]]:
    """The survey document the form describes, messages for fields that cannot be read at all, and
    where each question landed: question index -> (page index, position on the page)."""
    errors: dict[str, str] = {}
    doc: dict[str, Any] = {
        "slug": form.slug,
        "title": form.title,
        "intro": form.intro,
        "audience": form.audience,
        "thank_you": form.thank_you,
        "pages": [],
    }
    if form.wave:
        doc["wave"] = form.wave
    if not form.title:
        errors["title"] = "Give the survey a title."
    placed: dict[int, tuple[int, int]] = {}
    for i, page in enumerate(form.pages):
        page_doc: dict[str, Any] = {"id": page.id, "questions": []}
        if page.title:
            page_doc["title"] = page.title
        if (show_if := _condition_doc(page.show_if, f"p{i}.show_if", errors)) is not None:
            page_doc["show_if"] = show_if
        rules = []
        for k, (cond, goto) in enumerate(page.next):
            rule = _condition_doc(cond, f"p{i}.next{k}", errors)
            if rule is None and f"p{i}.next{k}" not in errors:
                errors[f"p{i}.next{k}"] = "Say which question the rule looks at."
            elif rule is not None:
                rules.append({"if": rule, "goto": goto or "end"})
        if rules:
            page_doc["next"] = rules
        for j, q in form.on_page(i):
            q_doc: dict[str, Any] = {"id": q.id, "type": q.type, "text": q.text, "required": q.required}
            if not q.text:
                errors[f"q{j}.text"] = "Write the question."
            if q.help:
                q_doc["help"] = q.help
            if (show_if := _condition_doc(q.show_if, f"q{j}.show_if", errors)) is not None:
                q_doc["show_if"] = show_if
            for extra in EXTRAS[q.type]:
                value = _extra_doc(extra, q.extras.get(extra.name, ""), f"q{j}.x.{extra.name}", errors)
                if value is not None:
                    q_doc[extra.name] = value
            placed[j] = (i, len(page_doc["questions"]))
            page_doc["questions"].append(q_doc)
        doc["pages"].append(page_doc)
    return doc, errors, placed


def build(form: SurveyForm) -> SurveyDefinition:
    """The survey the form describes; BuilderErrors (a message per field, in words) when it is not valid."""
    doc, errors, placed = document_of(form)
    where_question = {spot: j for j, spot in placed.items()}
    general: list[str] = []
    try:
        survey = SurveyDefinition.model_validate(doc)
    except ValidationError as exc:
        for err in exc.errors():
            name = _field_of(tuple(err["loc"]), where_question)
            message = _message(err, name)
            if name is None:
                general.append(message)
            else:
                errors.setdefault(name, message)
        raise BuilderErrors(errors, general) from exc
    if errors:
        raise BuilderErrors(errors, general)
    return survey


def _field_of(loc: tuple[Any, ...], where_question: dict[tuple[int, int], int]) -> str | None:
    """The form field a Pydantic error location points at (None: the survey as a whole)."""
    if not loc:
        return None
    if loc[0] != "pages":
        return str(loc[0])
    if len(loc) < 2 or not isinstance(loc[1], int):
        return None
    i = loc[1]
    rest = loc[2:]
    if not rest:
        return f"p{i}.id"
    if rest[0] == "questions" and len(rest) >= 2 and isinstance(rest[1], int):
        j = where_question.get((i, rest[1]))
        if j is None:
            return None
        tail = [p for p in rest[2:] if p not in QUESTION_TYPES]
        if not tail:
            return f"q{j}"
        part = str(tail[0])
        return f"q{j}.{part}" if part in _COMMON else f"q{j}.x.{part}"
    if rest[0] == "questions":
        return f"p{i}.questions"
    if rest[0] == "next" and len(rest) >= 2:
        return f"p{i}.next{rest[1]}"
    return f"p{i}.{rest[0]}"


def _message(err: Any, name: str | None) -> str:
    """Pydantic's message in words a survey author understands."""
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "missing":
        return "Please fill this in."
    if kind == "string_pattern_mismatch":
        if name == "slug":
            return "Use lower-case letters, digits and hyphens, starting with a letter or digit (e.g. spring-pulse)."
        return "Use lower-case letters, digits and underscores, starting with a letter (e.g. delivery_speed)."
    if kind == "too_short":
        if name is not None and name.endswith(".questions"):
            return "A page needs at least one question."
        if name == "pages":
            return "A survey needs at least one page."
        return f"Give at least {ctx.get('min_length', 1)}, one per line."
    if kind == "string_too_long":
        return f"Use at most {ctx.get('max_length')} characters."
    if kind in ("int_parsing", "int_from_float"):
        return "Enter a whole number."
    if kind == "float_parsing":
        return "Enter a number."
    if kind == "greater_than_equal":
        return f"Enter {ctx.get('ge')} or more."
    if kind == "literal_error":
        return "Choose one of the listed values."
    message = str(err["msg"]).removeprefix("Value error, ")
    return message[:1].upper() + message[1:]


def same_definition(a: SurveyDefinition, b: SurveyDefinition) -> bool:
    """Whether two definitions store as the same document (what makes a new version)."""
    return survey_to_json(a) == survey_to_json(b)
