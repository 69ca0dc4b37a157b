"""Survey definitions: the one source of truth for a survey's shape (Pydantic), parsed from YAML.

A survey has a title, an intro, an audience, and pages of questions. Question types: nps, csat,
ces, likert (matrix), single and multiple choice (optionally with "other"), ranking, numeric,
text, maxdiff, conjoint, van_westendorp. Skip logic: a page or question may carry `show_if`, and a
page may carry `next` rules ({if: condition, goto: page id or "end"}). Texts may pipe customer
attributes: "Hi {{customer.name}}". YAML errors and validation errors name the line.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heedful.errors import InputError

Audience = Literal["customer", "prospect", "staff", "partner", "anonymous"]
_ID = r"^[a-z][a-z0-9_]*$"
PIPE = re.compile(r"\{\{\s*customer\.([a-z_][a-z0-9_.]*)\s*\}\}")
PIPE_FIELDS = {"name", "email", "company", "country", "city", "kind", "customer_id"}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(_Model):
    """`question` compared with `value`: equals, not_equals, less_than, more_than, in, answered."""

    question: str
    equals: str | float | None = None
    not_equals: str | float | None = None
    less_than: float | None = None
    more_than: float | None = None
    in_: list[str | float] | None = Field(default=None, alias="in")
    answered: bool | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        tests = [self.equals, self.not_equals, self.less_than, self.more_than, self.in_, self.answered]
        if sum(t is not None for t in tests) != 1:
            raise ValueError("a condition needs exactly one of equals, not_equals, less_than, more_than, in, answered")
        return self


class Option(_Model):
    value: str
    label: str


def _options(raw: Any) -> Any:
    """Options may be written as plain strings: "Delivery" -> {value: delivery, label: Delivery}."""
    if not isinstance(raw, list):
        return raw
    out = []
    for item in raw:
        if isinstance(item, str | int | float):
            label = str(item)
            out.append({"value": re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") or label, "label": label})
        else:
            out.append(item)
    return out


class _Question(_Model):
    id: str = Field(pattern=_ID)
    text: str
    help: str | None = None
    required: bool = True
    show_if: Condition | None = None


class NPSQuestion(_Question):
    type: Literal["nps"]
    low_label: str = "Not at all likely"
    high_label: str = "Extremely likely"


class CSATQuestion(_Question):
    type: Literal["csat"]
    labels: list[str] = ["Very unsatisfied", "Unsatisfied", "Neutral", "Satisfied", "Very satisfied"]


class CESQuestion(_Question):
    type: Literal["ces"]
    labels: list[str] = [
        "Strongly disagree",
        "Disagree",
        "Somewhat disagree",
        "Neutral",
        "Somewhat agree",
        "Agree",
        "Strongly agree",
    ]


class LikertQuestion(_Question):
    type: Literal["likert"]
    rows: list[Option] = Field(min_length=1)
    scale: list[str] = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"]

    _split = field_validator("rows", mode="before")(classmethod(lambda cls, v: _options(v)))


class SingleQuestion(_Question):
    type: Literal["single"]
    options: list[Option] = Field(min_length=2)
    other: bool = False

    _split = field_validator("options", mode="before")(classmethod(lambda cls, v: _options(v)))


class MultipleQuestion(_Question):
    type: Literal["multiple"]
    options: list[Option] = Field(min_length=2)
    other: bool = False
    max_choices: int | None = None

    _split = field_validator("options", mode="before")(classmethod(lambda cls, v: _options(v)))


class RankingQuestion(_Question):
    type: Literal["ranking"]
    options: list[Option] = Field(min_length=2)

    _split = field_validator("options", mode="before")(classmethod(lambda cls, v: _options(v)))


class NumericQuestion(_Question):
    type: Literal["numeric"]
    min: float | None = None
    max: float | None = None
    integer: bool = False
    unit: str | None = None


class TextQuestion(_Question):
    type: Literal["text"]
    multiline: bool = True
    max_length: int = 5000


class MaxDiffQuestion(_Question):
    type: Literal["maxdiff"]
    items: list[Option] = Field(min_length=3)
    items_per_task: int = Field(default=4, ge=2)
    tasks: int = Field(default=6, ge=1)
    versions: int = Field(default=50, ge=1)
    best_label: str = "Most important"
    worst_label: str = "Least important"

    _split = field_validator("items", mode="before")(classmethod(lambda cls, v: _options(v)))

    @model_validator(mode="after")
    def _fits(self) -> MaxDiffQuestion:
        if self.items_per_task > len(self.items):
            raise ValueError(f"items_per_task ({self.items_per_task}) exceeds the number of items ({len(self.items)})")
        return self


class ConjointQuestion(_Question):
    type: Literal["conjoint"]
    attributes: dict[str, list[str | int | float]]
    price: str | None = Field(default=None, description="name of the attribute that is the price")
    alternatives: int = Field(default=3, ge=2)
    tasks: int = Field(default=8, ge=1)
    versions: int = Field(default=50, ge=1)
    currency: str = ""

    @model_validator(mode="after")
    def _levels(self) -> ConjointQuestion:
        for name, levels in self.attributes.items():
            if len(levels) < 2:
                raise ValueError(f"attribute {name!r} needs at least two levels")
        if self.price is not None:
            if self.price not in self.attributes:
                raise ValueError(f"price attribute {self.price!r} is not one of the attributes")
            if not all(isinstance(v, int | float) for v in self.attributes[self.price]):
                raise ValueError(f"price attribute {self.price!r} must have numeric levels")
        return self


class VanWestendorpQuestion(_Question):
    type: Literal["van_westendorp"]
    currency: str = ""
    product: str = "this product"


Question = Annotated[
    NPSQuestion
    | CSATQuestion
    | CESQuestion
    | LikertQuestion
    | SingleQuestion
    | MultipleQuestion
    | RankingQuestion
    | NumericQuestion
    | TextQuestion
    | MaxDiffQuestion
    | ConjointQuestion
    | VanWestendorpQuestion,
    Field(discriminator="type"),
]

QUESTION_TYPES = (
    "nps",
    "csat",
    "ces",
    "likert",
    "single",
    "multiple",
    "ranking",
    "numeric",
    "text",
    "maxdiff",
    "conjoint",
    "van_westendorp",
)


class NextRule(_Model):
    if_: Condition = Field(alias="if")
    goto: str

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Page(_Model):
    id: str = Field(pattern=_ID)
    title: str | None = None
    questions: list[Question] = Field(min_length=1)
    show_if: Condition | None = None
    next: list[NextRule] = []


# /surveys/<these> are pages of the web app (new survey, builder, brand), so no survey may take them as its slug
RESERVED_SLUGS = frozenset({"new", "builder", "brand"})


class SurveyDefinition(_Model):
    """A whole survey. `slug` is its public address: /s/<slug>."""

    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    title: str
    intro: str = ""
    audience: Audience = "customer"
    wave: str | None = None
    thank_you: str = "Thank you for your answers."
    pages: list[Page] = Field(min_length=1)

    @field_validator("slug")
    @classmethod
    def _not_a_page_of_the_app(cls, slug: str) -> str:
        if slug in RESERVED_SLUGS:
            raise ValueError(f"{slug!r} is the address of a page of the web app (/surveys/{slug}); choose another slug")
        return slug

    @model_validator(mode="after")
    def _references(self) -> SurveyDefinition:
        page_ids = [p.id for p in self.pages]
        if len(set(page_ids)) != len(page_ids):
            raise ValueError(f"page ids must be unique: {page_ids}")
        seen: list[str] = []
        for page in self.pages:
            for cond in [page.show_if, *(q.show_if for q in page.questions)]:
                if cond is not None and cond.question not in seen:
                    raise ValueError(
                        f"page {page.id!r}: show_if refers to {cond.question!r}, not asked on an earlier page"
                    )
            for q in page.questions:
                if q.id in seen:
                    raise ValueError(f"question id {q.id!r} is used twice")
                seen.append(q.id)
            for rule in page.next:
                if rule.if_.question not in seen:
                    raise ValueError(f"page {page.id!r}: next rule refers to unknown question {rule.if_.question!r}")
                if rule.goto != "end" and rule.goto not in page_ids:
                    raise ValueError(f"page {page.id!r}: next rule goes to unknown page {rule.goto!r}")
                if rule.goto != "end" and page_ids.index(rule.goto) <= page_ids.index(page.id):
                    raise ValueError(f"page {page.id!r}: next rule may only skip forward, not to {rule.goto!r}")
        for text in self._texts():
            for field in PIPE.findall(text):
                root = field.split(".")[0]
                if root not in PIPE_FIELDS and root != "attributes":
                    raise ValueError(
                        f"unknown piped field customer.{field}; use one of {sorted(PIPE_FIELDS)} or attributes.X"
                    )
        return self

    def _texts(self) -> list[str]:
        texts = [self.title, self.intro, self.thank_you]
        for page in self.pages:
            texts.extend([page.title or ""] + [q.text for q in page.questions])
        return texts

    def question(self, question_id: str) -> Any:
        for page in self.pages:
            for q in page.questions:
                if q.id == question_id:
                    return q
        raise KeyError(question_id)

    @property
    def questions(self) -> list[Any]:
        return [q for page in self.pages for q in page.questions]

    def questions_of_type(self, *kinds: str) -> list[Any]:
        """The questions whose type is one of `kinds` (e.g. "nps"), in survey order."""
        wanted = {k.lower() for k in kinds}
        return [q for q in self.questions if q.type in wanted]


def pipe(text: str, customer: dict[str, Any] | None) -> str:
    """Fill {{customer.x}} placeholders from a customer profile (empty when unknown)."""
    customer = customer or {}

    def value(match: re.Match[str]) -> str:
        parts = match.group(1).split(".")
        current: Any = customer
        for part in parts:
            current = current.get(part) if isinstance(current, dict) else None
        return "\x00" if current is None or current == "" else str(current)

    # an unknown value leaves no gap: "Hi {{customer.name}}, …" becomes "Hi, …"
    return re.sub(r"\s*\x00", "", PIPE.sub(value, text))


# --------------------------------------------------------------------------------------- YAML
def _line_index(node: yaml.Node, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], int]:
    """Map every path in the YAML document (keys and list indices) to its 1-based line."""
    lines = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(*path, key.value)] = key.start_mark.line + 1
            lines.update(_line_index(value, (*path, key.value)))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.update(_line_index(item, (*path, i)))
    return lines


def _is_tag(loc: tuple[Any, ...], i: int) -> bool:
    """Pydantic puts the question type after a question's index: pages.0.questions.1.nps.text."""
    return i >= 2 and loc[i] in QUESTION_TYPES and isinstance(loc[i - 1], int) and loc[i - 2] == "questions"


def _line_of(loc: tuple[Any, ...], lines: dict[tuple[Any, ...], int]) -> int:
    """Line of the deepest part of a Pydantic error location present in the YAML (tags are skipped)."""
    found: tuple[Any, ...] = ()
    for i, part in enumerate(loc):
        if _is_tag(loc, i):
            continue
        for candidate in (part, "if" if part == "if_" else part, "in" if part == "in_" else part):
            if (*found, candidate) in lines:
                found = (*found, candidate)
                break
    return lines.get(found, 1)


def parse_survey(text: str, source: str = "survey.yaml") -> SurveyDefinition:
    """Parse and validate a YAML survey; errors say which line is wrong and why."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise InputError(f"{source}:{line}: not valid YAML: {exc.problem}") from exc
    if node is None or not isinstance(data, dict):
        raise InputError(f"{source}:1: a survey must be a YAML mapping with slug, title and pages.")
    lines = _line_index(node)
    try:
        return SurveyDefinition.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            where = ".".join(str(p) for i, p in enumerate(loc) if not _is_tag(loc, i)) or "survey"
            messages.append(f"{source}:{_line_of(loc, lines)}: {where}: {err['msg']}")
        raise InputError("Survey definition is not valid:\n" + "\n".join(messages)) from exc


def survey_to_json(survey: SurveyDefinition) -> dict[str, Any]:
    return survey.model_dump(mode="json", by_alias=True, exclude_none=True)


def survey_from_json(data: dict[str, Any]) -> SurveyDefinition:
    return SurveyDefinition.model_validate(data)


def question_ids_of_type(definition: Any, *kinds: str) -> set[str]:
    """Ids of the questions of the given types in a stored definition (JSON text or parsed JSON).

    The one answer to "which questions are NPS (or CSAT, …)": it reads the definition as stored, so a
    definition written by an older version, or an imported one that does not validate, is still read.
    Unreadable JSON gives an empty set.
    """
    try:
        doc = json.loads(definition) if isinstance(definition, str | bytes) else definition
    except ValueError:
        return set()
    wanted = {k.lower() for k in kinds}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if str(node.get("type", "")).lower() in wanted and node.get("id"):
                found.add(str(node["id"]))
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(doc)
    return found
