"""Talking to any stack in its own protocol, for the tests parametrized over the registry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from servers.process import ServerProcess
from servers.protocols import Answer, NativeRequest

PROTOCOL_TIMEOUT_S = 20.0


def send(server: ServerProcess, request: NativeRequest, client: httpx.Client | None = None) -> httpx.Response:
    """One request on a fresh connection (some frameworks close a connection after an error),
    or on `client`'s."""
    if client is not None:
        return client.request(request.method, server.url + request.path, content=request.body,
                              headers=dict(request.headers))
    return httpx.request(request.method, server.url + request.path, content=request.body,
                         headers=dict(request.headers), timeout=PROTOCOL_TIMEOUT_S)


def predict(server: ServerProcess, rows: Sequence[dict[str, Any]], batch: bool,
            client: httpx.Client | None = None) -> tuple[httpx.Response, list[Answer] | None]:
    """The rows sent in the stack's protocol; its answers when it answered 200."""
    stack = server.stack
    response = send(server, stack.protocol.request(rows, batch, stack.paths), client)
    if response.status_code != 200:
        return response, None
    return response, stack.protocol.answers(response.content, len(rows), batch)


def get(server: ServerProcess, kind: str, timeout: float = 5.0) -> httpx.Response:
    """GET one of the stack's paths (health, ready, metrics, info, model) on the port serving it."""
    return httpx.get(server.url_for(kind), timeout=timeout)
