"""Case rules as data: which signals open a case, who owns it, how fast it must be answered.

A rules file (`cases.yaml`) is YAML parsed into these Pydantic models; a mistake, including a
department the journey configuration does not know, is reported with the line it is on. Every
setting has a default, so no file at all gives the shipped rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from heedful.errors import ConfigError
from heedful.yamllines import line_of, read_yaml

Priority = Literal["high", "medium", "low"]
PRIORITIES: tuple[str, ...] = ("high", "medium", "low")
TRIGGERS: tuple[str, ...] = ("survey", "feedback", "alert", "churn")
Sentiment = Literal["negative", "mixed"]
Audience = Literal["external", "staff", "partner"]


def _unhappy() -> list[Sentiment]:
    return ["negative", "mixed"]


def _external() -> list[Audience]:
    return ["external"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Sla(_Strict):
    """Hours to resolve a case, per priority."""

    high: float = Field(default=24, gt=0)
    medium: float = Field(default=72, gt=0)
    low: float = Field(default=168, gt=0)

    def hours(self, priority: str) -> float:
        return float(getattr(self, priority))


class SurveyTrigger(_Strict):
    """A completed response with a detractor or low satisfaction / effort answer opens a case."""

    enabled: bool = True
    nps_max: float = Field(default=6, description="NPS answers (0-10) at or below this are detractors")
    csat_max: float = Field(default=2, description="CSAT answers (1-5) at or below this are unhappy")
    ces_max: float = Field(default=3, description="CES answers (1-7) at or below this are unhappy")
    department: str = "support"


class FeedbackTrigger(_Strict):
    """A feedback item read as negative (or mixed) opens a case for the department owning its main theme."""

    enabled: bool = True
    sentiments: list[Sentiment] = Field(default_factory=_unhappy)
    department: str = Field(default="support", description="owner when listening named none")


class AlertTrigger(_Strict):
    """A journey alert opens a case for the department that owns it."""

    enabled: bool = True
    audiences: list[Audience] = Field(default_factory=_external)
    department: str = Field(default="support", description="owner when the alert names none")


class ChurnTrigger(_Strict):
    """A high-value customer newly at risk of churning opens a case (once per month at most)."""

    enabled: bool = True
    min_risk: float = Field(default=0.5, ge=0, le=1)
    top_value_share: float = Field(default=0.2, gt=0, le=1, description="CLV in this top share of customers")
    department: str = "services"


class Triggers(_Strict):
    survey: SurveyTrigger = Field(default_factory=SurveyTrigger)
    feedback: FeedbackTrigger = Field(default_factory=FeedbackTrigger)
    alert: AlertTrigger = Field(default_factory=AlertTrigger)
    churn: ChurnTrigger = Field(default_factory=ChurnTrigger)


class ValueTiers(_Strict):
    """Customer value tiers by CLV quantile: the top share is 'top', the next share 'mid', the rest 'low'."""

    top_share: float = Field(default=0.2, gt=0, le=1)
    mid_share: float = Field(default=0.3, ge=0, le=1)


class CaseRules(_Strict):
    """What opens a case, who owns it when the signal names no one, and the SLA per department."""

    triggers: Triggers = Field(default_factory=Triggers)
    value_tiers: ValueTiers = Field(default_factory=ValueTiers)
    sla_hours: Sla = Field(default_factory=Sla)
    departments: dict[str, Sla] = Field(default_factory=dict, description="SLA per department id")
    lookback_days: int | None = Field(
        default=90, ge=1, description="per trigger, only signals this many days before its newest one"
    )
    holdout_share: float = Field(
        default=0.1,
        ge=0,
        lt=1,
        description="share of new cases with a known customer kept back (not followed up) to measure whether "
        "following up works; 0 follows up every case",
    )

    def sla_for(self, department: str | None) -> Sla:
        return self.departments.get(department or "", self.sla_hours)

    def named_departments(self) -> list[tuple[tuple[str | int, ...], str]]:
        """(location in the file, department id) of every department the rules name."""
        named: list[tuple[tuple[str | int, ...], str]] = [(("departments", d), d) for d in self.departments]
        for trigger in TRIGGERS:
            named.append((("triggers", trigger, "department"), getattr(self.triggers, trigger).department))
        return named


def default_rules() -> CaseRules:
    return CaseRules()


def parse_rules(text: str, source: str = "cases.yaml", known_departments: Iterable[str] | None = None) -> CaseRules:
    """Parse a rules YAML document; every error names its line. With `known_departments`, a department
    the journey configuration does not define is an error too."""
    root, data = read_yaml(text, source, error=ConfigError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source} line 1: expected a mapping (triggers, value_tiers, sla_hours, departments)")
    try:
        rules = CaseRules.model_validate(data)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "document"
            msg = err["msg"].removeprefix("Value error, ")
            messages.append(f"{source} line {line_of(root, err['loc'])}: {where}: {msg}")
        raise ConfigError("; ".join(messages)) from exc
    if known_departments is not None:
        known = sorted(set(known_departments))
        unknown = [
            f"{source} line {line_of(root, loc, key=loc[0] == 'departments')}: {'.'.join(str(p) for p in loc)}: "
            f"unknown department {dept!r} (known: {', '.join(known)})"
            for loc, dept in rules.named_departments()
            if dept not in known
        ]
        if unknown:
            raise ConfigError("; ".join(unknown))
    return rules


def dump_rules(rules: CaseRules) -> str:
    """The rules as YAML that `parse_rules` reads back to equal rules."""
    return yaml.safe_dump(rules.model_dump(mode="json"), sort_keys=False, width=110)
