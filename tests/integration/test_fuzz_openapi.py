"""Property-based fuzzing of every stack that publishes an OpenAPI document."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from servers.process import ServerProcess
from servers.registry import STACKS

PUBLISHING = [name for name, stack in STACKS.items() if stack.openapi]
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.mark.parametrize("name", PUBLISHING)
def test_no_server_errors_and_answers_match_the_published_schema(name: str) -> None:
    stack = STACKS[name]
    assert stack.openapi is not None
    with ServerProcess(stack) as server:
        schema = schemathesis.openapi.from_url(server.url + stack.openapi)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert any(op.path == stack.paths["predict"] for op in operations)
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case: schemathesis.Case) -> None:
                case.call_and_validate(base_url=server.url, checks=CHECKS)

            fuzz()
