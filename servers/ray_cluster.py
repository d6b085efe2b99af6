"""A two-node Ray cluster on this machine, each node in its own network namespace, serving a Ray
Serve stack: `python -m servers.ray_cluster --stack ray_serve [--port 8000]`.

    head namespace   PREFIX-head    10.213.7.1   `ray start --head`, the Serve driver
                                                  (servers/ray_serve_app.py --address ...),
                                                  Serve's controller and HTTP proxy, one replica
    worker namespace PREFIX-worker  10.213.7.2   `ray start --address=HEAD`, one replica
    root namespace                  10.213.7.254 clients: http://10.213.7.1:PORT/

Each node's IP is its namespace's address (`ray start --node-ip-address`), so Ray's traffic
between the nodes crosses the veth pairs and the bridge of servers/netns.py like traffic
between two machines. The deployment runs `workers` replicas (2) with max_replicas_per_node=1,
Serve's own placement option: one replica per node. Every reply names its replica and node
(X-Replica, X-Node headers; /info's `replica`).

The driver step is the one a real cluster uses: given any cluster's GCS address, run on a
machine that reaches it (with the cluster's token in RAY_AUTH_TOKEN_PATH or RAY_AUTH_TOKEN)

    python -m servers.ray_serve_app --address HEAD_IP:6379 --host HEAD_IP --port 8000 --spread

with this repository (and the model artifacts) at the same path on every node. Here the
cluster's nodes share the machine's file system, so both nodes' replicas write the contract's
metrics into one directory and /metrics counts every replica; on a real cluster each node has
its own (see docs/ray.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from servers.netns import Namespace, Network
from servers.ray_node import (
    RayNode,
    auth_env,
    die_with_parent,
    new_token_file,
    ray_executable,
    wait_for_port,
)
from servers.ray_node import stop as stop_node
from servers.ray_serve_app import serve_flags
from servers.registry import Stack, get_stack

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "sbray"


class RayCluster:
    """Head and worker node in two namespaces, the stack deployed over both; a context manager."""

    def __init__(self, stack: Stack, port: int = 8000, prefix: str = PREFIX,
                 node_cpus: Sequence[Sequence[int]] | None = None, num_cpus: int = 1,
                 log_dir: Path | None = None, ready_timeout_s: float = 180.0,
                 prefer_local_node: bool = False) -> None:
        if int(stack.knobs["workers"]) < 2:
            stack = stack.with_knobs(workers=2)  # one replica per node
        self.stack = stack
        self.port = port
        self.network = Network(prefix)
        self.node_cpus = node_cpus  # taskset per node (head, worker), or none
        self.num_cpus = num_cpus  # Ray's CPU count of each node
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="ray-cluster-"))
        self.ready_timeout_s = ready_timeout_s
        self.head_ns: Namespace | None = None
        self.worker_ns: Namespace | None = None
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._token: str | None = None
        self._metrics_dir: str | None = None
        self.ready_after_s: float | None = None
        # Serve's proxy sends a request to a replica on its own node whenever one has room
        # (RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING, on by default): behind the head's single
        # HTTP entry the worker's replica would take only the overflow. Off here, the router's
        # power-of-two choice picks among the replicas of both nodes.
        self.prefer_local_node = prefer_local_node

    @property
    def host(self) -> str:
        assert self.head_ns is not None, "start() first"
        return self.head_ns.address

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _env(self) -> dict[str, str]:
        assert self._token is not None
        env = {**os.environ, **self.stack.env(), **serve_flags(dict(self.stack.knobs)),
               **auth_env(self._token)}
        env["PYTHONPATH"] = str(REPO_ROOT)
        env["PYTHONUNBUFFERED"] = "1"
        env["RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING"] = "1" if self.prefer_local_node else "0"
        return env

    def _wrap(self, namespace: Namespace, index: int) -> list[str]:
        pin = []
        if self.node_cpus:
            pin = ["taskset", "--cpu-list", ",".join(map(str, self.node_cpus[index]))]
        return [*pin, *namespace.exec_argv([])]

    def _spawn(self, name: str, argv: Sequence[str], env: dict[str, str], **kwargs: Any) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:
            self.processes[name] = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                    **kwargs)

    def start(self) -> RayCluster:
        started = time.monotonic()
        self.network.__enter__()
        self._token = new_token_file()
        self._metrics_dir = tempfile.mkdtemp(prefix=f"prom-{self.stack.name}-cluster-")
        env = self._env()
        ray = ray_executable(self.stack.python)
        self.head_ns = self.network.add("head")
        self.worker_ns = self.network.add("worker")

        head = RayNode.plan(self.head_ns.address, self.num_cpus, fresh_namespace=True)
        # stdin a pipe: `ray start --block`'s reaper takes its end for the death of `ray start`.
        drain_s = float(self.stack.knobs["graceful_timeout_s"])
        self._spawn("head", [*self._wrap(self.head_ns, 0), *head.argv(ray)], head.env(env, drain_s),
                    stdin=subprocess.PIPE, preexec_fn=die_with_parent)
        wait_for_port(self.head_ns.address, head.ports["gcs"], self.processes["head"])

        worker = RayNode.plan(self.worker_ns.address, self.num_cpus, address=head.gcs_address,
                              fresh_namespace=True)
        self._spawn("worker", [*self._wrap(self.worker_ns, 1), *worker.argv(ray)],
                    worker.env(env, drain_s), stdin=subprocess.PIPE, preexec_fn=die_with_parent)

        driver_env = {**env, "PROMETHEUS_MULTIPROC_DIR": self._metrics_dir}
        self._spawn("serve", [*self._wrap(self.head_ns, 0), self.stack.python, "-m", "servers.ray_serve_app",
                              "--address", head.gcs_address, "--node-ip", self.head_ns.address,
                              "--host", self.head_ns.address, "--port", str(self.port), "--spread",
                              "--shutdown-serve"],
                    driver_env, cwd=REPO_ROOT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._wait_ready(started)
        return self

    def _wait_ready(self, started: float) -> None:
        deadline = started + self.ready_timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                for name, process in self.processes.items():
                    if process.poll() is not None:
                        raise RuntimeError(f"{name} exited with code {process.returncode}; "
                                           f"see {self.log_dir / (name + '.log')}")
                with contextlib.suppress(httpx.TransportError):
                    if client.get(self.url + self.stack.paths["ready"]).status_code == 200:
                        self.ready_after_s = time.monotonic() - started
                        return
                time.sleep(0.2)
        raise TimeoutError(f"cluster not ready within {self.ready_timeout_s:.0f}s; logs in {self.log_dir}")

    def pids(self) -> list[int]:
        """Every process in the cluster's namespaces."""
        return [pid for ns in (self.head_ns, self.worker_ns) if ns for pid in ns.pids()]

    def stop(self) -> float:
        """Remove the application, stop both nodes, remove the namespaces; seconds it took."""
        started = time.monotonic()
        serve = self.processes.pop("serve", None)
        if serve is not None and serve.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(serve.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                serve.wait(timeout=30)
        for name in ("worker", "head"):
            process = self.processes.pop(name, None)
            if process is not None:
                stop_node(process, timeout_s=20)
        self.network.close()  # whatever still runs in the namespaces, then the namespaces
        if self._token:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._token)
        if self._metrics_dir:
            shutil.rmtree(self._metrics_dir, ignore_errors=True)
        return time.monotonic() - started

    def __enter__(self) -> RayCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--stack", default="ray_serve", choices=["ray_serve", "ray_serve_nobatch"])
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default=PREFIX, help="names of the namespaces and interfaces")
    args = parser.parse_args(argv)
    stop = False

    def on_signal(*_: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with RayCluster(get_stack(args.stack), port=args.port, prefix=args.prefix) as cluster:
        print(f"{args.stack} on a two-node Ray cluster: {cluster.url} "
              f"(ready after {cluster.ready_after_s:.1f}s; logs in {cluster.log_dir})", flush=True)
        while not stop:
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
