"""Checks of a 200 answer's body against what the golden cases expect; shared by the load users.

Each returns None when the answer is right, else the failure name recorded for it.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from shared_model.schemas import BatchPredictResponse, PredictResponse


def check_single(body: bytes, expected: int) -> str | None:
    try:
        answer = PredictResponse.model_validate_json(body)
    except ValidationError:
        return "schema"
    return None if answer.prediction == expected else "wrong_class"


def check_batch(body: bytes, expected: list[int]) -> str | None:
    try:
        answer = BatchPredictResponse.model_validate_json(body)
    except ValidationError:
        return "schema"
    if answer.batch_size != len(expected) or len(answer.results) != len(expected):
        return "schema"
    ok = all(item.prediction == want for item, want in zip(answer.results, expected, strict=True))
    return None if ok else "wrong_class"


def check_ready(body: bytes) -> str | None:
    try:
        answer = json.loads(body)
    except ValueError:
        return "schema"
    return None if isinstance(answer, dict) and answer.get("status") == "ready" else "schema"
