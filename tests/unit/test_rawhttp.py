"""The raw HTTP client reads answers in every framing and tells how a connection ended.

The peer here is a loopback socket that writes fixed bytes: what is under test is the client's
reading of them, not a server.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from loadtests.rawhttp import NoAnswer, RawConnection, RawResponse, chunked, request_head


@contextmanager
def peer(reply: bytes, then: str = "close") -> Iterator[tuple[str, int]]:
    """A listener that reads the request's first bytes, writes `reply`, then closes, resets or
    waits (`then`)."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(reply)
        if then == "reset":  # RST instead of FIN
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif then == "wait":
            done.wait(5)
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        done.set()
        thread.join()
        listener.close()


def _ask(address: tuple[str, int], timeout_s: float = 2.0) -> RawResponse | NoAnswer:
    with RawConnection(address[0], address[1], timeout_s) as connection:
        connection.send(request_head("GET", "/", "x", {}))
        return connection.read_response()


def test_a_content_length_answer_and_its_headers() -> None:
    with peer(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}") as at:
        answer = _ask(at)
    assert isinstance(answer, RawResponse)
    assert (answer.status, answer.body, answer.closes) == (413, b"{}", True)


def test_a_chunked_answer_after_an_interim_one() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    reply = interim + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(b"hello")
    with peer(reply, then="wait") as at:
        answer = _ask(at)
    assert isinstance(answer, RawResponse) and (answer.status, answer.body) == (200, b"hello")


def test_an_answer_that_runs_to_the_end_of_the_connection() -> None:
    with peer(b"HTTP/1.0 400 Bad Request\r\n\r\nno framing") as at:
        answer = _ask(at)
    assert isinstance(answer, RawResponse) and answer.body == b"no framing"


def test_how_a_connection_without_an_answer_ended() -> None:
    with peer(b"") as at:
        assert _ask(at) == NoAnswer("closed")
    with peer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", then="reset") as at:
        answer = _ask(at)
    assert isinstance(answer, NoAnswer) and answer.ending in ("reset", "closed")
    with peer(b"", then="wait") as at:
        assert _ask(at, timeout_s=0.2) == NoAnswer("timeout")


def test_chunked_framing_of_a_body() -> None:
    assert chunked(b"abcdef", pieces=2) == b"3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n"
    assert request_head("POST", "/p", "h", {"A": "1"}) == b"POST /p HTTP/1.1\r\nHost: h\r\nA: 1\r\n\r\n"
