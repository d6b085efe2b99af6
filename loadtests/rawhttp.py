"""A small HTTP/1.1 client over a plain socket, for requests no well-behaved client sends.

The connection-level robustness cases (loadtests/connection_cases.py) must write exactly the
bytes they mean (a chunk size that is no number, two framings at once, a length that lies,
headers trickled a byte at a time, several requests in one write) and see exactly what comes
back: an answer, the connection closed without one, a reset, or nothing in time. A client
library would refuse to send such requests, or repair them, or hide how the connection ended.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

READ_SIZE = 65536
SEND_SIZE = 65536  # how a client library writes a large body: in buffers of this size

# How an exchange ended when no (complete) answer came: the server closed the connection,
# reset it, or sent nothing before the deadline.
Ending = Literal["closed", "reset", "timeout"]


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: Mapping[str, str]  # names in lower case; a repeated header keeps its last value
    body: bytes

    @property
    def closes(self) -> bool:
        """The server says it closes the connection after this answer."""
        return "close" in self.headers.get("connection", "").lower()


@dataclass(frozen=True)
class NoAnswer:
    ending: Ending
    partial: bytes = b""  # whatever arrived before it ended

    def __str__(self) -> str:
        return {"closed": "connection closed without an answer", "reset": "connection reset",
                "timeout": "no answer in time"}[self.ending]


Exchange = RawResponse | NoAnswer


def request_head(method: str, path: str, host: str, headers: Mapping[str, str]) -> bytes:
    """Request line and headers, exactly as given (no Content-Length is added)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked(body: bytes, pieces: int = 2) -> bytes:
    """`body` in Transfer-Encoding: chunked framing, in `pieces` chunks, with the last chunk."""
    size = max(1, -(-len(body) // pieces))
    out = b""
    for start in range(0, len(body), size):
        part = body[start:start + size]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    return out + b"0\r\n\r\n"


class _Closed(Exception):
    pass


@dataclass
class RawConnection:
    """One TCP connection to the server; every read is bounded by `timeout_s` overall."""

    host: str
    port: int
    timeout_s: float
    sock: socket.socket = field(init=False)
    _buffer: bytes = field(init=False, default=b"")
    _deadline: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def send(self, data: bytes) -> bool:
        """Write everything; False when the server had already closed or reset the connection."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def trickle(self, data: bytes, gap_s: float) -> bool:
        """Write one byte at a time, `gap_s` apart: a slow client (or one that means harm)."""
        for byte in data:
            if not self.send(bytes([byte])):
                return False
            time.sleep(gap_s)
        return True

    def upload(self, data: bytes) -> bool:
        """Write a large body as a client library does: buffer after buffer, without waiting
        for the server; on a failed write stop sending (the answer may already be there)."""
        return all(self.send(data[start:start + SEND_SIZE]) for start in range(0, len(data), SEND_SIZE))

    def half_close(self) -> None:
        """Tell the server nothing more will be sent (FIN), and still read its answer."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.sock.close()

    def read_response(self, timeout_s: float | None = None) -> Exchange:
        """The next complete answer (interim 1xx answers skipped), or how the connection ended."""
        self._deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        start = self._buffer
        try:
            while True:
                status, headers = self._head()
                if 100 <= status < 200:
                    continue
                return RawResponse(status, headers, self._body(status, headers))
        except _Closed:
            return NoAnswer("closed", start + self._buffer)
        except (ConnectionResetError, BrokenPipeError):
            return NoAnswer("reset", start + self._buffer)
        except TimeoutError:
            return NoAnswer("timeout", start + self._buffer)
        except OSError:
            return NoAnswer("reset", start + self._buffer)

    def _fill(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        data = self.sock.recv(READ_SIZE)
        if not data:
            raise _Closed
        self._buffer += data

    def _until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            self._fill()
        found, _, self._buffer = self._buffer.partition(marker)
        return found

    def _exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _head(self) -> tuple[int, dict[str, str]]:
        status_line, *lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise _Closed  # not HTTP: as good as no answer
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(parts[1]), headers

    def _body(self, status: int, headers: Mapping[str, str]) -> bytes:
        if status in (204, 304):
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while size := int(self._until(b"\r\n").split(b";")[0] or b"0", 16):
                body += self._exactly(size)
                self._exactly(2)
            self._until(b"\r\n")  # no trailers are expected: the empty line after the last chunk
            return body
        if "content-length" in headers:
            return self._exactly(int(headers["content-length"]))
        try:  # neither: the body runs to the end of the connection
            while True:
                self._fill()
        except _Closed:
            body, self._buffer = self._buffer, b""
            return body
