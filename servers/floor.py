"""The floor: a server that answers every planned request with its answer's bytes and no work.

What a load generator measures against it is the harness's own latency at that concurrency:
the generator preparing, sending, timing (and checking) a request, the loopback, and a parse
and a dictionary lookup here. Servebench measures it in the same run as the stacks, so every
number a stack gets can be read next to the part of it that was never the stack's.

    python -m servers.floor --host H --port P --answers FILE

FILE is JSON: [{"method", "path", "body", "answer"}, ...] (UTF-8 text). GET /health,
/health/ready and /metrics answer at once; anything not planned answers 404. One process,
uvloop and httptools, no framework.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import cast

import httptools
import uvloop

from servers.registry import PATHS, Stack

ANSWERS_ENV = "SERVEBENCH_FLOOR_ANSWERS"  # the answers file, when not given as --answers

# Started like a stack (pinned to the server's CPUs, ready on the contract's probe, stopped with
# its process group), but never in the registry: it is the harness, not a stack under test.
FLOOR_STACK = Stack(
    name="floor",
    title="the floor: planned answers, no work",
    description="answers each planned request with its precomputed answer's bytes (uvloop, httptools)",
    role="reference",
    packages=("uvloop", "httptools"),
    tags=(),
    argv=("{python}", "-m", "servers.floor", "--host", "{host}", "--port", "{port}"),
    knobs={"blas_threads": 1},
    default_port=0,
    loads_before_listening=True,
)

Key = tuple[bytes, bytes, bytes]  # method, path, body


def _response(status: bytes, body: bytes, content_type: bytes = b"application/json") -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


NOT_FOUND = _response(b"404 Not Found", b'{"error":"not_found","message":"not planned","details":[]}')


def answers(planned: list[dict[str, str]]) -> dict[Key, bytes]:
    table = {(p["method"].encode(), p["path"].encode(), p["body"].encode()):
             _response(b"200 OK", p["answer"].encode()) for p in planned}
    for path, body in ((PATHS["health"], b'{"status":"alive"}'), (PATHS["ready"], b'{"status":"ready"}')):
        table[(b"GET", path.encode(), b"")] = _response(b"200 OK", body)
    table[(b"GET", PATHS["metrics"].encode(), b"")] = _response(b"200 OK", b"", b"text/plain; version=0.0.4")
    return table


class Floor(asyncio.Protocol):
    def __init__(self, table: dict[Key, bytes]) -> None:
        self.table = table
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.path = b""
        self.body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass it

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.close()

    def on_url(self, url: bytes) -> None:
        self.path = httptools.parse_url(url).path

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        key = (self.parser.get_method(), self.path, b"".join(self.body))
        self.body = []
        if self.transport is not None:
            self.transport.write(self.table.get(key, NOT_FOUND))


async def serve(host: str, port: int, table: dict[Key, bytes]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Floor(table), host, port)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--answers", type=Path, default=os.environ.get(ANSWERS_ENV))
    args = parser.parse_args(argv)
    if args.answers is None:
        parser.error(f"--answers or {ANSWERS_ENV} is required")
    uvloop.run(serve(args.host, args.port, answers(json.loads(args.answers.read_text()))))


if __name__ == "__main__":
    main()
