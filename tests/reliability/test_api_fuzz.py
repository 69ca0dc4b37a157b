"""The REST API fuzzed from its own OpenAPI schema with Schemathesis, in process against the ASGI
app with an analyst's API token: no 5xx, and every response matches the documented schema."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from heedful.services.accounts import Role

from .conftest import World

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_api_conforms_to_its_schema(world: World) -> None:
    """Every operation, a bounded number of generated cases each (positive and negative data)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    headers = {"Authorization": f"Bearer {world.tokens[Role.analyst]}"}
    failures: dict[str, str] = {}
    operations = 0
    for result, mode in itertools.product(list(schema.get_all_operations()), GenerationMode):
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, or only a free-text path segment)
            assert mode is GenerationMode.NEGATIVE
        except BaseException as exc:
            failures[f"{operation.label} ({mode.value} data)"] = str(exc)[:2000]
    assert operations >= 30
    assert not failures, "\n\n".join(f"== {label}\n{text}" for label, text in failures.items())
