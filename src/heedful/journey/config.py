"""Journey configuration as data: stages, departments and needs with their metrics and targets.

A needs file is YAML parsed into these Pydantic models; a mistake is reported with the line it is on.
"""

from __future__ import annotations

import functools
import math
from importlib import resources
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from heedful.errors import ConfigError
from heedful.yamllines import line_of, read_yaml

Direction = Literal["higher", "lower"]
MetricKind = Literal[
    "theme_positive_share",
    "feedback_positive_share",
    "nps",
    "csat",
    "ces",
    "survey_mean",
    "operations_ratio",
    "operations_value",
    "repeat_rate",
    "churn_risk_share",
]

# What each kind reads, which parameters it needs, and which way is better unless the file says.
METRIC_KINDS: dict[str, dict[str, Any]] = {
    "theme_positive_share": {
        "doc": "share of feedback mentioning `theme` that is positive about it",
        "requires": ["theme"],
        "direction": "higher",
    },
    "feedback_positive_share": {
        "doc": "share of feedback (optionally of one `stage` or `department`) that is positive",
        "requires": [],
        "direction": "higher",
    },
    "nps": {
        "doc": "Net Promoter Score (-100..100) of a 0-10 survey `question`",
        "requires": ["question"],
        "direction": "higher",
    },
    "csat": {
        "doc": "share of answers to `question` at or above `threshold` (default 4 of 5)",
        "requires": ["question"],
        "direction": "higher",
    },
    "ces": {
        "doc": "mean Customer Effort Score of `question` (set direction: lower when the scale measures effort)",
        "requires": ["question"],
        "direction": "higher",
    },
    "survey_mean": {"doc": "mean numeric answer to `question`", "requires": ["question"], "direction": "higher"},
    "operations_ratio": {
        "doc": "sum of numerator / sum of denominator of an imported `operations_metric`",
        "requires": ["operations_metric"],
        "direction": "higher",
    },
    "operations_value": {
        "doc": "mean `value` of an imported `operations_metric`",
        "requires": ["operations_metric"],
        "direction": "higher",
    },
    "repeat_rate": {
        "doc": "share of the period's buyers who had bought before",
        "requires": [],
        "direction": "higher",
    },
    "churn_risk_share": {
        "doc": "share of customers whose churn risk is at or above `threshold` (default 0.5)",
        "requires": [],
        "direction": "lower",
    },
}

DEFAULT_STAGES: list[tuple[str, str]] = [
    ("awareness", "Awareness"),
    ("consideration", "Consideration"),
    ("purchase", "Purchase"),
    ("onboarding", "Onboarding"),
    ("delivery", "Delivery"),
    ("use", "Use"),
    ("support", "Support"),
    ("renewal", "Renewal / advocacy"),
]

DEFAULT_DEPARTMENTS: list[tuple[str, str]] = [
    ("marketing", "Marketing"),
    ("sales", "Sales"),
    ("delivery", "Delivery / logistics"),
    ("services", "Services"),
    ("support", "Customer support"),
    ("product", "Product management"),
]

# Feedback enriched by older versions of heedful carries finer owners than the journey's six departments
# (and one stage the journey calls support): their default taxonomy named them. Today's taxonomies are
# refused unless they name the journey's own departments and stages, so only those stored rows still hold
# these ids; they are read as owned by the department the default taxonomy now gives the same themes
# (returns_refunds -> services, price_value and website_app -> sales, ...), so a need owned by `delivery`
# sees the old items listening gave to `logistics`. Only ids the journey configuration does not itself
# define are translated.
LISTEN_DEPARTMENT_OWNERS: dict[str, str] = {
    "logistics": "delivery",
    "returns": "services",
    "merchandising": "product",
    "digital": "sales",
    "pricing": "sales",
    "finance": "sales",
    "operations": "services",
    "kitchen": "product",
    "customer_success": "services",
}
LISTEN_STAGE_OWNERS: dict[str, str] = {"after_sales": "support"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    position: int | None = None


class Department(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    email: str | None = None


class MetricSpec(_Strict):
    """One way of measuring a need, with its target."""

    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    kind: MetricKind
    target: float
    label: str | None = None
    direction: Direction | None = None
    theme: str | None = None
    stage: str | None = None
    department: str | None = None
    survey: str | None = None
    question: str | None = None
    operations_metric: str | None = None
    threshold: float | None = None
    min_n: int = Field(default=30, ge=1)

    @model_validator(mode="after")
    def _kind_parameters(self) -> MetricSpec:
        missing = [p for p in METRIC_KINDS[self.kind]["requires"] if getattr(self, p) in (None, "")]
        if missing:
            raise ValueError(f"metric kind {self.kind!r} needs {', '.join(missing)}")
        return self

    @property
    def better(self) -> Direction:
        """Which way is better: the file's `direction`, else the kind's default."""
        return self.direction or METRIC_KINDS[self.kind]["direction"]

    @property
    def title(self) -> str:
        return self.label or self.id.replace("_", " ")


class Need(_Strict):
    """A customer need at one journey stage, owned by one department, measured by metrics."""

    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    label: str
    stage: str
    department: str
    metrics: list[MetricSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_metric_ids(self) -> Need:
        ids = [m.id for m in self.metrics]
        if len(ids) != len(set(ids)):
            raise ValueError(f"metric ids of need {self.id!r} must be unique")
        return self


class JourneyConfig(_Strict):
    """Stages (in order), departments and needs."""

    stages: list[Stage] = Field(min_length=1)
    departments: list[Department] = Field(min_length=1)
    needs: list[Need] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> JourneyConfig:
        problems = reference_problems(self.model_dump())
        if problems:
            raise ValueError(problems[0][1])
        return self

    def ordered_stages(self) -> list[Stage]:
        """Stages in journey order: explicit positions first, else file order."""
        return sorted(
            self.stages, key=lambda s: (s.position if s.position is not None else 10_000, self.stages.index(s))
        )

    def stage_name(self, stage_id: str) -> str:
        return next((s.name for s in self.stages if s.id == stage_id), stage_id)

    def department_name(self, department_id: str) -> str:
        return next((d.name for d in self.departments if d.id == department_id), department_id)

    def needs_of(self, department_id: str) -> list[Need]:
        return [n for n in self.needs if n.department == department_id]

    def harmonise_feedback(self, feedback: pd.DataFrame) -> pd.DataFrame:
        """`feedback` with listening's department and journey_stage ids read as this journey's ids.

        Ids the configuration defines are kept; the finer ones older versions' default taxonomy wrote
        into stored rows (`LISTEN_DEPARTMENT_OWNERS`, `LISTEN_STAGE_OWNERS`) map to their journey owner
        where that owner exists here. Anything else is left as listening wrote it."""
        out = feedback.copy()
        for column, own, table in (
            ("department", {d.id for d in self.departments}, LISTEN_DEPARTMENT_OWNERS),
            ("journey_stage", {s.id for s in self.stages}, LISTEN_STAGE_OWNERS),
        ):
            if column not in out or out.empty:
                continue
            mapping = {k: v for k, v in table.items() if k not in own and v in own}
            if mapping:
                out[column] = out[column].replace(mapping)
        return out


def reference_problems(data: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    """Repeated ids and needs pointing at unknown stages or departments, with where they are."""
    problems: list[tuple[tuple[int | str, ...], str]] = []
    ids: dict[str, list[str]] = {}
    for section in ("stages", "departments", "needs"):
        ids[section] = [str(item.get("id")) for item in data.get(section) or [] if isinstance(item, dict)]
        seen: set[str] = set()
        for i, item_id in enumerate(ids[section]):
            if item_id in seen:
                problems.append(((section, i, "id"), f"{section[:-1]} id {item_id!r} is repeated"))
            seen.add(item_id)
    for i, need in enumerate(data.get("needs") or []):
        if not isinstance(need, dict):
            continue
        for field, section in (("stage", "stages"), ("department", "departments")):
            if field in need and str(need[field]) not in ids[section]:
                known = ", ".join(sorted(ids[section]))
                problems.append(
                    (("needs", i, field), f"need {need.get('id')!r}: unknown {field} {need[field]!r} (known: {known})")
                )
    return problems


@functools.cache  # parsing the YAML took ~60 ms, on every page that names a department; the model is frozen
def default_config() -> JourneyConfig:
    """The shipped default: eight stages, six departments and a starter set of needs."""
    text = resources.files("heedful.journey").joinpath("default_needs.yaml").read_text(encoding="utf-8")
    return parse_config(text, source="default_needs.yaml")


def parse_config(text: str, source: str = "needs file") -> JourneyConfig:
    """Parse a needs YAML document; every error names the line it is on."""
    root, data = read_yaml(text, source, error=ConfigError)
    if not isinstance(data, dict):
        raise ConfigError(f"{source} line 1: expected a mapping with stages, departments and needs")
    data = dict(data)
    data.setdefault("stages", [{"id": i, "name": n} for i, n in DEFAULT_STAGES])
    data.setdefault("departments", [{"id": i, "name": n} for i, n in DEFAULT_DEPARTMENTS])
    if isinstance(data["stages"], list):  # journey order is file order unless positions are given
        data["stages"] = [
            {**stage, "position": stage.get("position", i)} if isinstance(stage, dict) else stage
            for i, stage in enumerate(data["stages"], start=1)
        ]
    try:
        return JourneyConfig.model_validate(data)
    except ValidationError as exc:
        messages = []
        for loc, msg in reference_problems(data):
            messages.append(f"{source} line {line_of(root, loc)}: {'.'.join(str(p) for p in loc)}: {msg}")
        for err in exc.errors():
            if not err["loc"] and messages:
                continue  # the cross-reference problem is already reported with its line
            line = line_of(root, err["loc"])
            where = ".".join(str(p) for p in err["loc"]) or "document"
            msg = err["msg"].removeprefix("Value error, ")
            messages.append(f"{source} line {line}: {where}: {msg}")
        raise ConfigError("; ".join(messages)) from exc


def dump_config(config: JourneyConfig) -> str:
    """The configuration as YAML that `parse_config` reads back to an equal configuration."""
    data = config.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    for need in data["needs"]:
        for metric in need["metrics"]:
            if metric.get("min_n") == 30:
                del metric["min_n"]
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


#: metric kinds whose value is a share (0–1), shown as a percentage
PROPORTION_KINDS = {
    "theme_positive_share",
    "feedback_positive_share",
    "csat",
    "operations_ratio",
    "repeat_rate",
    "churn_risk_share",
}


def metric_text(value: float | None, kind: str) -> str:
    """A journey metric's value as every output shows it (scorecard page and CLI, report, alerts): a share as
    a percentage with one decimal, none where it is whole ("95.2%", "50%"), an NPS as a whole number,
    anything else with two decimals; "–" where there is none."""
    if value is None or not math.isfinite(value):
        return "–"
    if kind in PROPORTION_KINDS:
        return f"{value * 100:.1f}".removesuffix(".0") + "%"
    if kind == "nps":
        return f"{value:.0f}"
    return f"{value:.2f}"
