"""The theme taxonomy: a YAML file users read and edit, parsed into Pydantic models with errors at the line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from heedful.errors import InputError
from heedful.yamllines import line_of, read_yaml

_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class Theme(BaseModel):
    """One theme customers talk about, who owns it and where in the journey it arises."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="short identifier: lower case letters, digits and _")
    label: str
    description: str = ""
    department: str
    journey_stage: str
    examples: list[str] = Field(default_factory=list)

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, value: str) -> str:
        if not _ID.match(value):
            raise ValueError("must be lower case letters, digits and _ (starting with a letter), e.g. delivery_speed")
        return value

    @field_validator("examples")
    @classmethod
    def _examples_not_blank(cls, value: list[str]) -> list[str]:
        return [e.strip() for e in value if e and e.strip()]

    def seed_texts(self) -> list[str]:
        """Texts that describe the theme when it has few examples: label, description, examples."""
        head = f"{self.label}: {self.description}" if self.description else self.label
        return [head, *self.examples]


class Taxonomy(BaseModel):
    """A list of themes; ids are unique."""

    model_config = ConfigDict(extra="forbid")

    name: str = "custom"
    version: str = "1"
    themes: list[Theme]

    @model_validator(mode="after")
    def _unique_ids(self) -> Taxonomy:
        seen: set[str] = set()
        for theme in self.themes:
            if theme.id in seen:
                raise ValueError(f"theme id {theme.id!r} is used twice")
            seen.add(theme.id)
        if not self.themes:
            raise ValueError("a taxonomy needs at least one theme")
        return self

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.themes]

    def theme(self, theme_id: str) -> Theme:
        for t in self.themes:
            if t.id == theme_id:
                return t
        raise KeyError(theme_id)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(), sort_keys=False, allow_unicode=True, width=110)

    def with_theme(self, theme: Theme) -> Taxonomy:
        """A copy with one more theme (e.g. promoted from a discovered cluster)."""
        return Taxonomy(name=self.name, version=self.version, themes=[*self.themes, theme])


def parse_taxonomy(
    text: str,
    source: str = "<taxonomy>",
    *,
    departments: Sequence[str] | None = None,
    stages: Sequence[str] | None = None,
) -> Taxonomy:
    """Parse taxonomy YAML; any problem raises InputError naming the file and line.

    With `departments` / `stages` (the journey's ids), a theme owned by any other department or arising
    at any other stage is refused too, at the line of the offending value."""
    node, data = read_yaml(text, source, error=InputError, line_sep=", line ")
    if not isinstance(data, dict):
        raise InputError(f"{source}, line 1: a taxonomy is a mapping with a `themes:` list")
    problems = [
        f"{source}, line {line_of(node, loc)}: {'.'.join(str(p) for p in loc)}: {msg}"
        for loc, msg in owner_problems(data, departments, stages)
    ]
    try:
        taxonomy = Taxonomy.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = tuple(err["loc"])
            line = line_of(node, loc)
            field = ".".join(str(p) for p in loc) or "taxonomy"
            problems.append(f"{source}, line {line}: {field}: {err['msg']}")
        raise InputError("Invalid taxonomy:\n" + "\n".join(problems)) from exc
    if problems:
        raise InputError("Invalid taxonomy:\n" + "\n".join(problems))
    return taxonomy


def owner_problems(
    data: dict[str, Any], departments: Sequence[str] | None, stages: Sequence[str] | None
) -> list[tuple[tuple[int | str, ...], str]]:
    """Themes owned by a department or arising at a journey stage not among those given, with where they are.

    Like the needs file's `reference_problems` (heedful.journey.config): each problem is its location in the
    document (mapped to a line by the parser) and a message naming the valid ids. None skips that check."""
    problems: list[tuple[tuple[int | str, ...], str]] = []
    themes = data.get("themes")
    for i, theme in enumerate(themes if isinstance(themes, list) else []):
        if not isinstance(theme, dict):
            continue
        for field, what, known in (
            ("department", "department", departments),
            ("journey_stage", "journey stage", stages),
        ):
            value = theme.get(field)
            if known is None or value is None or str(value) in known:
                continue
            problems.append(
                (
                    ("themes", i, field),
                    f"theme {theme.get('id')!r}: unknown {what} {value!r} (known: {', '.join(sorted(known))})",
                )
            )
    return problems


def load_taxonomy_text(text: str | None = None, source: str = "<taxonomy>") -> Taxonomy:
    """The given taxonomy YAML, or the default one shipped with heedful when None."""
    if text is None:
        return default_taxonomy()
    return parse_taxonomy(text, source)


def default_taxonomy() -> Taxonomy:
    """The customer-experience taxonomy shipped with heedful (retail and e-commerce)."""
    text = resources.files("heedful.listen").joinpath("default_taxonomy.yaml").read_text(encoding="utf-8")
    return parse_taxonomy(text, "default_taxonomy.yaml")


EXAMPLES = ("restaurant",)


def example_taxonomy(name: str) -> Taxonomy:
    """An example taxonomy shipped with heedful, `listen/examples/<name>.yaml` (one of `EXAMPLES`)."""
    if name not in EXAMPLES:
        raise InputError(f"No example taxonomy {name!r}; there are: {', '.join(EXAMPLES)}.")
    text = resources.files("heedful.listen").joinpath("examples", f"{name}.yaml").read_text(encoding="utf-8")
    return parse_taxonomy(text, f"examples/{name}.yaml")
