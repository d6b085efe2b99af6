"""How a client asks a stack for predictions, declared per stack.

Most stacks serve the contract's own paths and bodies. A framework that cannot (Triton speaks
only the Open Inference / KServe v2 protocol; TorchServe and MLflow have fixed paths) declares
its native protocol instead, and every client of servebench (load generators, verification,
robustness, the gate) translates the contract's rows into the native request once, at plan
time, and the native answer back into the contract's terms to check it. Never a proxy in front
of the stack: a proxy adds a hop and its own event loop, and the numbers would be the proxy's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

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
        if batch:
            return NativeRequest("POST", paths["batch"], orjson.dumps({"items": list(rows)}))
        (row,) = rows
        return NativeRequest("POST", paths["predict"], orjson.dumps(row))

    def answers(self, body: bytes, rows: int, batch: bool) -> list[Answer]:
        """The answers in a 200 body, one per row sent; NotAnAnswer when it is not one."""
        try:
            data = orjson.loads(body)
            items = data["results"] if batch else [data]
            found = [Answer(item["prediction"], item.get("probability")) for item in items]
        except (orjson.JSONDecodeError, KeyError, TypeError) as error:
            raise NotAnAnswer(f"not a prediction: {body[:200]!r}") from error
        if len(found) != rows:
            raise NotAnAnswer(f"{len(found)} answers for {rows} rows")
        return found


CONTRACT = Protocol()
