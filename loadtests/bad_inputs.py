"""Bad inputs asked of a running stack one at a time, each answer classified: the loop that
verification (before every measurement) and the robustness matrix share."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from loadtests.classify import classify, is_error_body
from servebench.results.kinds import CaseResult
from servers.process import Server
from servers.protocols import NativeRequest
from shared_model.cases import BadCase
from shared_model.model_schema import ModelSchema

# How a case is sent: (status, None if no answer came; the body; why no answer came, or "").
Send = Callable[[BadCase, NativeRequest], tuple[int | None, bytes, str]]


def fresh_client(server: Server, timeout_s: float) -> httpx.Client:
    """One client whose every request goes on a connection of its own: some frameworks close
    the connection after an error answer, and the next request must not inherit that. (One
    client for all: building one costs tens of milliseconds.)"""
    return httpx.Client(base_url=server.url, timeout=timeout_s,
                        limits=httpx.Limits(max_keepalive_connections=0))


def send_with(client: httpx.Client) -> Send:
    def send(case: BadCase, native: NativeRequest) -> tuple[int | None, bytes, str]:
        try:
            response = client.request(native.method, native.path, content=native.body,
                                      headers=dict(native.headers))
        except httpx.HTTPError as error:
            return None, b"", f"{type(error).__name__}: {error}"
        return response.status_code, response.content, ""
    return send


def ask(server: Server, cases: Sequence[BadCase], model: ModelSchema | None, send: Send,
        fresh: httpx.Client) -> list[CaseResult]:
    """Each case the stack's protocol can carry, then the stack's readiness through `fresh`
    (a client that keeps no connection alive), classified against the stack's declarations."""
    stack = server.stack
    results = []
    for case in cases:
        native = stack.protocol.bad_request(case, stack.paths, model)
        if native is None:  # e.g. the contract's {"items": ...} envelope in a tensor protocol
            continue
        started = time.perf_counter()
        status, body, no_answer = send(case, native)
        latency_ms = (time.perf_counter() - started) * 1000
        ready = ready_after(fresh, server)
        error_body = status is not None and is_error_body(body)
        results.append(CaseResult(
            case=case.name, group=case.group, expected=case.status, declared=stack.expected_bad(case)[0],
            status=status, error_body=error_body, latency_ms=round(latency_ms, 2), ready_after=ready,
            outcome=classify(stack, case, status, error_body, ready), detail=no_answer,
        ))
    return results


def ready_after(fresh: httpx.Client, server: Server) -> bool:
    """The stack's readiness after a case, through `fresh`: a case may leave its own connection
    closed or broken, and the check must not inherit it."""
    try:
        return fresh.get(server.url_for("ready")).status_code == 200
    except httpx.HTTPError:
        return False
