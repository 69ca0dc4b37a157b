"""docs/data-model.md is generated from the schema and must be regenerated when the schema changes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from heedful.store.schema import TABLES

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "gen_data_model.py"


def _render() -> str:
    spec = importlib.util.spec_from_file_location("gen_data_model", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.render())


def test_committed_data_model_doc_is_up_to_date() -> None:
    doc = SCRIPT.parents[1] / "docs" / "data-model.md"
    assert doc.read_text() == _render(), "run: .venv/bin/python scripts/gen_data_model.py"


def test_data_model_doc_lists_every_table_and_column() -> None:
    text = _render()
    for table in TABLES:
        assert f"## `{table.name}`" in text
        for column in table.columns:
            assert f"| `{column.name}` |" in text
