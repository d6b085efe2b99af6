"""The fault client tells how a request was lost, against real sockets that lose one on purpose."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable

from loadtests.faults import Tally, _client
from servers.process import ServerProcess
from servers.registry import STACKS

OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


def _read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += conn.recv(65536)


def _reset(conn: socket.socket) -> None:
    """Close with a reset, as a server that drops a connection does."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _outcomes(serve: Callable[[socket.socket], None]) -> dict[str, int]:
    """Run one client against a listener that `serve`s one connection, then closes for good."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def server() -> None:
        conn, _ = listener.accept()
        serve(conn)
        listener.close()

    thread = threading.Thread(target=server)
    thread.start()
    stop, tally = threading.Event(), Tally()
    client = threading.Thread(target=_client, args=(ServerProcess(STACKS["fastapi_inline"], port=port),
                                                      stop, tally))
    client.start()
    thread.join(timeout=10)
    deadline = time.monotonic() + 10
    while not tally.outcomes["refused"] and time.monotonic() < deadline:
        time.sleep(0.01)  # until the client has met the closed port, however busy the machine
    stop.set()
    client.join(timeout=10)
    return dict(tally.outcomes)


def test_a_keep_alive_connection_closed_as_a_request_arrives_is_unanswered_reused() -> None:
    def answer_once_then_drop(conn: socket.socket) -> None:
        _read_request(conn)
        conn.sendall(OK)
        _read_request(conn)
        _reset(conn)

    outcomes = _outcomes(answer_once_then_drop)
    assert outcomes.pop("refused") > 0
    assert outcomes == {"ok": 1, "unanswered_reused": 1}


def test_a_new_connection_dropped_before_any_answer_is_unanswered_new() -> None:
    def drop(conn: socket.socket) -> None:
        _read_request(conn)
        _reset(conn)

    outcomes = _outcomes(drop)
    assert outcomes.pop("refused") > 0
    assert outcomes == {"unanswered_new": 1}
