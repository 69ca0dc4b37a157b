"""Resolve which source columns feed which canonical fields: preset first, then `--map` overrides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from heedful.errors import InputError
from heedful.ingest.presets import FIELDS, REQUIRED, Preset, normalise


@dataclass(frozen=True)
class FieldSource:
    """Where one canonical field comes from: one column, several joined columns, or nothing."""

    columns: tuple[str, ...]
    separator: str = " "
    labelled: bool = False


def parse_map_options(options: list[str] | None) -> dict[str, str]:
    """`["Col A=order_id", …]` -> {"Col A": "order_id"}; the last '=' splits (column names may hold '=')."""
    mapping: dict[str, str] = {}
    for option in options or []:
        column, sep, target = option.rpartition("=")
        if not sep or not column.strip() or not target.strip():
            raise InputError(f"--map {option!r} must look like COLUMN=field, e.g. --map 'Invoice No=order_id'.")
        mapping[column.strip()] = target.strip()
    return mapping


def _find(columns: list[str], candidates: tuple[str, ...]) -> str | None:
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(normalise(col), col)
    exact = set(columns)
    for candidate in candidates:
        if candidate in exact:
            return candidate
        hit = by_norm.get(normalise(candidate))
        if hit is not None:
            return hit
    return None


def resolve(
    preset: Preset,
    columns: list[str],
    mapping: Mapping[str, str] | None,
    *,
    path: str,
) -> dict[str, FieldSource]:
    """Field -> FieldSource for the fields this file provides; checks --map names and required fields."""
    entity = preset.entity
    fields = FIELDS[entity]
    resolved: dict[str, FieldSource] = {}
    for name, candidates in preset.columns.items():
        hit = _find(columns, candidates)
        if hit is not None:
            resolved[name] = FieldSource((hit,))
    for name, (cols, sep, labelled) in preset.joined.items():
        present = tuple(c for c in (_find(columns, (c,)) for c in cols) if c is not None)
        if present:
            resolved[name] = FieldSource(present, sep, labelled)
    for column, target in (mapping or {}).items():
        if target not in fields:
            raise InputError(
                f"--map {column}={target}: {target!r} is not a field of {entity}; fields are: {', '.join(fields)}."
            )
        hit = column if column in columns else _find(columns, (column,))
        if hit is None:
            raise InputError(
                f"--map {column}={target}: column {column!r} is not in {path}; columns are: {', '.join(columns)}."
            )
        resolved[target] = FieldSource((hit,))
    missing = [f for f in REQUIRED[entity] if f not in resolved and f not in preset.constants]
    if entity == "orders" and "unit_price" not in resolved and "amount" not in resolved:
        missing.append("unit_price")
    if missing:
        hints = ", ".join(f"--map COLUMN={f}" for f in missing)
        raise InputError(
            f"{path}: no column found for {', '.join(missing)} (preset {preset.name!r}). "
            f"Name the columns with {hints}; columns in the file: {', '.join(columns)}."
        )
    return resolved
