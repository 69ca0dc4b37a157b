"""The one way heedful finds the line of a value in a YAML file, for errors that name it ("needs.yaml line 5").

A leaf like `errors.py`: the configuration files of several areas (journey needs, listening taxonomies,
case rules) report their mistakes through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml


def line_of(node: Any, loc: Sequence[Any], *, key: bool = False) -> int:
    """1-based line of the YAML node at `loc` (a Pydantic error location), or of the deepest parent that
    exists; with `key`, the line of the last mapping key itself rather than of its value."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if pair is not None:
                child = pair[1]
                if key and part == loc[-1]:
                    return int(pair[0].start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
        line = node.start_mark.line + 1
    return line


def read_yaml(text: str, source: str, *, error: type[Exception], line_sep: str = " line ") -> tuple[Any, Any]:
    """(node tree for `line_of`, data) of a YAML document; YAML that does not parse raises `error` naming
    the line: "<source><line_sep><n>: not valid YAML (…)" ("needs.yaml line 3", or "file, line 3")."""
    try:
        return yaml.compose(text), yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}{line_sep}{mark.line + 1}" if mark is not None else source
        raise error(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
