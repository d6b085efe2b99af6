"""An ASGI middleware that enforces the contract's input rules in front of a framework's own handler.

Frameworks that parse the body themselves (BentoML, LitServe) answer bad input in their own way:
BentoML with 400 and its own body, LitServe with 500 for malformed JSON and no media-type check.
This guard answers every bad prediction request exactly as servers/contract.py does (415, 413,
422 ErrorBody) and hands only valid bodies on, replayed unchanged, to the framework.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from servers import metrics
from servers.contract import (
    JSON,
    MAX_BODY_BYTES,
    ContractError,
    check_declared_length,
    check_media_type,
    parse_batch,
    parse_single,
    too_large,
)
from servers.registry import PATHS

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# path -> (endpoint label of the contract metrics, parser)
_GUARDED: dict[str, tuple[str, Callable[[bytes], Any]]] = {
    PATHS["predict"]: ("single", parse_single),
    PATHS["batch"]: ("batch", parse_batch),
}


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def _read_capped(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_error(send: Send, error: ContractError, request_id: str | None = None) -> None:
    body = error.body(request_id)
    headers = [(b"content-type", JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ContractGuard:
    """Validates POST bodies of the prediction paths; everything else passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = _GUARDED.get(scope.get("path", "")) if scope["type"] == "http" else None
        if guarded is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        endpoint, parse = guarded
        try:
            check_media_type(_header(scope, b"content-type"))
            check_declared_length(_header(scope, b"content-length"))
            body = await _read_capped(receive)
            parse(body)
        except ContractError as error:
            metrics.ERRORS.labels(endpoint, error.error).inc()
            await send_error(send, error)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # only a disconnect can come after the whole body

        await self.app(scope, replay, send)
