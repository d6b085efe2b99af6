"""One declaration per stack. Everything else (tests, orchestrator, compose, reports) derives
from these entries and never names a stack itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from servers.protocols import CONTRACT, Protocol
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

    @property
    def aggregates_metrics(self) -> bool:
        """Several processes write the contract's metrics: /metrics must sum them all."""
        return self.multiprocess_metrics or int(self.knobs.get("workers", 1)) > 1

    def with_knobs(self, **overrides: Any) -> Stack:
        unknown = set(overrides) - set(self.knobs)
        if unknown:
            raise ValueError(f"{self.name} has no knob(s) {sorted(unknown)}; see `make stacks`")
        return replace(self, knobs=MappingProxyType({**self.knobs, **overrides}))

    def command(self, host: str, port: int) -> list[str]:
        values = {**self.knobs, "python": self.python, "host": host, "port": port}
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
        deviation = self.deviation_for(case.name, case.group)
        if deviation is not None and deviation.status is not None:
            return deviation.status, deviation.error_body
        return case.status, True


def venv_python(env: str) -> str:
    """The interpreter of a stack's own virtual environment (see servers/envs/ and the Makefile)."""
    return str(Path(__file__).resolve().parent.parent / f".venv-{env}" / "bin" / "python")


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


def _no_queue_wait(dispatcher: str) -> Deviation:
    return Deviation(f"ml_queue_wait_seconds stays empty: {dispatcher} does not expose "
                     "how long each request waited for its batch")


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
        Deviation("a request still unanswered after http_request_timeout_s gets Serve's proxy "
                  "answer, 408 with a plain-text body, instead of 504 timeout, and is not counted "
                  "in ml_errors_total", cases=("request_timeout",), status=408, error_body=False),
    )


_STACK_LIST: tuple[Stack, ...] = (
    Stack(
        name="flask_gunicorn",
        title="Flask on gunicorn (WSGI, sync workers)",
        description="Classic WSGI: one request per worker process at a time; "
        "gunicorn's recommended 2 x cores + 1 sync workers for one server core; the model is "
        "preloaded in the master and shared copy-on-write by the workers.",
        role="reference",
        packages=("flask", "gunicorn", "pydantic"),
        argv=(
            "{python}", "-m", "gunicorn", "--config", "python:servers.gunicorn_conf",
            "--bind", "{host}:{port}", "--workers", "{workers}", "--worker-class", "sync",
            "--timeout", "{timeout_s}", "--graceful-timeout", "{graceful_timeout_s}",
            "servers.flask_app:app",
        ),
        knobs=_knobs(workers=3, threads=1, blas_threads=1, timeout_s=30, graceful_timeout_s=10),
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
        argv=(*_UVICORN, "servers.fastapi_inline:app"),
        knobs=_knobs(**_UVICORN_KNOBS),
        default_port=8002,
        openapi="/openapi.json",
    ),
    Stack(
        name="fastapi_threadpool",
        title="FastAPI, model in a thread pool",
        description="The loop parses and validates; the model runs in a bounded thread pool.",
        role="ours",
        packages=("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"),
        argv=(*_UVICORN, "servers.fastapi_threadpool:app"),
        knobs=_knobs(**_UVICORN_KNOBS, **_LIMITS, threads=4),
        default_port=8003,
        openapi="/openapi.json",
    ),
    Stack(
        name="fastapi_batcher",
        title="FastAPI + dynamic batcher",
        description="Concurrent requests are coalesced into one model call in one model thread; "
        "no wait when idle, a bounded queue that answers 503 when full.",
        role="ours",
        packages=("fastapi", "starlette", "uvicorn", "uvloop", "httptools", "pydantic"),
        argv=(*_UVICORN, "servers.fastapi_batcher:app"),
        knobs=_knobs(
            **_UVICORN_KNOBS, **_LIMITS, max_batch_size=64, max_wait_ms=2.0, max_queue=4096,
            inline_below_ms=1.0,
        ),
        default_port=8004,
        openapi="/openapi.json",
    ),
    Stack(
        name="bentoml",
        title="BentoML, adaptive batching across two services",
        description="A public async API service calls a batchable model service "
        "(bentoml.depends), whose adaptive dispatcher groups concurrent calls into one model "
        "call: BentoML's documented pattern for inputs with several fields.",
        role="peer",
        packages=("bentoml", "pydantic"),
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
        deviations=(_no_queue_wait("BentoML's dispatcher"), _sigterm_500("BentoML")),
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
        argv=_bentoml_serve("servers.bentoml_nobatch:ChurnService"),
        # One worker and BentoML's default one thread: the model call holds the GIL anyway.
        knobs=_knobs(workers=1, threads=1, blas_threads=1, graceful_timeout_s=10),
        default_port=8006,
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
        argv=_LITSERVE,
        # accelerator="cpu"; workers = LitServe's workers_per_device: one inference worker per
        # LitAPI, and one API server, for a one-CPU budget (LitServe's default is one API
        # server per inference worker). LitServe waits up to batch_timeout_s for a batch to
        # fill, even when idle, and at 0 it polls its queue without pause: 2 ms, the same
        # window as fastapi_batcher (~5 model calls). timeout_s is LitServe's default.
        knobs=_knobs(workers=1, api_servers=1, blas_threads=1, graceful_timeout_s=10, max_batch_size=64,
                     batch_timeout_s=0.002, timeout_s=30),
        default_port=8007,
        deviations=(_no_queue_wait("LitServe's batching loop"), _sigterm_500("LitServe")),
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
        argv=_LITSERVE,
        knobs=_knobs(workers=1, api_servers=1, blas_threads=1, graceful_timeout_s=10, max_batch_size=1,
                     batch_timeout_s=0.0, timeout_s=30),
        default_port=8008,
        deviations=(_sigterm_500("LitServe"),),
        multiprocess_metrics=True,
        memory_mib=1024,  # as litserve
    ),
)

STACKS: Mapping[str, Stack] = MappingProxyType({s.name: s for s in _STACK_LIST})


def get_stack(name: str) -> Stack:
    try:
        return STACKS[name]
    except KeyError:
        raise KeyError(f"unknown stack {name!r}; registered: {', '.join(STACKS)}") from None
