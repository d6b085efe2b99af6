"""Is an answer right? Shared by every load generator that reads answers, in any protocol.

Each check returns None when the answer is right, else the failure name recorded for it.
"""

from __future__ import annotations

from loadtests.plans import PlannedRequest
from servers.protocols import NotAnAnswer, Protocol


def failure(protocol: Protocol, request: PlannedRequest, status: int, body: bytes) -> str | None:
    if status != 200:
        return f"status_{status}"
    if request.kind == "ready":
        return None if protocol.ready(status, body) else "schema"
    if request.kind == "health":
        return None
    try:
        answers = protocol.answers(body, request.rows, request.kind == "batch")
    except NotAnAnswer:
        return "schema"
    if any(answer.prediction != want for answer, want in zip(answers, request.expected, strict=True)):
        return "wrong_class"
    return None
