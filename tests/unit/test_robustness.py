from __future__ import annotations

from dataclasses import replace

import pytest

from loadtests.classify import classify
from loadtests.connection_cases import (
    CONNECTION_CASES,
    ConnectionCase,
    Seen,
    as_declared,
    idle_connections,
    judge,
)
from loadtests.robustness import slow_body_case, slow_headers_case
from servebench.results.kinds import CaseResult
from servers.knobs import stack_variant
from servers.registry import STACKS, Deviation, get_stack
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


def test_the_slow_cases_are_invalid_on_purpose() -> None:
    assert slow_body_case().status == slow_headers_case().status == 422
    assert slow_headers_case().body == slow_body_case().body


def _connection_case(name: str) -> ConnectionCase:
    return next(c for c in CONNECTION_CASES if c.name == name)


def _result(case: str, status: int | None, outcome: str, group: str = "connection") -> CaseResult:
    return CaseResult(case=case, group=group, expected=200, declared=200, status=status, error_body=False,
                      latency_ms=1.0, ready_after=True, outcome=outcome)  # type: ignore[arg-type]


def test_a_connection_case_is_judged_like_bad_input() -> None:
    stack = get_stack("fastapi_threadpool")
    case = _connection_case("negative_length")
    assert judge(stack, case, Seen(400, False, 1.0, "yes", ""), True) == "pass"
    assert judge(stack, case, Seen(None, False, 1.0, "yes", "closed"), True) == "pass"
    assert judge(stack, case, Seen(400, False, 1.0, "yes", ""), False) == "fail"
    assert judge(stack, case, Seen(422, True, 1.0, "no", ""), True) == "undeclared"
    assert judge(stack, case, Seen(200, False, 1.0, "no", ""), True) == "fail"
    assert judge(stack, case, Seen(None, False, 1.0, "no", "no answer in time"), True) == "fail"


def test_a_declared_failure_stays_a_failure_but_is_the_declared_one() -> None:
    stack = replace(get_stack("fastapi_threadpool"), deviations=(
        Deviation("resets big uploads", ("upload_2mib",), no_answer=True),
        Deviation("500 on both framings", ("length_and_chunked",), status=500, error_body=False),
        Deviation("answers oversized headers", ("oversized_headers",), status=200, error_body=False),
    ))
    refused = Seen(500, False, 1.0, "no", "")
    assert judge(stack, _connection_case("length_and_chunked"), refused, True) == "fail"
    answered = Seen(200, False, 1.0, "no", "")
    assert judge(stack, _connection_case("oversized_headers"), answered, True) == "declared"
    assert as_declared(stack, _result("upload_2mib", None, "fail", "size"))
    assert as_declared(stack, _result("length_and_chunked", 500, "fail", "framing"))
    assert not as_declared(stack, _result("length_and_chunked", 502, "fail", "framing"))
    assert not as_declared(get_stack("fastapi_threadpool"), _result("upload_2mib", None, "fail", "size"))


def test_the_idle_flood_is_sized_from_the_stacks_own_knobs() -> None:
    flask = get_stack("flask_gunicorn")
    assert idle_connections(flask) == 4 * flask.knobs["workers"] + 8
    threaded = flask.with_knobs(worker_class="gthread", threads=4)
    assert idle_connections(threaded) == 4 * 4 * flask.knobs["workers"] + 8
    assert idle_connections(get_stack("triton")) == 4 * 8 + 8  # Triton's HTTP threads


def test_a_stack_is_named_as_registered_or_with_knobs_overridden() -> None:
    assert stack_variant("flask_gunicorn", STACKS) is STACKS["flask_gunicorn"]
    sync = stack_variant("flask_gunicorn:worker_class=sync,workers=2", STACKS)
    assert (sync.knobs["worker_class"], sync.knobs["workers"]) == ("sync", 2)
    with pytest.raises(ValueError, match="unknown stack"):
        stack_variant("nope", STACKS)
    with pytest.raises(ValueError, match="no knob"):
        stack_variant("flask_gunicorn:nope=1", STACKS)
