"""Listening fixtures: one loaded model and one fitted default classifier per test session."""

from __future__ import annotations

import pytest

from heedful.listen.classify import Classifier


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.build()
