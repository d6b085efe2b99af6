"""One FastAPI app for three inference modes: inline, thread pool, dynamic batcher.

Bodies are read once and validated once (`model_validate_json` on the raw bytes), and
answers are encoded with orjson: the per-request path does no redundant parsing. Predictions
and probes are DirectRoutes: documented in the OpenAPI as usual, but FastAPI solves no
dependencies and serializes no return value at request time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import anyio.to_thread
import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from servers import metrics
from servers.batcher import Batcher, QueueFull
from servers.contract import (
    JSON,
    MAX_BODY_BYTES,
    ContractError,
    batch_payload,
    check_declared_length,
    check_media_type,
    new_request_id,
    overloaded,
    parse_batch,
    parse_single,
    served,
    single_payload,
    status_error,
    timed_out,
    too_large,
)
from servers.draining import CloseConnectionsWhenDraining
from servers.registry import PATHS
from servers.service import ModelService
from shared_model.predictor import Predictions
from shared_model.schemas import ErrorBody

Mode = Literal["inline", "threadpool", "batcher"]
log = logging.getLogger("servebench.fastapi")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (413, 415, 422, 503, 504)
}


_REF = "#/components/schemas/{model}"


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body we parse ourselves (keeps /docs and API fuzzers informed)."""
    schema = {"$ref": _REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {JSON: {"schema": schema}}}}


def _with_request_schemas(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            _, definitions = models_json_schema(
                [(served().single, "validation"), (served().batch, "validation")],
                ref_template=_REF,
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                definitions["$defs"]
            )
            app.openapi_schema = schema
        return app.openapi_schema

    return openapi


async def _read_body(request: Request) -> bytes:
    check_media_type(request.headers.get("content-type"))
    check_declared_length(request.headers.get("content-length"))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


class DirectRoute(APIRoute):
    """A route whose endpoint takes the Request and returns the Response itself.

    FastAPI's documented hook for custom routes (`get_route_handler`): the route is declared
    and documented as any other (path, response model, error bodies in the OpenAPI), but at
    request time FastAPI neither solves dependencies nor serializes a return value, work a
    prediction endpoint that reads its own body and encodes its own answer does not need.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def _error_response(error: ContractError, request_id: str | None = None) -> Response:
    return Response(error.body(request_id), error.status, error.headers, media_type=JSON)


def create_app(mode: Mode) -> FastAPI:
    service = ModelService()
    knobs = service.knobs
    batcher: Batcher | None = None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal batcher
        if mode == "threadpool":
            anyio.to_thread.current_default_thread_limiter().total_tokens = int(knobs["threads"])
        if mode == "batcher":
            batcher = Batcher(
                service.infer,
                max_batch_size=int(knobs["max_batch_size"]),
                max_wait_ms=float(knobs["max_wait_ms"]),
                max_queue=int(knobs["max_queue"]),
                on_queue_wait=metrics.QUEUE_WAIT_SECONDS.observe,
                inline_call_handoffs=float(knobs["inline_call_handoffs"]),
            )
        service.start_loading()
        yield
        if batcher is not None:
            await batcher.close()

    contract = served()  # the request and answer models of the served model, from its declaration
    app = FastAPI(
        title=f"servebench: {service.title}, model {service.model.name}",
        version="1.0.0",
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service

    async def infer_inline(rows: Sequence[Any]) -> Predictions:
        return service.infer(rows)  # deliberately blocks the event loop

    async def infer_threadpool(rows: Sequence[Any]) -> Predictions:
        return await run_in_threadpool(service.infer, rows)

    async def infer_batched(rows: Sequence[Any]) -> Predictions:
        assert batcher is not None
        service.require()
        try:
            return await batcher.submit(rows)
        except QueueFull:
            raise overloaded() from None

    infer_mode: Callable[[Sequence[Any]], Awaitable[Predictions]] = {
        "inline": infer_inline,
        "threadpool": infer_threadpool,
        "batcher": infer_batched,
    }[mode]
    timeout_s = float(knobs["request_timeout_s"]) if "request_timeout_s" in knobs else None

    async def infer(rows: Sequence[Any]) -> Predictions:
        if timeout_s is None:  # inline: nothing can interrupt a call that blocks the loop
            return await infer_mode(rows)
        try:
            async with asyncio.timeout(timeout_s):  # unlike wait_for, no extra task per request
                return await infer_mode(rows)
        except TimeoutError:
            raise timed_out(timeout_s) from None

    # Admission control: past this many requests in flight, answer 503 at once rather than
    # let every request's latency grow with an unbounded backlog. (Inline has no limit: its
    # blocked loop cannot even see new requests to refuse them.)
    max_inflight = int(knobs["max_inflight"]) if "max_inflight" in knobs else None
    inflight = 0

    async def parsed(request: Request, parse: Callable[[bytes], Any]) -> Any:
        if batcher is None:
            return parse(await _read_body(request))
        with batcher.arrival():
            return parse(await _read_body(request))

    async def answer(request: Request, parse: Callable[[bytes], Any],
                     rows_of: Callable[[Any], Sequence[Any]]) -> tuple[Any, Predictions]:
        nonlocal inflight
        if max_inflight is not None and inflight >= max_inflight:
            raise overloaded()
        inflight += 1
        try:
            body = await parsed(request, parse)
            return body, await infer(rows_of(body))
        finally:
            inflight -= 1

    single_ok = metrics.PREDICTIONS.labels("single", "success")  # bound once: a hot path
    batch_ok = metrics.PREDICTIONS.labels("batch", "success")

    async def predict(request: Request) -> Response:
        try:
            _, result = await answer(request, parse_single, lambda row: [row])
        except ContractError as error:
            metrics.ERRORS.labels("single", error.error).inc()
            return _error_response(error)
        single_ok.inc()
        return Response(single_payload(result, service.require().version), media_type=JSON)

    async def predict_batch(request: Request) -> Response:
        try:
            batch, result = await answer(request, parse_batch, lambda batch: batch.items)
        except ContractError as error:
            metrics.ERRORS.labels("batch", error.error).inc()
            return _error_response(error)
        batch_ok.inc(len(batch.items))
        return Response(batch_payload(result, service.require().version), media_type=JSON)

    for path, endpoint, response, request_model in (
        (PATHS["predict"], predict, contract.response, contract.single),
        (PATHS["batch"], predict_batch, contract.batch_response, contract.batch),
    ):
        app.router.add_api_route(path, endpoint, methods=["POST"], response_model=response,
                                 responses=_ERRORS, openapi_extra=_json_body(request_model),
                                 route_class_override=DirectRoute)

    # The probes take the same route class as predictions: the framework ceiling (the liveness
    # probe under load) is then what this server's routes cost with no body and no model,
    # not a heavier path than the predictions it is compared with.
    async def health(_: Request) -> Response:
        return Response(orjson.dumps(service.health()), media_type=JSON)

    async def ready(_: Request) -> Response:
        return Response(orjson.dumps(service.readiness()), media_type=JSON)

    for path, probe, errors in ((PATHS["health"], health, None), (PATHS["ready"], ready, _ERRORS)):
        app.router.add_api_route(path, probe, methods=["GET"], response_model=dict[str, Any],
                                 responses=errors, route_class_override=DirectRoute)

    @app.get(PATHS["model"], responses=_ERRORS)
    async def model() -> dict[str, Any]:
        return service.model_metadata()

    @app.get(PATHS["info"])
    async def info() -> dict[str, Any]:
        found = service.info()
        if batcher is not None:  # what the batcher measured and chose, for whoever wonders why
            stats = batcher.stats
            found["batcher"] = {
                "handoff_us": round(stats.handoff_s * 1e6, 1) if stats.handoff_s is not None else None,
                "lone_call_us": round(stats.lone_call_s * 1e6, 1) if stats.lone_call_s is not None else None,
                "inline_calls": stats.inline_calls, "batches": stats.batches, "rows": stats.rows,
            }
        return found

    @app.get(PATHS["metrics"], include_in_schema=False)
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.exception_handler(ContractError)
    async def contract_error(_: Request, error: ContractError) -> Response:
        return _error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error_response(status_error(exc.status_code))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        request_id = new_request_id()
        endpoint = "batch" if request.url.path == PATHS["batch"] else "single"
        metrics.ERRORS.labels(endpoint, "internal_error").inc()
        log.error("request %s failed", request_id, exc_info=exc)
        return _error_response(status_error(500), request_id)

    app.openapi = _with_request_schemas(app)  # type: ignore[method-assign]
    app.add_middleware(CloseConnectionsWhenDraining)
    return app
