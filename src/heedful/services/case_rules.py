"""Case rules set in the web app: read, validate and save them in `app_settings`, or go back to the file.

The rules saved here win over `cases.yaml` (`services.cases.load_rules`). A change is validated by the
rules model of `heedful.cases.rules` and the journey configuration's departments; each problem is reported
in words against the setting it concerns, so the settings page can show it next to the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from heedful.cases.rules import CaseRules, default_rules
from heedful.errors import InputError
from heedful.services.journey import load_config
from heedful.store import Store
from heedful.store.settings_repo import delete_setting, get_setting, put_setting

KEY = "case_rules"
MAX_HOLDOUT_SHARE = 0.5  # keeping back more than half would leave too few customers followed up


class RulesProblem(InputError):
    """Case rules that cannot be saved; `problems` maps each setting's path ("triggers.survey.nps_max",
    "departments.delivery.high", "holdout_share") to what is wrong with it, in words."""

    def __init__(self, problems: dict[str, str]) -> None:
        self.problems = problems
        super().__init__("The case rules were not saved: " + "; ".join(problems.values()))


def saved_rules(store: Store) -> CaseRules | None:
    """The rules saved in the web app, or None when none are (the file or the defaults apply)."""
    value = get_setting(store, KEY)
    if not value:
        return None
    try:
        return CaseRules.model_validate(value)
    except ValidationError as exc:
        raise InputError(
            "The case rules saved in the web app are no longer valid "
            f"({_words(exc.errors()[0])}); save them again under Settings, or go back to the file."
        ) from exc


def current_rules(store: Store) -> tuple[CaseRules, bool]:
    """The rules the web app shows: the saved ones, else the shipped defaults; and whether they are saved."""
    saved = saved_rules(store)
    return (saved, True) if saved is not None else (default_rules(), False)


def _merge(base: dict[str, Any], change: dict[str, Any], replaced: frozenset[str] = frozenset()) -> dict[str, Any]:
    merged = dict(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key not in replaced:
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_MESSAGES = {
    "greater_than": "must be more than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than": "must be less than {lt}",
    "less_than_equal": "must be at most {le}",
    "float_parsing": "must be a number",
    "int_parsing": "must be a whole number",
    "bool_parsing": "must be on or off",
    "missing": "is required",
    "extra_forbidden": "is not a setting of the case rules",
}


def _words(error: Any) -> str:
    template = _MESSAGES.get(str(error.get("type")))
    if template is None:
        return str(error.get("msg", "is not valid")).removeprefix("Value error, ")
    limits = {k: f"{v:g}" if isinstance(v, int | float) else v for k, v in (error.get("ctx") or {}).items()}
    return template.format(**limits)


def validate_rules(store: Store, change: dict[str, Any], base: CaseRules | None = None) -> CaseRules:
    """`change` (a nested mapping shaped like the rules; partial) applied to `base` (default: the current
    rules), checked; RulesProblem names every setting that is wrong."""
    base = base if base is not None else current_rules(store)[0]
    # the SLA per department is given whole (a department left out follows the default SLA again)
    values = _merge(base.model_dump(mode="json"), change, replaced=frozenset({"departments"}))
    problems: dict[str, str] = {}
    rules: CaseRules | None = None
    try:
        rules = CaseRules.model_validate(values)
    except ValidationError as exc:
        problems = {".".join(str(p) for p in err["loc"]) or "rules": _words(err) for err in exc.errors()}
    holdout = values.get("holdout_share")
    if isinstance(holdout, int | float) and MAX_HOLDOUT_SHARE < holdout < 1:
        problems["holdout_share"] = f"must be at most {MAX_HOLDOUT_SHARE:.0%}"
    problems.update(_unknown_departments(store, values))
    if problems or rules is None:
        raise RulesProblem(problems)
    return rules


def _unknown_departments(store: Store, values: dict[str, Any]) -> dict[str, str]:
    """Every department the rules name that the journey configuration does not define, by setting."""
    config = load_config(store)
    known = {d.id for d in config.departments}
    names = ", ".join(d.name for d in config.departments)
    named = [(f"departments.{d}", d) for d in values.get("departments") or {}]
    triggers = values.get("triggers") or {}
    named += [(f"triggers.{t}.department", (triggers.get(t) or {}).get("department")) for t in triggers]
    return {
        path: f"there is no department {department!r} (departments: {names})"
        for path, department in named
        if isinstance(department, str) and department not in known
    }


def save_rules(store: Store, change: dict[str, Any], actor: str) -> CaseRules:
    """Validate `change` against the current rules and save the result; it wins over cases.yaml from now on."""
    rules = validate_rules(store, change)
    put_setting(store, KEY, rules.model_dump(mode="json"), actor)
    return rules


def reset_rules(store: Store) -> None:
    """Forget the rules saved in the web app: cases.yaml (where given) or the shipped defaults apply again."""
    delete_setting(store, KEY)
