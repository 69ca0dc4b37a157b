"""Fixtures for the importer tests: small input files written per test into tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_data import RETAIL_HEADER, RETAIL_ROWS, write


@pytest.fixture
def retail_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "retail.csv", "\n".join([RETAIL_HEADER, *RETAIL_ROWS]) + "\n")
