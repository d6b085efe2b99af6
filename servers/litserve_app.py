"""LitServe stacks: `python -m servers.litserve_app --host H --port P` (knobs from SERVEBENCH_KNOBS).

Two LitAPIs in one LitServer, one per prediction path, each with its own inference worker
process; the API server process(es) parse HTTP and pass requests to the workers through
queues. The contract's other routes are added to LitServe's FastAPI app. LitServe's own
readiness probe moves to /litserve/health and its info to /litserve/info, because the
contract's /health is a liveness probe (200 while the process lives) and /info is the
contract's; the contract's /health/ready uses the same readiness hooks (LitAPI.health).
"""

from __future__ import annotations

import argparse
import json
import os
from functools import cache
from typing import Any

import litserve as ls
from fastapi import Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from servers import metrics
from servers.contract import JSON, ContractError, not_ready, overloaded, status_error
from servers.contract_guard import ContractGuard
from servers.litserve_api import ChurnLitAPI
from servers.registry import PATHS, get_stack
from servers.service import ModelService
from shared_model.models import model_from_env

_ENDPOINTS = {PATHS["predict"]: "single", PATHS["batch"]: "batch"}


def knobs() -> dict[str, Any]:
    stack = os.environ.get("SERVEBENCH_STACK", "litserve")
    return json.loads(os.environ.get("SERVEBENCH_KNOBS") or "null") or dict(get_stack(stack).knobs)


@cache
def _metadata() -> dict[str, Any]:
    # The workers hold the model; the API server reads the metadata of the same artifact,
    # which the workers verified against its sha256 when they loaded it.
    return model_from_env().metadata()


def _answer(error: ContractError) -> Response:
    return Response(error.body(), error.status, error.headers, media_type=JSON)


def _from_http(exc: StarletteHTTPException) -> ContractError:
    """The ContractError a worker raised (see litserve_api.http_error), or one for the status."""
    detail = exc.detail
    if isinstance(detail, dict) and "error" in detail:
        if detail["error"] == "not_ready":
            return not_ready()
        if detail["error"] == "overloaded":
            return overloaded()
        return ContractError(exc.status_code, detail["error"], detail["message"], detail["details"])
    if exc.status_code == 504:  # LitServe's answer to a request that waited past `timeout`
        return ContractError(504, "timeout", "the request waited too long for a worker")
    return status_error(exc.status_code)


def build(settings: dict[str, Any]) -> ls.LitServer:
    single = ChurnLitAPI(
        "single",
        max_batch_size=int(settings["max_batch_size"]),
        batch_timeout=float(settings["batch_timeout_s"]),
    )
    apis = [single, ChurnLitAPI("batch")]  # a batch request is already one model call
    for api in apis:
        api.server_loaded = [each.loaded for each in apis]
    server = ls.LitServer(
        apis,
        accelerator="cpu",
        workers_per_device=int(settings["workers"]),
        timeout=float(settings["timeout_s"]),
        healthcheck_path="/litserve/health",
        info_path="/litserve/info",
        middlewares=[ContractGuard],
    )
    # How long its API server waits for in-flight requests on shutdown (LitServe's default: 30).
    server.uvicorn_graceful_timeout = int(settings["graceful_timeout_s"])
    host = ModelService()  # liveness and /info of the API server process

    def ready() -> bool:
        return all(api.health() for api in apis)

    @server.app.get(PATHS["health"])
    async def health() -> dict[str, Any]:
        return host.health()

    @server.app.get(PATHS["ready"])
    async def readiness() -> Any:
        if not ready():
            return _answer(not_ready())
        return {"status": "ready", "model_version": _metadata()["sha256"][:12]}

    @server.app.get(PATHS["model"])
    async def model() -> Any:
        return _metadata() if ready() else _answer(not_ready())

    @server.app.get(PATHS["info"])
    async def info() -> dict[str, Any]:
        answer = host.info()
        loaded = ready()
        sha = _metadata()["sha256"] if loaded else None
        answer["model"].update(sha256=sha, version=sha[:12] if sha else None, loaded=loaded)
        return answer

    @server.app.get(PATHS["metrics"])
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @server.app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        error = _from_http(exc)
        endpoint = _ENDPOINTS.get(request.url.path)
        raised_by_worker = isinstance(exc.detail, dict)  # the worker counted it already
        if endpoint is not None and not raised_by_worker:
            metrics.ERRORS.labels(endpoint, error.error).inc()
        return _answer(error)

    host.freeze_startup_heap()  # the API server processes are forked from this one
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=get_stack("litserve").default_port)
    args = parser.parse_args()
    settings = knobs()
    build(settings).run(
        host=args.host,
        port=args.port,
        num_api_servers=int(settings["api_servers"]),
        generate_client_file=False,
        access_log=False,  # no per-request log line, as on every other stack
    )


if __name__ == "__main__":
    main()
