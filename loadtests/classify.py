"""How an answer to a bad request is judged: against the contract and the stack's declarations."""

from __future__ import annotations

from pydantic import ValidationError

from servebench.results.kinds import CaseOutcome
from servers.registry import Stack
from shared_model.cases import BadCase
from shared_model.schemas import ErrorBody


def is_error_body(body: bytes) -> bool:
    try:
        ErrorBody.model_validate_json(body)
    except ValidationError:
        return False
    return True


def classify(stack: Stack, case: BadCase, status: int | None, error_body: bool, ready: bool) -> CaseOutcome:
    if status is None or status >= 500 or not ready:
        return "fail"
    if status == case.status and error_body:
        return "pass"
    declared_status, declared_body = stack.expected_bad(case)
    if status == declared_status and (error_body or not declared_body):
        return "declared"
    return "undeclared" if 400 <= status < 500 else "fail"
