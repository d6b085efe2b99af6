from __future__ import annotations

from dataclasses import replace

from loadtests.robustness import classify, slow_body_case
from servers.registry import Deviation, get_stack
from shared_model.cases import BAD

SCHEMA_CASE = next(c for c in BAD if c.group == "schema")


def test_the_contracts_answer_passes_and_anything_5xx_or_unready_fails() -> None:
    stack = get_stack("fastapi_threadpool")
    assert classify(stack, SCHEMA_CASE, 422, True, True) == "pass"
    assert classify(stack, SCHEMA_CASE, 500, True, True) == "fail"
    assert classify(stack, SCHEMA_CASE, None, False, True) == "fail"
    assert classify(stack, SCHEMA_CASE, 422, True, False) == "fail"
    assert classify(stack, SCHEMA_CASE, 400, True, True) == "undeclared"
    assert classify(stack, SCHEMA_CASE, 422, False, True) == "undeclared"


def test_a_declared_deviation_is_recognised_as_such() -> None:
    stack = replace(
        get_stack("fastapi_threadpool"),
        deviations=(Deviation("400 for schema errors", ("schema",), 400, error_body=False),),
    )
    assert classify(stack, SCHEMA_CASE, 400, False, True) == "declared"
    assert classify(stack, SCHEMA_CASE, 409, False, True) == "undeclared"


def test_the_slow_body_is_invalid_on_purpose() -> None:
    assert slow_body_case().status == 422
