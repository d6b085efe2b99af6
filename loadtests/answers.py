"""Is an answer right? Shared by every load generator that reads answers, in any protocol.

Each check returns None when the answer is right, else the failure name recorded for it.
"""

from __future__ import annotations

from typing import Any

from loadtests.plans import PlannedRequest
from servers.protocols import NotAnAnswer, Protocol
from shared_model.model_schema import ModelSchema

VALUE_TOLERANCE = 1e-6  # a regressor's value, as the model computed it in process


def _right(got: Any, want: Any) -> bool:
    if isinstance(want, float) and not isinstance(want, bool):
        number = isinstance(got, int | float) and not isinstance(got, bool)
        return number and abs(got - want) <= VALUE_TOLERANCE
    return bool(got == want)


def failure(protocol: Protocol, request: PlannedRequest, status: int, body: bytes,
            model: ModelSchema | None = None) -> str | None:
    if status != 200:
        return f"status_{status}"
    if request.kind == "ready":
        return None if protocol.ready(status, body) else "schema"
    if request.kind == "health":
        return None
    try:
        answers = protocol.answers(body, request.rows, request.kind == "batch", model)
    except NotAnAnswer:
        return "schema"
    expected = zip(answers, request.expected, strict=True)
    if not all(_right(answer.prediction, want) for answer, want in expected):
        return "wrong_class"
    return None
