"""Framework-neutral pieces of the HTTP contract: parsing, answers and errors as bytes.

Every stack adapter calls these, so the JSON on the wire is the same everywhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import ValidationError

from shared_model.predictor import Predictions
from shared_model.schemas import BatchPredictRequest, ErrorBody, ErrorCode, PredictRequest

MAX_BODY_BYTES = 1024 * 1024
JSON = "application/json"


class ContractError(Exception):
    """An answer other than 200, already shaped as an ErrorBody."""

    def __init__(
        self,
        status: int,
        error: ErrorCode,
        message: str,
        details: Iterable[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = list(details)
        self.headers = dict(headers or {})

    def body(self, request_id: str | None = None) -> bytes:
        return error_payload(self.error, self.message, request_id, self.details)


def new_request_id() -> str:
    return uuid.uuid4().hex


def error_payload(
    error: ErrorCode,
    message: str,
    request_id: str | None = None,
    details: Iterable[Mapping[str, Any]] = (),
) -> bytes:
    return orjson.dumps(
        {"error": error, "message": message, "request_id": request_id, "details": list(details)}
    )


def not_ready() -> ContractError:
    return ContractError(503, "not_ready", "the model is still loading", headers={"Retry-After": "1"})


def overloaded() -> ContractError:
    return ContractError(
        503, "overloaded", "the server is at capacity, retry later", headers={"Retry-After": "1"}
    )


def timed_out(seconds: float) -> ContractError:
    return ContractError(504, "timeout", f"no answer within {seconds:g} s")


def check_media_type(content_type: str | None) -> None:
    if content_type is None or content_type.split(";", 1)[0].strip().lower() != JSON:
        raise ContractError(415, "unsupported_media_type", f"send the body as {JSON}")


def check_declared_length(content_length: str | None) -> None:
    if content_length is not None and content_length.isdigit() and int(content_length) > MAX_BODY_BYTES:
        raise too_large()


def bad_request(message: str) -> ContractError:
    """A request whose HTTP framing is broken (its body cannot be read as sent)."""
    return ContractError(400, "bad_request", message)


def too_large() -> ContractError:
    return ContractError(413, "payload_too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")


def _field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    # Only location, message and type: never the offending input, which may be huge.
    return [
        {"loc": [p for p in e["loc"]], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


def _validation_error(exc: ValidationError) -> ContractError:
    details = _field_errors(exc)
    if any(d["type"] == "json_invalid" for d in details):
        return ContractError(422, "invalid_json", "the body is not valid JSON", details)
    return ContractError(422, "validation_error", "the request does not match the schema", details)


def parse_single(body: bytes) -> PredictRequest:
    try:
        return PredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def parse_batch(body: bytes) -> BatchPredictRequest:
    try:
        return BatchPredictRequest.model_validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc) from None


def single_payload(predictions: Predictions, model_version: str) -> bytes:
    item = predictions.as_dicts()[0]
    item["model_version"] = model_version
    return orjson.dumps(item)


def batch_payload(predictions: Predictions, model_version: str) -> bytes:
    results = predictions.as_dicts()
    return orjson.dumps(
        {"results": results, "batch_size": len(results), "model_version": model_version}
    )


def status_error(status: int) -> ContractError:
    """ErrorBody for statuses the framework raises itself (routing, methods)."""
    if status == 404:
        return ContractError(404, "not_found", "no such path")
    if status == 405:
        return ContractError(405, "method_not_allowed", "method not allowed on this path")
    if status == 413:
        return too_large()
    if status == 415:
        return ContractError(415, "unsupported_media_type", f"send the body as {JSON}")
    if status == 400:
        return bad_request("the request could not be read")
    if 400 <= status < 500:
        return ContractError(status, "validation_error", "the request was rejected")
    return ContractError(500, "internal_error", "unexpected server error")


ERROR_BODY_SCHEMA = ErrorBody.model_json_schema()
