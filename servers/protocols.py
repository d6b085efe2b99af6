"""How a client asks a stack for predictions, declared per stack.

Most stacks serve the contract's own paths and bodies. A framework that cannot (Triton speaks
only the Open Inference / KServe v2 protocol; TorchServe and MLflow have fixed paths) declares
its native protocol instead, and every client of servebench (load generators, verification,
robustness, the gate) translates the contract's rows into the native request once, at plan
time, and the native answer back into the contract's terms to check it. Never a proxy in front
of the stack: a proxy adds a hop and its own event loop, and the numbers would be the proxy's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shared_model.schemas import BatchPredictResponse, PredictResponse

JSON = "application/json"
Row = Mapping[str, Any]  # one request row in the contract's terms: field name -> value


@dataclass(frozen=True)
class NativeRequest:
    """One HTTP request, ready to send (built once, sent many times)."""

    method: str
    path: str
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": JSON})


@dataclass(frozen=True)
class Answer:
    """One row's answer in the contract's terms."""

    prediction: Any  # the class label (classifiers) or the number (regressors)
    probability: Mapping[str, float] | None  # label -> probability, for classifiers


class NotAnAnswer(ValueError):
    """The body is not the protocol's answer for the rows sent."""


class Protocol:
    """The contract itself: POST a row to `predict`, `{"items": rows}` to `batch`."""

    name = "contract"
    description = "servebench's HTTP contract: its paths, bodies, errors and probes"

    def request(self, rows: Sequence[Row], batch: bool, paths: Mapping[str, str]) -> NativeRequest:
        singles = [json.dumps(row).encode() for row in rows]
        if batch:
            return NativeRequest("POST", paths["batch"], b'{"items":[' + b",".join(singles) + b"]}")
        (single,) = singles
        return NativeRequest("POST", paths["predict"], single)

    def answers(self, body: bytes, rows: int, batch: bool) -> list[Answer]:
        """The answers in a 200 body, one per row sent; NotAnAnswer when it is not one."""
        try:
            if batch:
                many = BatchPredictResponse.model_validate_json(body)
                items = [(i.prediction, i.probability.model_dump()) for i in many.results]
                if many.batch_size != len(items):
                    raise NotAnAnswer(f"batch_size {many.batch_size} for {len(items)} results")
            else:
                one = PredictResponse.model_validate_json(body)
                items = [(one.prediction, one.probability.model_dump())]
        except ValidationError as error:
            raise NotAnAnswer(f"not a prediction: {body[:200]!r}") from error
        if len(items) != rows:
            raise NotAnAnswer(f"{len(items)} answers for {rows} rows")
        return [Answer(prediction, probability) for prediction, probability in items]

    def ready(self, status: int, body: bytes) -> bool:
        """Whether a readiness answer says ready."""
        if status != 200:
            return False
        try:
            return bool(json.loads(body).get("status") == "ready")
        except (ValueError, AttributeError):
            return False


CONTRACT = Protocol()
# Every protocol by name: plans carry the name across the process boundary.
PROTOCOLS: dict[str, Protocol] = {CONTRACT.name: CONTRACT}
