"""A real Prometheus server on loopback that scrapes running stacks, and queries against it.

Used by `servebench monitor` and the tests; any run that wants Prometheus's view of a stack
can start one with a short scrape interval, query its HTTP API, and stop it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from servebench.deploy import prometheus_config
from servebench.deploy.prometheus_config import ScrapeTarget
from servebench.errors import UserError
from servers.process import free_port, tail

Result = list[dict[str, Any]]


class PrometheusError(RuntimeError):
    """Prometheus did not start, answered an error, or the awaited value never came."""


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise UserError("no `prometheus` on PATH; `make sysdeps` installs Debian's package")
    return found


class PrometheusServer:
    """One Prometheus process in its own session, with its config and storage in a work dir."""

    def __init__(
        self,
        targets: Sequence[ScrapeTarget],
        host: str = "127.0.0.1",
        port: int | None = None,
        scrape_interval: str = "5s",
        workdir: Path | None = None,
    ) -> None:
        self.targets = tuple(targets)
        self.host = host
        self.port = port or free_port(host)
        self.scrape_interval = scrape_interval
        self._own_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="servebench-prometheus-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def command(self) -> list[str]:
        return [
            prometheus_binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address={self.host}:{self.port}",
            "--storage.tsdb.retention.time=1d",
        ]

    def start(self) -> PrometheusServer:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(prometheus_config.render(self.targets, self.scrape_interval))
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        assert self.proc is not None, "start() first"
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    code = self.proc.returncode
                    raise PrometheusError(f"prometheus exited with {code}:\n{tail(self.log_path)}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + "/-/ready").status_code == 200:
                        return
                time.sleep(0.1)
        raise PrometheusError(f"prometheus not ready within {timeout_s:.0f}s:\n{tail(self.log_path)}")

    def query(self, expr: str) -> Result:
        """An instant query; the result vector (possibly empty)."""
        response = httpx.get(self.url + "/api/v1/query", params={"query": expr}, timeout=5.0)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"query {expr!r}: {body.get('errorType')}: {body.get('error')}")
        return list(body["data"]["result"])

    def targets_health(self) -> dict[str, str]:
        """Scrape health ("up", "down", "unknown") by job."""
        body = httpx.get(self.url + "/api/v1/targets", timeout=5.0).json()
        return {t["labels"]["job"]: t["health"] for t in body["data"]["activeTargets"]}

    def wait_for(
        self, expr: str, done: Callable[[Result], bool], timeout_s: float = 30.0, poll_s: float = 0.25
    ) -> Result:
        """Query until `done(result)`; raises with the last result after the deadline."""
        deadline = time.monotonic() + timeout_s
        result: Result = []
        while time.monotonic() < deadline:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(poll_s)
        raise PrometheusError(f"{expr!r} not as awaited within {timeout_s:.0f}s; last result {result}")

    def stop(self, grace_s: float = 10.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
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


def scalar(result: Result) -> float | None:
    """The value of a one-sample result, None when empty."""
    if not result:
        return None
    if len(result) > 1:
        raise PrometheusError(f"expected one series, got {len(result)}: {result}")
    return float(result[0]["value"][1])
