"""Faults under load: SIGTERM while requests are in flight, and a worker killed with -9.

Clients are keep-alive connections in threads, each sending predictions back to back, and
every request's fate is classified from the client's side.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil

from servers.process import ServerProcess
from shared_model.cases import SEED_EXAMPLE


@dataclass
class Tally:
    """Per-request outcomes, with the time each one ended (monotonic seconds)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    ok_times: list[float] = field(default_factory=list)
    error_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.outcomes[outcome] += 1
            (self.ok_times if outcome == "ok" else self.error_times).append(now)


def _client(server: ServerProcess, stop: threading.Event, tally: Tally) -> None:
    """Send until told to stop or until the server refuses new connections."""
    conn: http.client.HTTPConnection | None = None
    answered_here = 0  # answers on the current connection
    native = server.stack.protocol.request([SEED_EXAMPLE], False, server.stack.paths)
    while not stop.is_set():
        if conn is None:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
            answered_here = 0
            try:
                conn.connect()
            except ConnectionRefusedError:
                tally.add("refused")  # a clean refusal: nothing was accepted
                conn = None
                if stop.wait(0.01):
                    return
                continue
            except OSError:
                tally.add("connect_error")
                conn = None
                continue
        try:
            conn.request(native.method, native.path, native.body, dict(native.headers))
        except (OSError, http.client.HTTPException):
            tally.add("send_failed")  # the server had closed the connection: never accepted
            conn.close()
            conn = None
            continue
        try:
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            # Sent, then the connection closed with no (full) answer. On a connection already
            # answered, the server closed it as this request arrived (the keep-alive race). On a
            # new one, no worker answered: as measured, it sat in the listen backlog after
            # accepting stopped, and was reset with the others when the listener closed.
            tally.add("unanswered_reused" if answered_here else "unanswered_new")
            conn.close()
            conn = None
            continue
        answered_here += 1
        tally.add("ok" if response.status == 200 else f"status_{response.status}")
        if response.will_close:
            conn.close()
            conn = None


@dataclass(frozen=True)
class ShutdownResult:
    outcomes: dict[str, int]
    shutdown_s: float
    exit_code: int | None

    @property
    def lost(self) -> int:
        """Requests the server received and did not answer successfully. A write that fails
        because the server had already closed the connection was never accepted: like a
        refused connection, the client knows it was not processed and may resend it."""
        never_accepted = ("ok", "refused", "connect_error", "send_failed")
        return sum(n for k, n in self.outcomes.items() if k not in never_accepted)


def sigterm_under_load(server: ServerProcess, clients: int = 8, load_s: float = 1.0) -> ShutdownResult:
    """SIGTERM the stack's process group while `clients` connections keep sending."""
    assert server.proc is not None
    stop, tally = threading.Event(), Tally()
    threads = [threading.Thread(target=_client, args=(server, stop, tally)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(load_s)
    started = time.monotonic()
    os.killpg(server.proc.pid, signal.SIGTERM)
    exit_code = server.proc.wait(timeout=60)
    shutdown_s = time.monotonic() - started
    time.sleep(0.2)  # let the clients meet the closed port
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    server.stop()  # whatever may be left of the group
    return ShutdownResult(dict(tally.outcomes), round(shutdown_s, 3), exit_code)


@dataclass(frozen=True)
class CrashResult:
    victim_pid: int
    outcomes: dict[str, int]
    failed_after_kill: int
    recovery_s: float | None  # kill to the first success of every client after it


def kill_a_worker_under_load(
    server: ServerProcess, clients: int = 8, load_s: float = 1.0, after_s: float = 3.0
) -> CrashResult:
    """kill -9 one worker (a child of the leader) during load; how long until all is well again."""
    stop, tally = threading.Event(), Tally()
    threads = [threading.Thread(target=_client, args=(server, stop, tally)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(load_s)
    workers = [p for p in server.processes()[1:] if _serves_requests(p)]
    victim = workers[0]
    killed_at = time.monotonic()
    victim.send_signal(signal.SIGKILL)
    time.sleep(after_s)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    errors_after = [t for t in tally.error_times if t >= killed_at]
    last_error = max(errors_after, default=None)
    recovered = [t for t in tally.ok_times if last_error is None or t > last_error]
    recovery_s = (min(recovered) - killed_at) if recovered and last_error is not None else None
    return CrashResult(victim.pid, dict(tally.outcomes), len(errors_after),
                       None if recovery_s is None else round(recovery_s, 3))


def _serves_requests(process: psutil.Process) -> bool:
    """Worker processes, not helpers such as multiprocessing's resource tracker."""
    try:
        return "resource_tracker" not in " ".join(process.cmdline())
    except psutil.Error:
        return False
