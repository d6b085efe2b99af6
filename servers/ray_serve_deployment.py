"""The Ray Serve deployment of both Ray stacks: a FastAPI ingress (`@serve.ingress`) serving the contract.

Each replica is a Ray actor process holding one ModelService (background load, readiness 503
until loaded, /info, timed model calls). Bodies are parsed with servers/contract.py, answers
and errors are the same bytes as on every other stack, and the contract's metrics are written
in Prometheus multiprocess mode into one directory per node, so /metrics, whichever replica
answers it, sums every replica on that node (every replica of a single-node stack).

Model calls run in one thread per replica (as in fastapi_batcher), so the replica's event loop
never blocks: the condition under which Serve's performance guide allows user code and router
on the replica's main loop (RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD=0,
RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP=0, see servers/ray_serve_app.py).

- ray_serve: single predictions go through `@serve.batch`, which collects up to
  max_batch_size requests or batch_wait_timeout_s after the first, then makes one model call;
  a batch request is already one model call and goes straight to the model thread.
- ray_serve_nobatch: one model call per request.

Readiness is 503 until this replica's model is loaded *and* every replica of the deployment
has loaded its model: each replica records its load in Ray's cluster key-value store (GCS),
keyed by the launch, and readiness counts them against the deployment's replica count.
"""

# No `from __future__ import annotations` here: the route classes travel to the replicas by
# value, and FastAPI must see their annotations (Request) as objects, not names to look up.
import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import ray
from fastapi import FastAPI, Request
from fastapi.responses import Response
from ray import serve
from ray.experimental import internal_kv
from ray.serve._private import replica as replica_module
from starlette.exceptions import HTTPException as StarletteHTTPException

from servers import metrics
from servers.contract import (
    JSON,
    MAX_BODY_BYTES,
    ContractError,
    batch_payload,
    check_declared_length,
    check_media_type,
    new_request_id,
    not_ready,
    parse_batch,
    parse_single,
    single_payload,
    status_error,
    too_large,
)
from servers.registry import PATHS
from servers.service import ModelService
from shared_model.features import to_matrix
from shared_model.predictor import Predictions

log = logging.getLogger("servebench.ray_serve")

APP_NAME = "churn"
DEPLOYMENT_NAME = "ChurnModel"
KV_NAMESPACE = "servebench"
# Response headers naming the replica that answered (and its node), for the spread report.
REPLICA_HEADER = "X-Replica"
NODE_HEADER = "X-Node"

def _error_response(error: ContractError, request_id: str | None = None) -> Response:
    return Response(error.body(request_id), error.status, error.headers, media_type=JSON)


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


def _bind_internal_grpc_to(node_ip: str) -> None:
    """Serve's replica opens a gRPC server for calls between deployments on `[::]:0`, every
    interface, once the constructor returns (ray/serve/_private/replica.py, Ray 2.60): this
    binds it to the node's IP instead, the address Ray advertises for the node. The server is
    not on the HTTP request path (the proxy calls the replica through Ray's actor calls)."""
    original = replica_module.add_port_to_grpc_server
    if getattr(original, "servebench_node_ip", None) == node_ip:
        return
    host = f"[{node_ip}]" if ":" in node_ip else node_ip

    def bind_to_node_ip(server: Any, address: str) -> Any:
        if address.startswith("[::]:"):
            address = f"{host}:{address.rsplit(':', 1)[1]}"
        return original(server, address)

    bind_to_node_ip.servebench_node_ip = node_ip  # type: ignore[attr-defined]
    replica_module.add_port_to_grpc_server = bind_to_node_ip


def _kv_prefix(launch_id: str) -> bytes:
    return f"loaded/{launch_id}/".encode()


class ChurnReplica:
    """What a replica holds and does, apart from HTTP routing: the model in one thread."""

    def __init__(self, knobs: dict[str, Any], launch_id: str) -> None:
        self.knobs = knobs
        self.launch_id = launch_id
        self.service = ModelService()
        self.service.knobs = dict(knobs)  # the launcher's knobs, whatever the node's environment
        context = serve.get_replica_context()
        self.replica_id = context.replica_id.unique_id
        self.world_size = int(context.world_size)
        self.node_id = ray.get_runtime_context().get_node_id()
        self.node_ip = ray.util.get_node_ip_address()
        self.headers = {REPLICA_HEADER: self.replica_id, NODE_HEADER: self.node_ip}
        _bind_internal_grpc_to(self.node_ip)
        self._model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._all_loaded = False
        self.single_ok = metrics.PREDICTIONS.labels("single", "success")  # bound once: hot path
        self.batch_ok = metrics.PREDICTIONS.labels("batch", "success")
        self.service.start_loading(on_loaded=self._record_loaded)

    # -- readiness: every replica of the deployment has its model -------------------------
    def _record_loaded(self) -> None:
        key = _kv_prefix(self.launch_id) + self.replica_id.encode()
        internal_kv._internal_kv_put(key, self.node_ip.encode(), overwrite=True, namespace=KV_NAMESPACE)

    def _count_loaded(self) -> int:
        return len(internal_kv._internal_kv_list(_kv_prefix(self.launch_id), namespace=KV_NAMESPACE))

    async def every_replica_loaded(self) -> bool:
        if not self._all_loaded:  # sticky: asks the cluster's store until it is true once
            loaded = await asyncio.to_thread(self._count_loaded)
            self._all_loaded = loaded >= self.world_size
        return self._all_loaded

    def replica_info(self) -> dict[str, Any]:
        return {"id": self.replica_id, "node_id": self.node_id, "node_ip": self.node_ip,
                "replicas": self.world_size}

    # -- model calls ------------------------------------------------------------------------
    async def predict_rows(self, rows: Sequence[Any]) -> Predictions:
        self.service.require()
        X = to_matrix(rows)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._model_thread, self.service.infer_matrix, X)

    async def predict_one(self, row: Any) -> Predictions:
        return await self.predict_rows([row])


class BatchedChurnReplica(ChurnReplica):
    """Single predictions share model calls through `@serve.batch`."""

    def __init__(self, knobs: dict[str, Any], launch_id: str) -> None:
        super().__init__(knobs, launch_id)
        # Serve's documented way to set the batching parameters from configuration.
        self._predict_batched.set_max_batch_size(int(knobs["max_batch_size"]))
        self._predict_batched.set_batch_wait_timeout_s(float(knobs["batch_wait_timeout_s"]))

    @serve.batch
    async def _predict_batched(self, rows: list[Any]) -> list[tuple[Predictions, int, float]]:
        started = time.perf_counter()  # the batch has left Serve's queue
        result = await self.predict_rows(rows)
        return [(result, index, started) for index in range(len(rows))]

    async def predict_one(self, row: Any) -> Predictions:
        if not self.service.ready:
            raise not_ready()  # never queue for a model that is not there
        enqueued = time.perf_counter()
        result, index, started = await self._predict_batched(row)
        metrics.QUEUE_WAIT_SECONDS.observe(started - enqueued)
        return Predictions(result.classes[index : index + 1], result.proba[index : index + 1])


def _count_cancelled(endpoint: str) -> None:
    """Serve cancels a request whose client has disconnected: it gets no answer, and a model
    call already started runs on to its end in the model thread. Counted, so that the metrics
    say what happened to it."""
    metrics.ERRORS.labels(endpoint, "client_disconnected").inc()


def ingress_class(batched: bool) -> type:
    """A new FastAPI app and the Serve ingress class that serves the contract on it.

    Made by a function, not at module level: Serve rewrites the routes' signatures when it
    wraps the class (`self` becomes a dependency), and only classes defined this way travel
    to the replicas by value, rewritten, instead of being re-imported there unrewritten.
    """
    app = FastAPI(title="servebench: Ray Serve", docs_url=None, redoc_url=None, openapi_url=None)
    base = BatchedChurnReplica if batched else ChurnReplica

    class ChurnIngress(base):  # type: ignore[valid-type, misc]
        @app.post(PATHS["predict"])
        async def predict(self, request: Request) -> Response:
            try:
                row = parse_single(await _read_body(request))
                result = await self.predict_one(row)
            except ContractError as error:
                metrics.ERRORS.labels("single", error.error).inc()
                return _error_response(error)
            except asyncio.CancelledError:
                _count_cancelled("single")
                raise
            self.single_ok.inc()
            body = single_payload(result, self.service.require().version)
            return Response(body, headers=self.headers, media_type=JSON)

        @app.post(PATHS["batch"])
        async def predict_batch(self, request: Request) -> Response:
            # A batch request is already one model call: straight to the model thread.
            try:
                batch = parse_batch(await _read_body(request))
                result = await self.predict_rows(batch.items)
            except ContractError as error:
                metrics.ERRORS.labels("batch", error.error).inc()
                return _error_response(error)
            except asyncio.CancelledError:
                _count_cancelled("batch")
                raise
            self.batch_ok.inc(len(batch.items))
            body = batch_payload(result, self.service.require().version)
            return Response(body, headers=self.headers, media_type=JSON)

        @app.get(PATHS["model"])
        async def model(self) -> dict[str, Any]:
            return self.service.model_metadata()

        @app.get(PATHS["info"])
        async def info(self) -> Response:
            answer = self.service.info()
            answer["replica"] = self.replica_info()
            answer["versions"]["ray"] = ray.__version__
            # The Serve settings this replica runs with (servers/ray_serve_app.py).
            answer["serve_env"] = {k: v for k, v in os.environ.items() if k.startswith("RAY_SERVE_")}
            return Response(orjson.dumps(answer), headers=self.headers, media_type=JSON)

        @app.get(PATHS["health"])
        async def health(self) -> dict[str, Any]:
            return self.service.health()

        @app.get(PATHS["ready"])
        async def ready(self) -> dict[str, Any]:
            status = self.service.readiness()  # 503 not_ready until this replica's model is in
            if not await self.every_replica_loaded():
                raise not_ready()
            return status

        @app.get(PATHS["metrics"])
        async def prometheus(self) -> Response:
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

    return serve.ingress(app)(ChurnIngress)


def build_app(knobs: dict[str, Any], launch_id: str, env_vars: dict[str, str],
              max_replicas_per_node: int | None = None) -> Any:
    """The Serve application for these knobs: batched when max_batch_size > 1.

    max_replicas_per_node=1 spreads the replicas one per node (Serve's own placement option).
    """
    cls = ingress_class(batched=int(knobs.get("max_batch_size", 1)) > 1)
    options: dict[str, Any] = {}
    if max_replicas_per_node:
        options["max_replicas_per_node"] = max_replicas_per_node
    deployment = serve.deployment(
        name=DEPLOYMENT_NAME,
        num_replicas=int(knobs["workers"]),
        max_ongoing_requests=int(knobs["max_ongoing_requests"]),
        max_queued_requests=int(knobs["max_queued_requests"]),
        graceful_shutdown_timeout_s=float(knobs["graceful_timeout_s"]),
        ray_actor_options={
            # A scheduling reservation, not a limit: fractional, so that several replicas
            # and Serve's own actors fit the node's CPUs.
            "num_cpus": float(knobs["replica_cpus"]),
            # The replicas' environment travels with the deployment, so a node started by
            # anyone (another machine of a real cluster) runs them with the same settings.
            "runtime_env": {"env_vars": env_vars},
        },
        **options,
    )(cls)
    return deployment.bind(knobs, launch_id)
