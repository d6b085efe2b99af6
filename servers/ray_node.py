"""Start one Ray node (`ray start --block`) with every port chosen up front, on one IP.

Shared by the single-node Ray Serve stacks (servers/ray_serve_app.py) and the two-node cluster
(servers/ray_cluster.py). Ray's defaults do not suit a benchmark machine: some ports are fixed
(the autoscaler's and dashboard's metrics on 44217 and 44227, the agent on 52365, the client
server on 10001), so two Ray instances collide, and others are drawn by the kernel from the
ephemeral range, where the port a harness has just chosen for the server may be handed to a
Ray process first. Here every port Ray opens for the node is drawn from PORT_RANGE, below the
ephemeral range, each checked free on the node's IP, and passed explicitly.

`ray start --block` stays in the foreground: it runs the node's processes (GCS, raylet, agents
and, on a head, the autoscaler monitor and the dashboard's head process) and, through Ray's
reaper, stops them all when it ends. Its standard input must stay open (a pipe): the reaper
takes end-of-file on it for the death of `ray start`.
"""

from __future__ import annotations

import ctypes
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

PORT_RANGE = (20000, 30000)  # below Linux's ephemeral range (32768-60999)
WORKER_PORTS = 64  # one per Ray worker process (driver, controller, proxy, replicas, ...)
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Ray's token authentication, explicit: every process of the cluster (nodes, drivers) reads the
# token from this file. A real cluster's token comes the same way (or as RAY_AUTH_TOKEN).
AUTH_ENV = {"RAY_AUTH_MODE": "token"}
TOKEN_PATH_ENV = "RAY_AUTH_TOKEN_PATH"
# Ray 2.60: on SIGTERM, `ray start --block` first drains its node (30 s at most by default) so
# that Serve can move traffic away; bounded here by the stack's graceful timeout.
DRAIN_ENV = "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"
# Read by Ray at import: with "0", Ray keeps a loopback node IP (it otherwise replaces
# 127.0.0.1 by the machine's outward address). Ray uses the same switch on Windows and macOS.
LOCAL_ONLY_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


_LIBC = ctypes.CDLL("libc.so.6", use_errno=True)  # loaded before any fork


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """In a child (preexec_fn): get `signum` when the parent dies (Linux PR_SET_PDEATHSIG)."""
    _LIBC.prctl(1, signum)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before prctl
        os.kill(os.getpid(), signum)


def ray_executable(python: str = sys.executable) -> str:
    """The `ray` command of the environment whose interpreter runs this code."""
    return str(Path(python).parent / "ray")


def new_token_file(directory: str | None = None) -> str:
    """A fresh random token in a file only its owner can read; its path."""
    fd, path = tempfile.mkstemp(prefix="ray-token-", dir=directory)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    os.chmod(path, 0o600)
    return path


def auth_env(token_path: str) -> dict[str, str]:
    return {**AUTH_ENV, TOKEN_PATH_ENV: token_path}


def _is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(host: str, count: int, contiguous: int = 0,
               is_free: Callable[[str, int], bool] | None = None) -> tuple[list[int], int]:
    """`count` free ports and the start of a free block of `contiguous` ports, on `host`."""
    is_free = is_free or _is_free
    rng = random.Random()
    low, high = PORT_RANGE
    block = 0
    for _ in range(200):
        start = rng.randrange(low, high - contiguous)
        if all(is_free(host, p) for p in range(start, start + contiguous)):
            block = start
            break
    else:
        raise RuntimeError(f"no block of {contiguous} free ports on {host} in {PORT_RANGE}")
    taken = set(range(block, block + contiguous))
    ports: list[int] = []
    while len(ports) < count:
        port = rng.randrange(low, high)
        if port not in taken and is_free(host, port):
            taken.add(port)
            ports.append(port)
    return ports, block


@dataclass(frozen=True)
class RayNode:
    """How to start one Ray node: head (no address) or worker (the head's GCS address)."""

    node_ip: str
    num_cpus: int
    address: str | None = None  # the head's GCS address, for a worker node
    resources: Mapping[str, float] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def plan(cls, node_ip: str, num_cpus: int, address: str | None = None,
             resources: Mapping[str, float] | None = None, fresh_namespace: bool = False) -> RayNode:
        """Ports for a node on node_ip; in a fresh network namespace every port is free."""
        names = ["node-manager", "object-manager", "metrics-export", "dashboard-agent-listen",
                 "dashboard-agent-grpc", "runtime-env-agent"]
        if address is None:
            names += ["gcs", "ray-client-server", "autoscaler-metrics", "dashboard-metrics"]
        is_free = (lambda _host, _port: True) if fresh_namespace else None
        numbers, block = free_ports(node_ip, len(names), WORKER_PORTS, is_free)
        ports = dict(zip(names, numbers, strict=True))
        ports["min-worker"], ports["max-worker"] = block, block + WORKER_PORTS - 1
        return cls(node_ip, num_cpus, address, dict(resources or {}), ports)

    @property
    def head(self) -> bool:
        return self.address is None

    @property
    def gcs_address(self) -> str:
        return f"{self.node_ip}:{self.ports['gcs']}" if self.head else str(self.address)

    def argv(self, ray: str | None = None) -> list[str]:
        p = self.ports
        argv = [ray or ray_executable(), "start", "--block", "--disable-usage-stats",
                "--node-ip-address", self.node_ip, "--num-cpus", str(self.num_cpus),
                "--node-manager-port", str(p["node-manager"]),
                "--object-manager-port", str(p["object-manager"]),
                "--metrics-export-port", str(p["metrics-export"]),
                "--dashboard-agent-listen-port", str(p["dashboard-agent-listen"]),
                "--dashboard-agent-grpc-port", str(p["dashboard-agent-grpc"]),
                "--runtime-env-agent-port", str(p["runtime-env-agent"]),
                "--min-worker-port", str(p["min-worker"]), "--max-worker-port", str(p["max-worker"])]
        if self.resources:
            import json

            argv += ["--resources", json.dumps(dict(self.resources))]
        if self.head:
            argv += ["--head", "--port", str(p["gcs"]), "--include-dashboard", "false",
                     "--ray-client-server-port", str(p["ray-client-server"])]
        else:
            argv += ["--address", str(self.address)]
        return argv

    def env(self, base: Mapping[str, str] | None = None, drain_s: float | None = None) -> dict[str, str]:
        """The node's environment; drain_s bounds how long `ray start` drains on SIGTERM."""
        env = dict(os.environ if base is None else base)
        if drain_s is not None:
            env[DRAIN_ENV] = str(drain_s)
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # Ray's own processes keep their metrics
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        if self.head:
            env["AUTOSCALER_METRIC_PORT"] = str(self.ports["autoscaler-metrics"])
            env["DASHBOARD_METRIC_PORT"] = str(self.ports["dashboard-metrics"])
        if self.node_ip in LOOPBACK:
            env[LOCAL_ONLY_ENV] = "0"
        return env

    def start(self, env: Mapping[str, str] | None = None, wrap: Sequence[str] = (),
              log: int | None = None, drain_s: float | None = None) -> subprocess.Popen[bytes]:
        """`ray start --block` as a child that gets SIGTERM if this process dies; `wrap`
        prefixes it (e.g. `ip netns exec NAME`)."""
        return subprocess.Popen(
            [*wrap, *self.argv()], env=self.env(env, drain_s), stdin=subprocess.PIPE,
            stdout=log, stderr=subprocess.STDOUT if log is not None else None,
            preexec_fn=die_with_parent,
        )


def wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    """Until something listens on host:port; fails early if `process` ends."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`ray start` exited with code {process.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {host}:{port} after {timeout_s:.0f}s")


def stop(process: subprocess.Popen[bytes], timeout_s: float = 15) -> None:
    """End `ray start --block`: its reaper then stops every process of the node."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    if process.stdin:
        process.stdin.close()
