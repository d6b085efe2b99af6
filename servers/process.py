"""Run a registered stack as a real process: pin it, wait for readiness, stop its whole group."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import httpx
import psutil

from servers.registry import Stack
from shared_model.schemas import EXAMPLE_REQUEST as SEED_EXAMPLE

REPO_ROOT = Path(__file__).resolve().parent.parent


class StackFailed(RuntimeError):
    """A stack did not start, did not become ready, or died; carries its log tail."""

    def __init__(self, stack: str, reason: str, log_tail: str) -> None:
        super().__init__(f"{stack}: {reason}")
        self.stack = stack
        self.reason = reason
        self.log_tail = log_tail


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _any_alive(processes: Sequence[psutil.Process]) -> bool:
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return True
        except psutil.Error:
            continue
    return False


class ServerProcess:
    """One stack, started in its own session so that stopping it stops every child too."""

    def __init__(
        self,
        stack: Stack,
        host: str = "127.0.0.1",
        port: int | None = None,
        cpus: Sequence[int] | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.stack = stack
        self.cwd = cwd  # the source tree the stack runs from (another commit's, for the gate)
        self.host = host
        self.port = port or free_port(host)
        # The stack's other listening ports (management, metrics, gRPC), free ones by name.
        self.extra_ports = {name: free_port(host) for name in stack.extra_ports}
        self.cpus = tuple(cpus) if cpus else None
        self.extra_env = dict(env or {})
        self._own_log = log_path is None
        self.log_path = log_path or Path(tempfile.mkstemp(prefix=f"{stack.name}-", suffix=".log")[1])
        self._metrics_dir: str | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.ready_after_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def kind(self) -> str:
        """The registry's stack it runs (what its /info names)."""
        return self.stack.name

    def url_for(self, kind: str) -> str:
        """Full URL of one of the stack's paths, on the port that serves it."""
        port_name = self.stack.path_ports.get(kind)
        port = self.extra_ports[port_name] if port_name else self.port
        return f"http://{self.host}:{port}{self.stack.paths[kind]}"

    def command(self) -> list[str]:
        argv = self.stack.command(self.host, self.port, self.extra_ports)
        if self.cpus:
            # Children inherit the affinity: the whole process tree stays on these CPUs.
            argv = ["taskset", "--cpu-list", ",".join(map(str, self.cpus)), *argv]
        return argv

    def start(self) -> ServerProcess:
        env = {**os.environ, **self.stack.env(), **self.extra_env}
        env["PYTHONUNBUFFERED"] = "1"
        if self.stack.aggregates_metrics:
            self._metrics_dir = tempfile.mkdtemp(prefix=f"prom-{self.stack.name}-")
            env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def failed(self, reason: str) -> StackFailed:
        return StackFailed(self.stack.name, reason, tail(self.log_path))

    def wait_ready(self, timeout_s: float | None = None) -> float:
        """Poll the readiness path until 200; returns seconds from start to ready."""
        assert self.proc is not None, "start() first"
        deadline = self.started_at + (timeout_s or self.stack.ready_timeout_s)
        ready_url = self.url_for("ready")
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise self.failed(f"exited with code {self.proc.returncode} before ready")
                try:
                    if client.get(ready_url).status_code == 200:
                        if self.stack.deviation_for("ready_early") is not None:
                            self._first_answer(client, deadline)
                        self.ready_after_s = time.monotonic() - self.started_at
                        return self.ready_after_s
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
        raise self.failed(f"not ready within {timeout_s or self.stack.ready_timeout_s:.0f}s")

    def _first_answer(self, client: httpx.Client, deadline: float) -> None:
        """A stack declared to say ready before its model has loaded: wait, within the same
        deadline, for its first answer, so that no check or measurement starts while it loads
        (the deviation itself is what the lifecycle tests observe)."""
        native = self.stack.protocol.request([SEED_EXAMPLE], False, self.stack.paths)
        answer = client.request(native.method, f"{self.url}{native.path}", content=native.body,
                                headers=dict(native.headers), timeout=max(deadline - time.monotonic(), 0.1))
        if answer.status_code != 200:
            raise self.failed(f"ready, but its first prediction answered {answer.status_code}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The server's whole tree: the leader and every descendant."""
        if not self.alive():
            return []
        assert self.proc is not None
        try:
            leader = psutil.Process(self.proc.pid)
            return [leader, *leader.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _group_alive(self) -> bool:
        """Any live (non-zombie) process left in the server's process group?"""
        assert self.proc is not None
        pgid = self.proc.pid
        for process in psutil.process_iter(["status"]):
            try:
                if os.getpgid(process.pid) == pgid and process.info["status"] != "zombie":
                    return True
            except (ProcessLookupError, psutil.Error):
                continue
        return False

    def stop(self, grace_s: float = 15.0) -> float:
        """SIGTERM the whole process group, SIGKILL whatever is left after the grace period.

        Returns the seconds it took for every process of the group to be gone.
        """
        if self.proc is None:
            return 0.0
        started = time.monotonic()
        # Descendants that started their own session (circus, under BentoML, runs every worker
        # with setsid) are outside the group: remember them so that none can outlive the stop.
        tree = self.processes()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = started + grace_s
        while time.monotonic() < deadline:
            self.proc.poll()
            if not self._group_alive() and not _any_alive(tree):
                break
            time.sleep(0.02)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            for process in tree:
                with contextlib.suppress(psutil.Error):
                    process.kill()
            psutil.wait_procs(tree, timeout=5)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self._metrics_dir:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        return time.monotonic() - started

    def __enter__(self) -> ServerProcess:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_log and exc_type is None:
            self.log_path.unlink(missing_ok=True)


class ExternalServer:
    """A service servebench did not start (a deployment, a cluster, a stack in another network
    namespace), reached at its URL and asked in its kind's protocol and paths.

    It is never started, pinned, sampled or stopped here: `processes()` is empty and `stop()`
    does nothing. A kind with extra ports finds them as the image places them, right after the
    service's port (servebench/deploy/container.py)."""

    proc: None = None
    cpus: None = None

    def __init__(self, stack: Stack, url: str, kind: str, log_path: Path) -> None:
        parsed = urlsplit(url)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"{url!r}: give the service's base URL, http://HOST:PORT")
        if parsed.path.strip("/"):
            raise ValueError(f"{url!r}: no path; the stack kind's paths are appended to it")
        self.stack = stack
        self.kind = kind  # the registry's stack it is an instance of (what its /info names)
        self.host = parsed.hostname
        self.port = parsed.port or 80
        self.extra_ports = stack.ports_for(self.port)
        self.log_path = log_path
        self.started_at = 0.0
        self.ready_after_s: float | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url_for(self, kind: str) -> str:
        port_name = self.stack.path_ports.get(kind)
        port = self.extra_ports[port_name] if port_name else self.port
        return f"http://{self.host}:{port}{self.stack.paths[kind]}"

    def command(self) -> list[str]:
        return ["external", self.url]

    def start(self) -> ExternalServer:
        self.started_at = time.monotonic()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(f"{self.url}: an external service; its logs are where it runs\n")
        return self

    def failed(self, reason: str) -> StackFailed:
        return StackFailed(self.stack.name, f"{reason} (external service at {self.url})", "")

    def wait_ready(self, timeout_s: float | None = None) -> float:
        """Seconds until readiness said 200 (about 0 for a service that is already up)."""
        deadline = self.started_at + (timeout_s or self.stack.ready_timeout_s)
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url_for("ready")).status_code == 200:
                        self.ready_after_s = time.monotonic() - self.started_at
                        return self.ready_after_s
                time.sleep(0.2)
        raise self.failed(f"readiness not 200 within {timeout_s or self.stack.ready_timeout_s:.0f}s")

    def alive(self) -> bool:
        try:
            return httpx.get(self.url_for("health"), timeout=5.0).status_code == 200
        except httpx.TransportError:
            return False

    def processes(self) -> list[psutil.Process]:
        return []

    def stop(self, grace_s: float = 15.0) -> float | None:
        return None  # not ours to stop


# What the engine drives: a stack it started, or a service it was pointed at.
Server = ServerProcess | ExternalServer
