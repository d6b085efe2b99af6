"""Flask (WSGI) stack, run under gunicorn (gevent workers by default, see servers/registry.py)."""

from __future__ import annotations

import logging
from typing import Any, cast

from flask import Flask, Response, request
from gunicorn.http.errors import ParseException
from werkzeug.exceptions import HTTPException

from servers import metrics
from servers.contract import (
    JSON,
    MAX_BODY_BYTES,
    ContractError,
    bad_request,
    batch_payload,
    check_media_type,
    new_request_id,
    parse_batch,
    parse_single,
    single_payload,
    status_error,
)
from servers.registry import PATHS
from servers.service import ModelService

log = logging.getLogger("servebench.flask")

service = ModelService()
service.load()  # in gunicorn's master (preload_app): before the port opens

app = Flask(__name__)
app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES


def _json(payload: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(payload, status=status, headers=headers, content_type=JSON)


def _dict(payload: dict[str, Any]) -> Response:
    return cast(Response, app.json.response(payload))


def _body() -> bytes:
    check_media_type(request.headers.get("content-type"))
    try:
        body = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    except (ParseException, OSError) as error:
        # gunicorn parses a chunked body as the application reads it: a broken chunk (a size
        # that is no number, the client gone mid-chunk) surfaces here, and is the client's fault.
        raise bad_request(f"the body could not be read ({type(error).__name__})") from None
    declared = request.content_length
    if declared is not None and len(body) != declared:
        # gunicorn hands over what arrived when the client stops sending early: a body that did
        # not arrive whole is never answered as if it had.
        raise bad_request(f"the body ended after {len(body)} of its {declared} bytes")
    return body


def _endpoint() -> str:
    return "batch" if request.path == PATHS["batch"] else "single"


@app.post(PATHS["predict"])
def predict() -> Response:
    row = parse_single(_body())
    result = service.infer([row])
    metrics.PREDICTIONS.labels("single", "success").inc()
    return _json(single_payload(result, service.require().version))


@app.post(PATHS["batch"])
def predict_batch() -> Response:
    batch = parse_batch(_body())
    result = service.infer(batch.items)
    metrics.PREDICTIONS.labels("batch", "success").inc(len(batch.items))
    return _json(batch_payload(result, service.require().version))


@app.get(PATHS["model"])
def model() -> Response:
    return _dict(service.model_metadata())


@app.get(PATHS["info"])
def info() -> Response:
    return _dict(service.info())


@app.get(PATHS["health"])
def health() -> Response:
    return _dict(service.health())


@app.get(PATHS["ready"])
def ready() -> Response:
    return _dict(service.readiness())


@app.get(PATHS["metrics"])
def prometheus() -> Response:
    body, content_type = metrics.render()
    return Response(body, content_type=content_type)


@app.errorhandler(ContractError)
def contract_error(error: ContractError) -> Response:
    if request.path in (PATHS["predict"], PATHS["batch"]):
        metrics.ERRORS.labels(_endpoint(), error.error).inc()
    return _json(error.body(), error.status, error.headers)


@app.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return contract_error(status_error(exc.code or 500))


@app.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    request_id = new_request_id()
    metrics.ERRORS.labels(_endpoint(), "internal_error").inc()
    log.error("request %s failed", request_id, exc_info=exc)
    return _json(status_error(500).body(request_id), 500)
