"""One declaration per stack. Everything else (tests, orchestrator, compose, reports) derives
from these entries and never names a stack itself."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from servers.protocols import CONTRACT, CONTRACT_BODIES, MLFLOW_INVOCATIONS, OPEN_INFERENCE, Protocol
from shared_model.cases import BadCase

Knobs = Mapping[str, Any]

# The contract's paths: identical on every stack.
PATHS: Mapping[str, str] = MappingProxyType(
    {
        "predict": "/api/v1/predict",
        "batch": "/api/v1/predict/batch",
        "model": "/api/v1/model",
        "info": "/info",
        "health": "/health",
        "ready": "/health/ready",
        "metrics": "/metrics",
    }
)

# Knobs every stack has. BLAS/OpenMP threads are fixed explicitly, never left to chance.
BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class Deviation:
    """A documented way in which a stack departs from the contract, asserted by the tests."""

    summary: str
    cases: tuple[str, ...] = ()  # BAD case names or groups it concerns
    status: int | None = None  # the status the stack answers instead
    error_body: bool = True  # whether that answer is still an ErrorBody
    no_answer: bool = False  # the client gets no answer instead (the connection closes, resets or hangs)


@dataclass(frozen=True)
class Target:
    """A performance target a stack holds itself to: its `metric` over another's, in one run.

    `against`: a stack name, "peers" (the best stack of role peer at that level) or "ceiling"
    (the same stack's framework-ceiling workload, each at its peak)."""

    name: str
    metric: Literal["p50_ms", "p99_ms", "rps"]
    users: tuple[int, ...] | None  # the levels it is judged at; None: each side at its peak
    against: str
    limit: float
    at_most: bool
    detail: str


# ours: code this project owns and tunes (the gate measures these); peer: a framework measured
# as its own docs configure it; reference: the classic baseline the report compares against.
Role = Literal["ours", "peer", "reference"]


@dataclass(frozen=True)
class Stack:
    name: str
    title: str
    description: str
    role: Role
    packages: tuple[str, ...]  # the distributions whose versions a result must record
    tags: tuple[str, ...]  # what the seed article's claims call this kind of stack
    argv: tuple[str, ...]  # templates: {python} {host} {port} and any knob name
    knobs: Knobs
    default_port: int
    paths: Mapping[str, str] = field(default_factory=lambda: PATHS)
    deviations: tuple[Deviation, ...] = ()
    ready_timeout_s: float = 60.0
    multiprocess_metrics: bool = False  # several processes write the contract's metrics
    # Container memory limit, for stacks whose process count does not follow `workers`
    # (None: derived from `workers`, see servebench/deploy/container.py).
    memory_mib: int | None = None
    # True: the port opens only once the model is loaded (not ready = connection refused);
    # False: liveness answers at once and readiness says 503 while the model loads.
    loads_before_listening: bool = False
    openapi: str | None = None  # path of the OpenAPI document, if the stack publishes one
    python: str = field(default_factory=lambda: sys.executable)  # another venv if isolated
    protocol: Protocol = CONTRACT  # how clients ask it for predictions (servers/protocols.py)
    targets: tuple[Target, ...] = ()  # performance targets the report judges it against
    # Ports a stack listens on besides {port} (a management API, a metrics server, gRPC): argv
    # templates {port_<name>}. ServerProcess gives each a free port; `command` without them
    # uses port + 1, port + 2, ... in this order (fixed ports for `servebench serve`).
    extra_ports: tuple[str, ...] = ()
    # Path kinds served on one of the extra ports instead of {port}: kind -> port name
    # (Triton and TorchServe answer /metrics on a metrics port of their own).
    path_ports: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def environment(self) -> str | None:
        """The name of the stack's own virtual environment (servers/envs/<name>.txt), if any."""
        venv = Path(self.python).parent.parent.name
        return venv.removeprefix(VENV_PREFIX) if venv.startswith(VENV_PREFIX) else None

    @property
    def aggregates_metrics(self) -> bool:
        """Several processes write the contract's metrics: /metrics must sum them all."""
        return self.multiprocess_metrics or int(self.knobs.get("workers", 1)) > 1

    def with_knobs(self, **overrides: Any) -> Stack:
        unknown = set(overrides) - set(self.knobs)
        if unknown:
            raise ValueError(f"{self.name} has no knob(s) {sorted(unknown)}; see `make stacks`")
        return replace(self, knobs=MappingProxyType({**self.knobs, **overrides}))

    def ports_for(self, port: int, extra: Mapping[str, int] | None = None) -> dict[str, int]:
        """Every extra port by name: the given ones, else port + 1, port + 2, ..."""
        given = dict(extra or {})
        unknown = set(given) - set(self.extra_ports)
        if unknown:
            raise ValueError(f"{self.name} has no extra port(s) {sorted(unknown)}")
        return {name: given.get(name, port + 1 + i) for i, name in enumerate(self.extra_ports)}

    def command(self, host: str, port: int, extra_ports: Mapping[str, int] | None = None) -> list[str]:
        values = {**self.knobs, "python": self.python, "host": host, "port": port}
        values.update({f"port_{name}": value for name, value in self.ports_for(port, extra_ports).items()})
        return [part.format(**values) for part in self.argv]

    def env(self) -> dict[str, str]:
        """Environment that carries the effective knobs into the server process."""
        env = {
            "SERVEBENCH_STACK": self.name,
            "SERVEBENCH_KNOBS": json.dumps(dict(self.knobs), sort_keys=True),
        }
        env.update({name: str(self.knobs["blas_threads"]) for name in BLAS_ENV})
        return env

    def deviation_for(self, *names: str) -> Deviation | None:
        """The declared deviation concerning any of these case names or groups, if one."""
        for deviation in self.deviations:
            if any(name in deviation.cases for name in names):
                return deviation
        return None

    def expected_bad(self, case: BadCase) -> tuple[int, bool]:
        """(status, body is ErrorBody) this stack is declared to answer to a BAD case."""
        deviation = self.deviation_for(*case.kinds)
        if deviation is not None and deviation.status is not None:
            return deviation.status, deviation.error_body
        return case.status, True


# Where the stacks' own virtual environments live: the checkout (the Makefile makes them there),
# or the directory the image puts them in.
VENVS_ENV = "SERVEBENCH_VENVS"
VENV_PREFIX = ".venv-"


def venv_python(env: str) -> str:
    """The interpreter of a stack's own virtual environment (see servers/envs/ and the Makefile)."""
    root = os.environ.get(VENVS_ENV) or str(Path(__file__).resolve().parent.parent)
    return str(Path(root) / f"{VENV_PREFIX}{env}" / "bin" / "python")


def _knobs(**values: Any) -> Knobs:
    # gc_freeze=1: every server process moves its startup heap out of the collector's reach
    # once the model is loaded (see servers/service.py); on for every stack alike.
    return MappingProxyType({"gc_freeze": 1, **values})


# uvicorn through its Config API (uvloop, httptools, no access log) with a draining shutdown:
# see servers/uvicorn_serve.py.
_UVICORN = (
    "{python}", "-m", "servers.uvicorn_serve", "--host", "{host}", "--port", "{port}",
    "--workers", "{workers}", "--keepalive-s", "{keepalive_s}",
    "--graceful-timeout-s", "{graceful_timeout_s}", "--drain-s", "{drain_s}",
)
_UVICORN_KNOBS = {"workers": 1, "blas_threads": 1, "keepalive_s": 5, "graceful_timeout_s": 10, "drain_s": 2}
# Our non-blocking stacks bound their backlog (503 past max_inflight) and answer 504 past
# request_timeout_s.
_LIMITS = {"max_inflight": 256, "request_timeout_s": 10}


def _bentoml_serve(service: str) -> tuple[str, ...]:
    # `bentoml serve` through a launcher that gives each server its own metrics directory.
    return ("{python}", "-m", "servers.bentoml_serve", service, "--host", "{host}", "--port", "{port}",
            "--timeout-graceful-shutdown", "{graceful_timeout_s}")


_LITSERVE = ("{python}", "-m", "servers.litserve_app", "--host", "{host}", "--port", "{port}")


def _sigterm_500(framework: str) -> Deviation:
    return Deviation(f"{framework} answers 500 to some requests in flight when SIGTERM arrives "
                     "under load (measured by tests/integration/test_faults.py)",
                     cases=("sigterm_under_load",), status=500, error_body=False)


def _no_header_limit(server: str) -> Deviation:
    return Deviation(f"{server} sets no limit on the size of request headers: a request with a 1 MiB "
                     "header is read whole and answered (the robustness run's oversized_headers case); "
                     "the proxy in front must limit them (docs/service.md)",
                     cases=("oversized_headers",), status=200, error_body=False)


# uvicorn with its httptools parser: our FastAPI stacks, and the peers built on it.
_UVICORN_HEADERS = _no_header_limit("uvicorn's httptools parser")


def _no_queue_wait(dispatcher: str) -> Deviation:
    return Deviation(f"ml_queue_wait_seconds stays empty: {dispatcher} does not expose "
                     "how long each request waited for its batch")


# What our batcher must show, each a ratio of medians measured in the same run.
BATCHER_TARGETS = (
    Target("p50 at 1 user against fastapi_inline: no fixed wait when idle", "p50_ms", (1,),
           "fastapi_inline", 1.10, True, "fastapi_inline's p50 at 1 user"),
    Target("throughput against the best peer", "rps", (32, 64), "peers", 4.0, False, "best peer"),
    Target("p99 against fastapi_threadpool", "p99_ms", (32, 64), "fastapi_threadpool", 0.5, True,
           "fastapi_threadpool's p99"),
    Target("peak predictions against the same server's framework ceiling", "rps", None, "ceiling", 0.8,
           False, "ceiling peak"),
)


# Frameworks that serve their own protocol (servers/protocols.py) rather than the contract's
# paths, each from its own virtual environment (servers/envs/).
_V2_MODEL = "/v2/models/churn"


def _paths(**paths: str) -> Mapping[str, str]:
    return MappingProxyType({**PATHS, **paths})


def _triton(*args: str) -> tuple[str, ...]:
    return ("{python}", "-m", "servers.triton_server", "--host", "{host}", "--port", "{port}",
            "--metrics-port", "{port_metrics}", "--instances", "{workers}",
            "--http-threads", "{http_threads}",
            "--exit-timeout-s", "{graceful_timeout_s}", *args)


_TRITON: dict[str, Any] = {
    "paths": _paths(predict=f"{_V2_MODEL}/infer", batch=f"{_V2_MODEL}/infer", model=f"{_V2_MODEL}/config",
                    info="/v2", health="/v2/health/live", ready=f"{_V2_MODEL}/ready"),
    "extra_ports": ("metrics",),
    "path_ports": MappingProxyType({"metrics": "metrics"}),
    "python": venv_python("triton"),
    "protocol": OPEN_INFERENCE,
    "ready_timeout_s": 120.0,
}


# Declared deviations of the peer stacks, measured by tests/integration/test_peer_stacks.py with
# the contract's bad rows sent through each stack's protocol. Where a framework lets the server
# decide (KServe's InvalidInput, MLflow's MlflowException, TorchServe's per-request status),
# bad input gets a 4xx from our code; the rest is the framework's own answer.
_V2_PROTOCOL = (
    "serves the Open Inference (KServe v2) protocol, not the contract's paths: "
    "/v2/models/churn/infer for single and batch predictions (rows as [n, 1] tensors, one per "
    "field; outputs prediction and probability), /v2/health/live for liveness, "
)
_KSERVE_DEVIATIONS = (
    Deviation(_V2_PROTOCOL + "/v2/health/ready for readiness, /v2/models/churn (KServe's model "
              "metadata) instead of /api/v1/model; no /info (/v2 is KServe's server metadata): the "
              "server does not report its knobs", cases=("info",)),
    Deviation("a body that is no v2 request and holds NaN or Infinity answers 500: FastAPI's 422 answer "
              "echoes the input and cannot encode those values",
              cases=("nan_token", "infinity_token", "negative_infinity_token"), status=500, error_body=False),
    Deviation("a JSON string body (read as binary tensor data), or one FastAPI cannot decode (invalid "
              "UTF-8, nesting too deep), answers 400", cases=("json_string", "invalid_utf8", "deeply_nested"),
              status=400, error_body=False),
    Deviation("application/json-patch+json is read as JSON and answered", cases=("json_patch_type",),
              status=200, error_body=False),
    Deviation("other bodies that are no v2 inference request (malformed JSON, not an object, empty) "
              "answer FastAPI's 422 validation body", cases=("syntax",), status=422, error_body=False),
    Deviation("no media-type check: a body sent with another Content-Type is read as binary tensor "
              "data and answers 400 {\"error\": ...}", cases=("media_type",), status=400, error_body=False),
    Deviation("a one-element list for a number is the same tensor in v2 JSON (data may nest): answered",
              cases=("list_for_float",), status=200, error_body=False),
    Deviation("rows that break the contract's rules (types, bounds, categories, total below monthly, "
              "missing or unknown fields, over 100 rows) answer KServe's InvalidInput: 400 "
              "{\"error\": \"<row>.<field>: <rule>\"}", cases=("schema", "range", "batch", "slow"),
              status=400, error_body=False),
    Deviation("other methods answer FastAPI's 405 {\"detail\": ...}", cases=("method",), status=405,
              error_body=False),
    Deviation("no body size limit: a 2 MiB body is read and parsed (422: it is no inference request)",
              cases=("size",), status=422, error_body=False),
    Deviation("ml_* metrics: the endpoint label is taken from the rows in a request (one row: single); "
              "ml_queue_wait_seconds stays empty (no batching); bodies KServe rejects before the model "
              "(syntax) are not counted in ml_errors_total; with workers > 1, /metrics shows the "
              "answering worker only (KServe renders its default registry)"),
    Deviation("unknown paths answer FastAPI's 404 {\"detail\": ...}", cases=("not_found",), status=404,
              error_body=False),
    _UVICORN_HEADERS,
)


def _triton_deviations(batching: bool) -> tuple[Deviation, ...]:
    rows = (
        Deviation("up to max_batch_size rows per request are answered: Triton joins requests before the "
                  "inference callable sees them, so the contract's 100-row limit is not enforced",
                  cases=("batch_too_many",), status=200, error_body=False)
        if batching else
        Deviation("over 100 rows in a request make the inference callable raise: 500, as for bad values",
                  cases=("batch_too_many",), status=500, error_body=False)
    )
    return (
        Deviation(_V2_PROTOCOL + "/v2/models/churn/ready for readiness (the model's: Triton's "
                  "/v2/health/ready is true before PyTriton has loaded the model), /v2/models/churn/config "
                  "instead of /api/v1/model; no /info (/v2 is Triton's server metadata)", cases=("info",)),
        Deviation("not ready: the port opens before the model is loaded and readiness answers 400 "
                  "{\"error\": \"Model version not ready\"}", cases=("not_ready",), status=400,
                  error_body=False),
        Deviation("predictions sent before the model is loaded answer 404 {\"error\": \"Request for "
                  "unknown model: 'churn' is not found\"}", cases=("early_predict",), status=404,
                  error_body=False),
        Deviation("metrics on a port of their own, Triton's (nv_inference_*, nv_cpu_*); no ml_* metrics: "
                  "the inference callable runs in the PyTriton process, outside Triton's Python backend "
                  "and its custom-metrics API", cases=("ml_metrics",)),
        Deviation("a one-element list for a number is the same tensor in v2 JSON (data may nest): answered",
                  cases=("list_for_float",), status=200, error_body=False),
        Deviation("missing, unknown or no inputs (and an empty body) answer Triton's 400 {\"error\": ...}",
                  cases=("missing_field", "extra_field", "empty_object", "unicode_field_name", "empty_body"),
                  status=400, error_body=False),
        Deviation("bodies Triton cannot parse as a v2 request, and tensor values of the wrong JSON type "
                  "(a string or 24.5 for INT64, 1 for BOOL, null), answer 500 {\"error\": ...} from "
                  "Triton's HTTP front end", cases=("syntax", "schema"), status=500, error_body=False),
        Deviation("no media-type check: a v2 body with any Content-Type is answered",
                  cases=("media_type",), status=200, error_body=False),
        Deviation("values that break the contract's rules (bounds, categories, total below monthly) make "
                  "the inference callable raise; PyTriton answers 500 with the formatted Python traceback "
                  "in the error text" + (", and fails every request Triton batched with the bad one"
                                         if batching else ""),
                  cases=("range", "unknown_contract", "unknown_payment", "unknown_category", "uppercase_enum",
                         "unicode_enum", "long_string", "batch_one_bad_item", "slow_body"), status=500,
                  error_body=False),
        Deviation("a request line trickled in byte by byte is routed on the part of the path that has "
                  "arrived: 404 {\"error\": ...} (the slow_headers case)", cases=("slow_headers",),
                  status=404, error_body=False),
        Deviation("Content-Length together with Transfer-Encoding: chunked answers 500 {\"error\": ...}",
                  cases=("length_and_chunked",), status=500, error_body=False),
        rows,
        Deviation("other methods answer 405 {\"error\": ...}", cases=("method",), status=405,
                  error_body=False),
        _sigterm_500("Triton (PyTriton's model process gets the process group's SIGTERM with the server)"),
        Deviation("unknown paths answer Triton's 404 {\"error\": ...}", cases=("not_found",), status=404,
                  error_body=False),
        Deviation("no body size limit: a 2 MiB body is read (500: it is no inference request)",
                  cases=("size",), status=500, error_body=False),
    )


_MLFLOW_DEVIATIONS = (
    Deviation("serves MLflow's scoring protocol, not the contract's paths: POST /invocations with a "
              "dataframe_split table for single and batch predictions, answered {\"predictions\": "
              "[{prediction, no_churn, churn}]}; /ping and /health both say the model is loaded (the "
              "port opens only then); /version (MLflow's version) stands for /api/v1/model and /info: "
              "no model metadata, no knobs", cases=("info",)),
    Deviation("no /metrics (404): MLflow's scoring server exports no metrics and has no hook for routes",
              cases=("metrics", "ml_metrics"), status=404, error_body=False),
    Deviation("a request without Content-Type makes MLflow's scoring server fail (AttributeError): 500 "
              "text/plain, and the connection closes", cases=("no_content_type",), status=500,
              error_body=False),
    Deviation("other media types answer MLflow's 415 text/plain", cases=("media_type",), status=415,
              error_body=False),
    Deviation("JSON nested too deep makes MLflow's JSON decoding fail: 500 text/plain",
              cases=("deeply_nested",), status=500, error_body=False),
    Deviation("MLflow's signature enforcement converts values before the model sees them (\"24\" and 24.5 "
              "for a long become 24, true for a long 1, \"65.5\" and true for a double 65.5 and 1.0, "
              "\"yes\" and 1 for a boolean true, null for a boolean false) and drops unknown columns: "
              "answered 200",
              cases=("string_for_int", "float_for_int", "bool_for_int", "string_for_bool", "int_for_bool",
                     "string_for_float", "bool_for_float", "null_for_bool", "extra_field"), status=200,
              error_body=False),
    Deviation("bodies MLflow cannot read (malformed JSON, not an object, no dataframe_split) and values "
              "its signature cannot convert answer 400 {\"error_code\": \"BAD_REQUEST\", ...}; values "
              "that break the contract's rules 400 {\"error_code\": \"INVALID_PARAMETER_VALUE\", ...}",
              cases=("syntax", "schema", "range", "batch", "slow"), status=400, error_body=False),
    Deviation("Content-Length together with Transfer-Encoding: chunked is read by its chunks and answered, "
              "and the connection stays open (RFC 9112 asks the server to close it)",
              cases=("length_and_chunked",), status=200, error_body=False),
    Deviation("other methods answer FastAPI's 405 {\"detail\": ...}", cases=("method",), status=405,
              error_body=False),
    Deviation("no body size limit: a 2 MiB body is read and parsed (400: no dataframe_split)",
              cases=("size",), status=400, error_body=False),
    Deviation("unknown paths answer FastAPI's 404 {\"detail\": ...}", cases=("not_found",), status=404,
              error_body=False),
)

_TORCHSERVE_DEVIATIONS = (
    Deviation("the contract's bodies on TorchServe's paths: POST /predictions/churn for single and "
              "batch predictions (the body tells which); /ping for liveness and readiness; "
              "/models/churn on the management port (TorchServe's model description) for "
              "/api/v1/model and /info: no contract metadata, no knobs reported by the server",
              cases=("info",)),
    Deviation("readiness: /ping says Healthy once the frontend listens with the model registered, which "
              "can be before the worker has loaded the model; requests in that window wait in "
              "TorchServe's job queue; the harness therefore waits for a first answer before it checks or "
              "measures, and its ready time includes that answer", cases=("ready_early",)),
    Deviation("metrics on a port of their own, TorchServe's and the contract's ml_* through its custom "
              "metrics API: histograms with the Prometheus Java client's default buckets (5 ms to 10 s) "
              "and every ml_* series with ModelName, Level and Hostname labels; ml_queue_wait_seconds "
              "absent (TorchServe's ts_queue_latency_microseconds is the total)", cases=("queue_wait",)),
    Deviation("bodies over max_request_bytes answer TorchServe's 413 with an empty body",
              cases=("size",), status=413, error_body=False),
    Deviation("GET and PUT on /predictions/churn reach the handler (TorchServe serves predictions on "
              "them): GET with an empty body answers 422 (not JSON)", cases=("get_on_predict",), status=422),
    Deviation("PUT with a valid batch is answered like POST", cases=("put_on_batch",), status=200,
              error_body=False),
    Deviation("unknown paths answer TorchServe's own 404 body", cases=("not_found",), status=404,
              error_body=False),
    Deviation("Content-Length together with Transfer-Encoding: chunked is read by its chunks and answered, "
              "and the connection stays open (RFC 9112 asks the server to close it)",
              cases=("length_and_chunked",), status=200, error_body=False),
    Deviation("a negative Content-Length is not refused: the request reaches the handler without its "
              "body, which answers 422", cases=("negative_length",), status=422),
    _sigterm_500("TorchServe (its Python workers get the process group's SIGTERM with the frontend)"),
)


# Ray Serve: a launcher that starts its own single-node Ray and deploys
# servers/ray_serve_deployment.py behind Serve's HTTP proxy; every setting with its source is in
# docs/ray.md. Its own environment (servers/envs/ray.txt), because Ray brings ~30 distributions
# (grpcio, protobuf, opentelemetry, ...) that the other stacks must not depend on.
_RAY_SERVE = ("{python}", "-m", "servers.ray_serve_app", "--host", "{host}", "--port", "{port}")
# workers is Serve's num_replicas. replica_cpus is each replica's ray_actor_options.num_cpus:
# a scheduling reservation (Ray does not limit the CPU use), fractional so that Serve's
# replicas fit the node's CPU count, which the launcher sets to the CPUs it is pinned to
# (workers x replica_cpus must fit). max_ongoing_requests (Serve's default 5, for
# backpressure) is raised as Serve's performance guide advises for async replicas, and must
# exceed max_batch_size for a batch to fill: twice max_batch_size, so that one batch fills while
# the other computes. max_queued_requests -1 is Serve's default (no bound on the queue in front
# of the replicas; a bound answers 503 with Serve's own body). http_request_timeout_s is the
# proxy's end-to-end timeout the guide recommends (Serve's http_options.request_timeout_s; not
# named like our stacks' request_timeout_s, which answers 504 from the app itself),
# graceful_timeout_s the deployment's graceful_shutdown_timeout_s, throughput_flags=1 the
# guide's throughput-optimized flags (see servers/ray_serve_app.py).
_RAY_KNOBS = {"workers": 1, "replica_cpus": 0.5, "blas_threads": 1, "graceful_timeout_s": 10,
              "max_ongoing_requests": 128, "max_queued_requests": -1, "http_request_timeout_s": 10,
              "throughput_flags": 1}


def _ray_deviations() -> tuple[Deviation, ...]:
    return (
        _no_header_limit("Serve's HTTP proxy (uvicorn, httptools)"),
        Deviation("a request still unanswered after http_request_timeout_s gets Serve's proxy "
                  "answer, 408 with a plain-text body, instead of 504 timeout, and is not counted "
                  "in ml_errors_total", cases=("request_timeout",), status=408, error_body=False),
    )


_STACK_LIST: tuple[Stack, ...] = (
    Stack(
        name="flask_gunicorn",
        title="Flask on gunicorn (WSGI, gevent workers)",
        description="Classic WSGI: gunicorn's recommended 2 x cores + 1 worker processes for one "
        "server core, each making one model call at a time; gevent workers, which gunicorn's docs "
        "prescribe for clients that reach it directly (sync workers need a buffering proxy in front); "
        "the model is preloaded in the master and shared copy-on-write by the workers.",
        role="reference",
        packages=("flask", "gunicorn", "gevent", "pydantic"),
        tags=("flask", "gunicorn"),
        argv=(
            "{python}", "-m", "gunicorn", "--config", "python:servers.gunicorn_conf",
            "--bind", "{host}:{port}", "--workers", "{workers}", "--worker-class", "{worker_class}",
            "--worker-connections", "{worker_connections}", "--threads", "{threads}",
            "--timeout", "{timeout_s}", "--graceful-timeout", "{graceful_timeout_s}",
            "servers.flask_app:app",
        ),
        # worker_class gevent: a worker holds each connection in a greenlet, so idle or slow
        # clients cost a greenlet each, not a worker (measured against sync by the robustness
        # run's connection-level cases, docs/robustness.md). worker_connections is gunicorn's
        # default; threads matters only for worker_class=gthread.
        knobs=_knobs(workers=3, worker_class="gevent", worker_connections=1000, threads=1, blas_threads=1,
                     timeout_s=30, graceful_timeout_s=10),
        default_port=8001,
        multiprocess_metrics=True,
        loads_before_listening=True,
    ),
    Stack(
        name="fastapi_inline",
        title="FastAPI, model called inline in async def (anti-pattern)",
        description="The model runs on the event loop: every other request waits for it. It has "
        "no in-flight limit or timeout because its blocked loop cannot see requests to refuse.",
        role="ours",
        packages=("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"),
        tags=("fastapi", "uvicorn", "inline"),
        argv=(*_UVICORN, "servers.fastapi_inline:app"),
        knobs=_knobs(**_UVICORN_KNOBS),
        default_port=8002,
        openapi="/openapi.json",
        deviations=(_UVICORN_HEADERS,),
    ),
    Stack(
        name="fastapi_threadpool",
        title="FastAPI, model in a thread pool",
        description="The loop parses and validates; the model runs in a bounded thread pool.",
        role="ours",
        packages=("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"),
        tags=("fastapi", "uvicorn", "threadpool"),
        argv=(*_UVICORN, "servers.fastapi_threadpool:app"),
        knobs=_knobs(**_UVICORN_KNOBS, **_LIMITS, threads=4),
        default_port=8003,
        openapi="/openapi.json",
        deviations=(_UVICORN_HEADERS,),
    ),
    Stack(
        name="fastapi_batcher",
        title="FastAPI + dynamic batcher",
        description="Concurrent requests are coalesced into one model call in one model thread; "
        "no wait when idle, a bounded queue that answers 503 when full.",
        role="ours",
        packages=("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"),
        tags=("fastapi", "uvicorn", "batcher"),
        argv=(*_UVICORN, "servers.fastapi_batcher:app"),
        knobs=_knobs(
            **_UVICORN_KNOBS, **_LIMITS, max_batch_size=64, max_wait_ms=2.0, max_queue=4096,
            # A lone request runs on the loop when its model call costs at most this many hops
            # to the model thread and back, both measured at run time (servers/batcher.py).
            inline_call_handoffs=20,
        ),
        default_port=8004,
        targets=BATCHER_TARGETS,
        openapi="/openapi.json",
        deviations=(_UVICORN_HEADERS,),
    ),
    Stack(
        name="bentoml",
        title="BentoML, adaptive batching across two services",
        description="A public async API service calls a batchable model service "
        "(bentoml.depends), whose adaptive dispatcher groups concurrent calls into one model "
        "call: BentoML's documented pattern for inputs with several fields.",
        role="peer",
        packages=("bentoml", "pydantic"),
        tags=("bentoml",),
        argv=_bentoml_serve("servers.bentoml_service:ChurnAPI"),
        # One worker per service and one thread for the model service's sync methods, for a
        # one-CPU budget (both BentoML's defaults). Batching as the adaptive-batching guide
        # shows: max_latency_ms is the bound past which the dispatcher sheds requests with
        # 503, not a wait; 1000 ms is the guide's value. max_batch_size equals
        # fastapi_batcher's; the model service's traffic concurrency is set to it as the
        # concurrency guide advises for batching services. See servers/bentoml_service.py for
        # the client-session setting that works around a BentoML 1.4.30+ bug.
        knobs=_knobs(workers=1, threads=1, blas_threads=1, graceful_timeout_s=10, max_batch_size=64,
                     max_latency_ms=1000),
        default_port=8005,
        deviations=(_no_queue_wait("BentoML's dispatcher"), _sigterm_500("BentoML"), _UVICORN_HEADERS),
        multiprocess_metrics=True,
        memory_mib=1024,  # arbiter, API worker, model worker: ~660 MiB RSS measured
    ),
    Stack(
        name="bentoml_nobatch",
        title="BentoML, one service, no batching",
        description="BentoML's plain single-service shape: sync API methods in the service's "
        "thread pool, one model call per request.",
        role="peer",
        packages=("bentoml", "pydantic"),
        tags=("bentoml",),
        argv=_bentoml_serve("servers.bentoml_nobatch:ChurnService"),
        # One worker and BentoML's default one thread: the model call holds the GIL anyway.
        knobs=_knobs(workers=1, threads=1, blas_threads=1, graceful_timeout_s=10),
        default_port=8006,
        deviations=(_UVICORN_HEADERS,),
        multiprocess_metrics=True,
        memory_mib=768,  # arbiter and one worker: ~440 MiB RSS measured
    ),
    Stack(
        name="ray_serve",
        title="Ray Serve, @serve.batch in the replica",
        description="Serve's HTTP proxy actor passes requests to a replica actor whose FastAPI "
        "ingress (@serve.ingress) parses them; single predictions go through @serve.batch, "
        "which collects up to max_batch_size requests or batch_wait_timeout_s, then makes one "
        "model call in the replica's model thread.",
        role="peer",
        packages=("ray",),
        tags=("ray",),
        argv=_RAY_SERVE,
        # Batching as Serve's batching guide describes: max_batch_size a power of two (64, as
        # every batching stack here), batch_wait_timeout_s well under the latency target: 2 ms,
        # the same window as fastapi_batcher and litserve. max_concurrent_batches stays 1
        # (Serve's default): the replica has one model thread.
        knobs=_knobs(**_RAY_KNOBS, max_batch_size=64, batch_wait_timeout_s=0.002),
        default_port=8009,
        deviations=_ray_deviations(),
        ready_timeout_s=120.0,
        multiprocess_metrics=True,
        memory_mib=2048,  # 14 processes: ~1.7 GiB RSS summed over them (shared pages counted per process)
        python=venv_python("ray"),
    ),
    Stack(
        name="ray_serve_nobatch",
        title="Ray Serve, no batching",
        description="The same Serve deployment without @serve.batch: one model call per "
        "request, in the replica's model thread.",
        role="peer",
        packages=("ray",),
        tags=("ray",),
        argv=_RAY_SERVE,
        knobs=_knobs(**_RAY_KNOBS, max_batch_size=1),
        default_port=8010,
        deviations=_ray_deviations(),
        ready_timeout_s=120.0,
        multiprocess_metrics=True,
        memory_mib=2048,  # as ray_serve
        python=venv_python("ray"),
    ),
    Stack(
        name="litserve",
        title="LitServe, batching in the inference worker",
        description="API server process(es) queue requests to inference worker processes "
        "(one per LitAPI: single and batch path); the single-prediction worker collects up "
        "to max_batch_size requests or batch_timeout_s, then makes one model call.",
        role="peer",
        packages=("litserve", "fastapi", "uvicorn", "pydantic"),
        tags=("litserve",),
        argv=_LITSERVE,
        # accelerator="cpu"; workers = LitServe's workers_per_device: one inference worker per
        # LitAPI, and one API server, for a one-CPU budget (LitServe's default is one API
        # server per inference worker). LitServe waits up to batch_timeout_s for a batch to
        # fill, even when idle, and at 0 it polls its queue without pause: 2 ms, the same
        # window as fastapi_batcher (~5 model calls). timeout_s is LitServe's default.
        knobs=_knobs(workers=1, api_servers=1, blas_threads=1, graceful_timeout_s=10, max_batch_size=64,
                     batch_timeout_s=0.002, timeout_s=30),
        default_port=8007,
        deviations=(_no_queue_wait("LitServe's batching loop"), _sigterm_500("LitServe"), _UVICORN_HEADERS),
        multiprocess_metrics=True,
        memory_mib=1024,  # six processes, two models: ~860 MiB RSS (~300 MiB USS) measured
    ),
    Stack(
        name="litserve_nobatch",
        title="LitServe, no batching",
        description="The same LitServe server without batching: the worker takes requests "
        "one at a time, one model call each.",
        role="peer",
        packages=("litserve", "fastapi", "uvicorn", "pydantic"),
        tags=("litserve",),
        argv=_LITSERVE,
        knobs=_knobs(workers=1, api_servers=1, blas_threads=1, graceful_timeout_s=10, max_batch_size=1,
                     batch_timeout_s=0.0, timeout_s=30),
        default_port=8008,
        deviations=(_sigterm_500("LitServe"), _UVICORN_HEADERS),
        multiprocess_metrics=True,
        memory_mib=1024,  # as litserve
    ),
    Stack(
        name="kserve",
        title="KServe ModelServer, custom kserve.Model",
        description="KServe's Python ModelServer (uvicorn, FastAPI) with a kserve.Model subclass: "
        "Open Inference (v2) tensors in, one model call per request, run synchronously on the "
        "event loop as KServe runs a sync predict; gRPC off.",
        role="peer",
        packages=("kserve", "fastapi", "uvicorn", "pydantic"),
        tags=("kserve",),
        argv=(
            "{python}", "-m", "servers.kserve_server", "--host", "{host}", "--http_port", "{port}",
            "--workers", "{workers}", "--enable_grpc", "false", "--enable_latency_logging", "false",
            "--timeout-keep-alive", "{keepalive_s}", "--model_name", "churn",
        ),
        # workers: KServe's default, one uvicorn process, for a one-CPU budget (KServe scales by
        # replicas, not workers). keepalive_s: KServe's default 65 s, longer than a proxy's idle
        # timeout. Latency logging (a log line per request) off, as access logs are on every stack.
        knobs=_knobs(workers=1, blas_threads=1, keepalive_s=65),
        default_port=8011,
        paths=_paths(predict=f"{_V2_MODEL}/infer", batch=f"{_V2_MODEL}/infer", model=_V2_MODEL,
                     info="/v2", health="/v2/health/live", ready="/v2/health/ready"),
        deviations=_KSERVE_DEVIATIONS,
        loads_before_listening=True,
        python=venv_python("kserve"),
        protocol=OPEN_INFERENCE,
    ),
    Stack(
        name="triton",
        title="NVIDIA Triton (PyTriton, CPU), dynamic batcher",
        description="Triton Inference Server from PyTriton's wheel, on the CPU: Triton parses "
        "Open Inference (v2) requests and its dynamic batcher joins queued requests into one "
        "batch, which its Python backend hands to the inference callable in the PyTriton "
        "process: one model call per batch.",
        role="peer",
        packages=("nvidia-pytriton", "tritonclient", "numpy"),
        tags=("triton",),
        argv=_triton("--max-batch-size", "{max_batch_size}", "--max-queue-delay-us", "{max_queue_delay_us}"),
        # Triton's batcher guide: dynamic_batching with its defaults first (no queue delay: a
        # batch is whatever queued while the model was busy), a delay only if measurements show
        # it pays. max_batch_size 128: a request carries up to 100 rows (the contract's batch
        # limit) and Triton refuses requests larger than max_batch_size. http_threads: Triton's
        # default 8. workers: model instances (PyTriton binds one callable per instance), one,
        # PyTriton's default, for a one-CPU budget.
        knobs=_knobs(workers=1, blas_threads=1, max_batch_size=128, max_queue_delay_us=0,
                     http_threads=8, graceful_timeout_s=10),
        default_port=8012,
        deviations=_triton_deviations(batching=True),
        **_TRITON,
    ),
    Stack(
        name="triton_nobatch",
        title="NVIDIA Triton (PyTriton, CPU), no batching",
        description="The same Triton server with batching off (no batch dimension, no dynamic "
        "batcher): one model call per request.",
        role="peer",
        packages=("nvidia-pytriton", "tritonclient", "numpy"),
        tags=("triton",),
        argv=_triton("--no-batching"),
        knobs=_knobs(workers=1, blas_threads=1, http_threads=8, graceful_timeout_s=10),
        default_port=8014,
        deviations=_triton_deviations(batching=False),
        **_TRITON,
    ),
    Stack(
        name="mlflow",
        title="MLflow Models, mlflow models serve",
        description="A custom pyfunc model (MLflow's models-from-code) served by `mlflow models "
        "serve --env-manager local`: MLflow's scoring server (FastAPI on uvicorn) parses "
        "/invocations into a pandas DataFrame, enforces the model's column signature and calls "
        "predict in a worker thread: one model call per request, no batching.",
        role="peer",
        packages=("mlflow", "mlflow-skinny", "fastapi", "uvicorn", "pandas"),
        tags=("mlflow",),
        argv=("{python}", "-m", "servers.mlflow_serve", "--host", "{host}", "--port", "{port}",
              "--workers", "{workers}", "--timeout-s", "{timeout_s}"),
        # workers: `mlflow models serve`'s default, one uvicorn worker, for a one-CPU budget.
        # timeout_s: MLflow's default request timeout (MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT).
        knobs=_knobs(workers=1, blas_threads=1, timeout_s=60),
        default_port=8016,
        paths=_paths(predict="/invocations", batch="/invocations", model="/version", info="/version",
                     health="/health", ready="/ping", metrics="/metrics"),
        deviations=_MLFLOW_DEVIATIONS,
        loads_before_listening=True,
        python=venv_python("mlflow"),
        protocol=MLFLOW_INVOCATIONS,
    ),
    Stack(
        name="torchserve",
        title="TorchServe, custom handler, frontend batching",
        description="TorchServe (upstream: limited maintenance, no planned updates or security "
        "fixes) with a custom non-PyTorch handler: its Java frontend queues requests and batches "
        "up to batch_size of them, waiting at most max_batch_delay_ms even when idle, for one "
        "Python worker; the handler validates each request with the contract's parsers and makes "
        "one model call per batch.",
        role="peer",
        packages=("torchserve", "torch-model-archiver", "torch"),
        tags=("torchserve",),
        argv=(
            "{python}", "-m", "servers.torchserve_serve", "--host", "{host}", "--port", "{port}",
            "--management-port", "{port_management}", "--metrics-port", "{port_metrics}",
            "--grpc-inference-port", "{port_grpc_inference}",
            "--grpc-management-port", "{port_grpc_management}", "--workers", "{workers}",
            "--batch-size", "{batch_size}", "--max-batch-delay-ms", "{max_batch_delay_ms}",
            "--response-timeout-s", "{response_timeout_s}", "--job-queue-size", "{job_queue_size}",
            "--max-request-bytes", "{max_request_bytes}", "--system-metrics", "{system_metrics}",
        ),
        # workers: TorchServe's default_workers_per_model is the CPUs the JVM sees, one on a
        # one-CPU budget. batch_size and max_batch_delay are the settings TorchServe's
        # performance guide tunes first; the frontend waits up to max_batch_delay for a full
        # batch even when idle, so 2 ms, the window of fastapi_batcher and litserve, with
        # fastapi_batcher's batch size. job_queue_size 1000: TorchServe's Docker image's
        # config.properties (default 100). response_timeout_s: TorchServe's default.
        # max_request_bytes: the contract's 1 MiB limit (TorchServe's default is 6.5 MB).
        # system_metrics: TorchServe's default, a collector process once a minute.
        knobs=_knobs(workers=1, blas_threads=1, batch_size=64, max_batch_delay_ms=2, response_timeout_s=120,
                     job_queue_size=1000, max_request_bytes=1048576, system_metrics=1),
        default_port=8017,
        paths=_paths(predict="/predictions/churn", batch="/predictions/churn", model="/models/churn",
                     info="/models/churn", health="/ping", ready="/ping"),
        extra_ports=("management", "metrics", "grpc_inference", "grpc_management"),
        path_ports=MappingProxyType({"model": "management", "info": "management", "metrics": "metrics"}),
        deviations=_TORCHSERVE_DEVIATIONS,
        python=venv_python("torchserve"),
        protocol=CONTRACT_BODIES,
        ready_timeout_s=120.0,
    ),
)

STACKS: Mapping[str, Stack] = MappingProxyType({s.name: s for s in _STACK_LIST})


def flagship() -> Stack:
    """Our stack that holds itself to performance targets: the one deployment examples show."""
    return next(s for s in _STACK_LIST if s.role == "ours" and s.targets)


def get_stack(name: str) -> Stack:
    try:
        return STACKS[name]
    except KeyError:
        raise KeyError(f"unknown stack {name!r}; registered: {', '.join(STACKS)}") from None
