"""One declaration per stack. Everything else (tests, orchestrator, compose, reports) derives
from these entries and never names a stack itself."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

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


@dataclass(frozen=True)
class Stack:
    name: str
    title: str
    description: str
    argv: tuple[str, ...]  # templates: {python} {host} {port} and any knob name
    knobs: Knobs
    default_port: int
    paths: Mapping[str, str] = field(default_factory=lambda: PATHS)
    deviations: tuple[Deviation, ...] = ()
    ready_timeout_s: float = 60.0
    multiprocess_metrics: bool = False  # several processes write the contract's metrics
    # True: the port opens only once the model is loaded (not ready = connection refused);
    # False: liveness answers at once and readiness says 503 while the model loads.
    loads_before_listening: bool = False
    openapi: str | None = None  # path of the OpenAPI document, if the stack publishes one
    python: str = field(default_factory=lambda: sys.executable)  # another venv if isolated

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


def _knobs(**values: Any) -> Knobs:
    return MappingProxyType(values)


_UVICORN = (
    "{python}", "-m", "uvicorn", "--host", "{host}", "--port", "{port}",
    "--workers", "{workers}", "--loop", "uvloop", "--http", "httptools",
    "--no-access-log", "--timeout-keep-alive", "{keepalive_s}",
    "--timeout-graceful-shutdown", "{graceful_timeout_s}",
)
_UVICORN_KNOBS = {"workers": 1, "blas_threads": 1, "keepalive_s": 5, "graceful_timeout_s": 10}
# Our non-blocking stacks bound their backlog (503 past max_inflight) and answer 504 past
# request_timeout_s.
_LIMITS = {"max_inflight": 256, "request_timeout_s": 10}

_STACK_LIST: tuple[Stack, ...] = (
    Stack(
        name="flask_gunicorn",
        title="Flask on gunicorn (WSGI, sync workers)",
        description="Classic WSGI: one request per worker process at a time; "
        "gunicorn's recommended 2 x cores + 1 sync workers for one server core; the model is "
        "preloaded in the master and shared copy-on-write by the workers.",
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
        argv=(*_UVICORN, "servers.fastapi_inline:app"),
        knobs=_knobs(**_UVICORN_KNOBS),
        default_port=8002,
        openapi="/openapi.json",
    ),
    Stack(
        name="fastapi_threadpool",
        title="FastAPI, model in a thread pool",
        description="The loop parses and validates; the model runs in a bounded thread pool.",
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
        argv=(*_UVICORN, "servers.fastapi_batcher:app"),
        knobs=_knobs(
            **_UVICORN_KNOBS, **_LIMITS, max_batch_size=64, max_wait_ms=2.0, max_queue=4096
        ),
        default_port=8004,
        openapi="/openapi.json",
    ),
)

STACKS: Mapping[str, Stack] = MappingProxyType({s.name: s for s in _STACK_LIST})


def get_stack(name: str) -> Stack:
    try:
        return STACKS[name]
    except KeyError:
        raise KeyError(f"unknown stack {name!r}; registered: {', '.join(STACKS)}") from None
