"""Pieces both BentoML services share: knobs, the contract's GET routes, answers as Responses.

BentoML serves the prediction paths itself (`@bentoml.api` with the contract's schemas as
`input_spec`); the probes, /info and /api/v1/model are a FastAPI app mounted on the service
(`@bentoml.mount_asgi_app`), BentoML's documented way to add routes. BentoML's own /livez,
/readyz and /metrics stay where they are; /metrics also carries the contract's metrics because
BentoML runs prometheus_client in multiprocess mode and collects every process's samples.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any, Protocol

import bentoml
from fastapi import Depends, FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from servers import metrics
from servers.contract import JSON, ContractError, new_request_id, not_ready, status_error
from servers.registry import PATHS, get_stack

log = logging.getLogger("servebench.bentoml")

# No per-request access log line, as on every other stack.
NO_ACCESS_LOG: dict[str, Any] = {"access": {"enabled": False}}


def knobs_for(stack: str) -> dict[str, Any]:
    """The effective knobs: the launcher's SERVEBENCH_KNOBS, else the registry's defaults."""
    return json.loads(os.environ.get("SERVEBENCH_KNOBS") or "null") or dict(get_stack(stack).knobs)


class ContractHost(Protocol):
    """What a BentoML service offers the mounted contract routes."""

    def liveness(self) -> dict[str, Any]: ...

    async def model_status(self) -> dict[str, Any]: ...

    async def model_info(self) -> dict[str, Any]: ...


def error_response(error: ContractError, endpoint: str | None = None,
                   request_id: str | None = None) -> Response:
    if endpoint is not None:
        metrics.ERRORS.labels(endpoint, error.error).inc()
    return Response(error.body(request_id), error.status, error.headers, media_type=JSON)


def unexpected(endpoint: str, exc: BaseException) -> Response:
    request_id = new_request_id()
    log.error("request %s failed", request_id, exc_info=exc)
    return error_response(status_error(500), endpoint, request_id)


def status_of(service: Any) -> dict[str, Any]:
    """Readiness, version and metadata of a ModelService, as plain JSON-able data."""
    predictor = service.predictor
    if predictor is None:
        return {"ready": False}
    return {"ready": True, "version": predictor.version, "metadata": predictor.metadata}


def _host() -> ContractHost:
    return bentoml.get_current_service()  # type: ignore[no-any-return]


_HOST = Depends(_host)


def contract_app() -> FastAPI:
    """The contract's GET routes, mounted at "/" behind BentoML's own routes."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    async def ready_status(host: ContractHost) -> dict[str, Any]:
        status = await host.model_status()
        if not status["ready"]:
            raise not_ready()
        return status

    @app.get(PATHS["health"])
    async def health(host: ContractHost = _HOST) -> dict[str, Any]:
        return host.liveness()

    @app.get(PATHS["ready"])
    async def ready(host: ContractHost = _HOST) -> dict[str, Any]:
        status = await ready_status(host)
        return {"status": "ready", "model_version": status["version"]}

    @app.get(PATHS["model"])
    async def model(host: ContractHost = _HOST) -> dict[str, Any]:
        return (await ready_status(host))["metadata"]  # type: ignore[no-any-return]

    @app.get(PATHS["info"])
    async def info(host: ContractHost = _HOST) -> dict[str, Any]:
        return await host.model_info()

    # BentoML mounts apps passively (only paths the app has a route for reach it), so without
    # this its router would answer unknown paths itself, with a plain-text 404.
    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def unknown(path: str) -> Response:
        return error_response(status_error(405 if f"/{path}" in PATHS.values() else 404))

    @app.exception_handler(ContractError)
    async def contract_error(_: Request, error: ContractError) -> Response:
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return error_response(status_error(exc.status_code))

    return app
