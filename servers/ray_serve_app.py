"""Ray Serve stacks: `python -m servers.ray_serve_app --host H --port P` (knobs from SERVEBENCH_KNOBS).

The launcher starts a single-node Ray cluster itself (GCS, raylet, the per-node agents, the
Serve controller, the HTTP proxy and the replicas are all its descendants, on its CPUs),
deploys the application of servers/ray_serve_deployment.py behind Serve's HTTP proxy on
HOST:PORT, and shuts everything down on SIGTERM or SIGINT.

Process layout: this process stays the leader of the server's process group and does nothing
but wait; Ray runs in a child process in a process group of its own, so that a SIGTERM sent to
the server's group reaches the leader only, which forwards it to that child, which then shuts
Serve down the way `serve run` does on Ctrl-C (serve.shutdown(): replicas finish their
requests within graceful_timeout_s) and then stops the Ray processes (ray.shutdown()). A
SIGTERM sent to every process at once would instead kill the proxy and the replicas
mid-request. The child dies with the leader (PR_SET_PDEATHSIG), and Ray's processes die with
the child (Ray's own fate sharing), so no process can outlive a leader killed with -9.

`--address ADDR` deploys onto a running cluster instead (ADDR as `ray start` printed it,
e.g. 10.0.0.1:6379): then the launcher starts no Ray process, and on SIGTERM removes the
application and Serve but leaves the cluster running (see servers/ray_cluster.py).

Node IP: Ray advertises and binds its services on the node IP; the launcher passes 127.0.0.1
(or --node-ip) so that no Ray process listens on another interface. The dashboard is off:
nothing here needs it.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from servers.ray_node import (
    LOCAL_ONLY_ENV,
    LOOPBACK,
    TOKEN_PATH_ENV,
    RayNode,
    auth_env,
    die_with_parent,
    new_token_file,
    wait_for_port,
)
from servers.ray_node import stop as stop_node

REPO_ROOT = Path(__file__).resolve().parent.parent
DRIVER_FLAG = "--driver"
log = logging.getLogger("servebench.ray")

# Serve's performance guide, "Enable throughput-optimized flags"
# (https://docs.ray.io/en/latest/serve/advanced-guides/performance.html): run user code and
# the router on the replica's main event loop (allowed because no request path blocks: the
# model runs in its own thread), buffer the request-path logs, and do not copy Serve's logs to
# stderr (they still go to Ray's log files). Each is applied when the knob
# `throughput_flags` is 1. The guide's one-switch form, RAY_SERVE_THROUGHPUT_OPTIMIZED=1, in
# Ray 2.60 also turns on direct ingress (replicas listening on their own ports for an external
# load balancer such as HAProxy) and gRPC between deployments; neither serves a single
# ingress deployment behind Serve's own proxy, so they stay off (see docs/ray.md).
THROUGHPUT_FLAGS = {
    "RAY_SERVE_RUN_USER_CODE_IN_SEPARATE_THREAD": "0",
    "RAY_SERVE_RUN_ROUTER_IN_SEPARATE_LOOP": "0",
    "RAY_SERVE_REQUEST_PATH_LOG_BUFFER_SIZE": "1000",
    "RAY_SERVE_LOG_TO_STDERR": "0",
}
DEFAULT_FLAGS = {
    "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0",
    "RAY_SERVE_ENABLE_HA_PROXY": "0",
    # No usage statistics: the benchmark measures serving only.
    "RAY_USAGE_STATS_ENABLED": "0",
}
# The knobs' environment variables that every Ray process of the stack gets.
FORWARDED_PREFIXES = ("SERVEBENCH_", "OMP_", "OPENBLAS_", "MKL_")


def knobs() -> dict[str, Any]:
    from servers.registry import get_stack

    stack = os.environ.get("SERVEBENCH_STACK", "ray_serve")
    return json.loads(os.environ.get("SERVEBENCH_KNOBS") or "null") or dict(get_stack(stack).knobs)


def serve_flags(settings: dict[str, Any]) -> dict[str, str]:
    """The RAY_SERVE_* variables the controller, proxies and replicas must all see."""
    flags = dict(DEFAULT_FLAGS)
    if int(settings.get("throughput_flags", 0)):
        flags.update(THROUGHPUT_FLAGS)
    return flags


def replica_env(settings: dict[str, Any], metrics_dir: str) -> dict[str, str]:
    """The replicas' environment, shipped with the deployment (runtime_env env_vars)."""
    env = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_PREFIXES)}
    env.update(serve_flags(settings))
    env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env


def node_cpus() -> int:
    """The CPUs this process may run on (taskset): Ray's CPU count for the node."""
    return len(os.sched_getaffinity(0))


# -- the driver: runs Ray and Serve ------------------------------------------------------------


def run_driver(args: argparse.Namespace) -> int:
    os.setpgid(0, 0)  # out of the server's group: SIGTERM reaches the leader first
    die_with_parent(signal.SIGTERM)
    stop = threading.Event()

    def on_signal(*_: Any) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)

    # Serve's proxy listens before it knows any route and answers 404 to every path until the
    # application runs: until then the launcher answers on the port (StartupResponder).
    held = StartupResponder(args.host, args.port)
    token_file: str | None = None
    metrics_dir, own_metrics_dir = "", False
    head: subprocess.Popen[bytes] | None = None
    ray: Any = None  # imported below, once the environment is set
    try:
        settings = knobs()
        # The contract's metrics: one directory for every replica of this node (multiprocess mode).
        # Only the replicas get it; Ray's own processes keep their metrics to themselves.
        metrics_dir = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", "")
        own_metrics_dir = not metrics_dir
        metrics_dir = metrics_dir or tempfile.mkdtemp(prefix="prom-ray-")
        os.environ.update(serve_flags(settings))
        if args.address is None and args.node_ip in LOOPBACK:
            os.environ[LOCAL_ONLY_ENV] = "0"  # before Ray is imported (see servers/ray_node.py)
        if args.address is None:  # the leader's token file (run_leader)
            token_file = os.environ[TOKEN_PATH_ENV]
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        )

        import ray  # type: ignore[no-redef]  # after the environment above: Ray reads some of it at import
        from ray import serve
        from ray.serve.config import HTTPOptions, ProxyLocation

        from servers.ray_serve_deployment import APP_NAME, build_app

        address = args.address
        if address is None:  # a single-node cluster of our own
            node = RayNode.plan(args.node_ip, num_cpus=node_cpus())
            head = node.start(drain_s=float(settings["graceful_timeout_s"]))
            wait_for_port(args.node_ip, node.ports["gcs"], head)
            address = node.gcs_address
        ray.init(address=address, namespace="servebench", logging_level=logging.WARNING)
        for signum in (signal.SIGTERM, signal.SIGINT):  # ours again: ray.init installs its own
            signal.signal(signum, on_signal)
        serve.start(
            http_options=HTTPOptions(
                host=args.host,
                port=args.port,
                # Serve's performance guide: an end-to-end timeout (the proxy answers 408).
                request_timeout_s=float(settings["http_request_timeout_s"]),
            ),
            # One proxy, on the head node: the cluster's single HTTP entry.
            proxy_location=ProxyLocation.HeadOnly,
        )
        application = build_app(
            settings,
            launch_id=uuid.uuid4().hex,
            env_vars=replica_env(settings, metrics_dir),
            max_replicas_per_node=1 if args.spread else None,
        )
        serve.run(application, name=APP_NAME, route_prefix="/", blocking=False)
        held.close()  # from now on every connection goes to Serve's proxy
        print(f"ray serve: {APP_NAME} deployed on http://{args.host}:{args.port}", flush=True)
        stop.wait()
        print("ray serve: shutting down", flush=True)
        started = time.monotonic()
        if head is not None or args.shutdown_serve:
            serve.shutdown()
        else:
            serve.delete(APP_NAME)  # the cluster is not ours: leave Serve running
        print(f"ray serve: Serve stopped in {time.monotonic() - started:.1f}s", flush=True)
    finally:
        held.close()
        if ray is not None:
            ray.shutdown()
        if head is not None:
            stop_node(head)
        if token_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(token_file)
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


class StartupResponder:
    """Answers the contract's not-ready on HOST:PORT while Serve starts, then steps aside.

    Serve's HTTP proxy binds its port with SO_REUSEPORT and starts listening before it has
    received any route from the controller; until the application runs it answers 404 to every
    path. This socket joins the same SO_REUSEPORT group first and attaches a classic BPF program
    that sends every new connection to the group's first socket: this one. Meanwhile it answers
    /health with 200 (the process is alive) and everything else with the contract's 503
    not_ready (an ErrorBody, Retry-After: 1), each on a connection it then closes. close() hands
    over: it points the program at the group's second socket, the proxy's, answers what was
    already queued for it, and leaves the group.
    """

    def __init__(self, host: str, port: int) -> None:
        self.started = time.time()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        self.sock.bind((host, port))
        self._program = _steer_to_socket(self.sock, 0)
        self.sock.listen(128)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="startup-responder", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with contextlib.suppress(OSError), conn:
                conn.settimeout(2.0)
                self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        from servers.contract import MAX_BODY_BYTES, not_ready

        data = b""
        while b"\r\n\r\n" not in data and len(data) < 65536:
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1].split("?")[0] if " " in request_line else ""
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length" and value.strip().isdigit():
                length = min(int(value), MAX_BODY_BYTES)
        while len(body) < length:  # read the body, so that closing does not reset the answer
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        if path == "/health":
            status, extra = "200 OK", b""
            payload = json.dumps({"status": "alive", "uptime_s": round(time.time() - self.started, 3)})
            content = payload.encode()
        else:
            error = not_ready()
            status, content = "503 Service Unavailable", error.body()
            extra = b"".join(f"{k}: {v}\r\n".encode() for k, v in error.headers.items())
        conn.sendall(f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(content)}\r\nconnection: close\r\n".encode()
                     + extra + b"\r\n" + content)

    def close(self, handover_s: float = 0.3) -> None:
        """Send new connections to the group's second socket (the proxy's), answer those that
        were already ours for handover_s, then leave: closing a listener resets the connections
        still waiting in its accept queue."""
        if self._stop.is_set():
            return
        with contextlib.suppress(OSError):
            self._program = _steer_to_socket(self.sock, 1)
            time.sleep(handover_s)
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


SO_ATTACH_REUSEPORT_CBPF = 51


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _steer_to_socket(sock: socket.socket, index: int) -> Any:
    """Attach `ret #index` to the socket's SO_REUSEPORT group (replacing any program): new
    connections go to the group's socket number `index`, in the order they joined."""
    program = (_SockFilter * 1)(_SockFilter(0x06, 0, 0, index))  # BPF_RET | BPF_K
    fprog = _SockFprog(1, ctypes.cast(program, ctypes.POINTER(_SockFilter)))
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, bytes(fprog))
    return program  # kept alive with the responder


# -- the leader: what ServerProcess starts and signals ---------------------------------------


def run_leader(args: argparse.Namespace, argv: list[str]) -> int:
    env = dict(os.environ)
    token_file = None
    if args.address is None:  # our own cluster, our own token; else the cluster's (environment)
        # Made here, removed here and by the driver: whichever of the two outlives the other.
        token_file = new_token_file()
        env.update(auth_env(token_file))
    child = subprocess.Popen([sys.executable, "-m", "servers.ray_serve_app", DRIVER_FLAG, *argv], env=env)

    def forward(signum: int, _: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    try:
        return child.wait()
    finally:
        if token_file:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(token_file)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8009)
    parser.add_argument("--node-ip", default="127.0.0.1", help="the IP Ray advertises and binds")
    parser.add_argument("--address", help="deploy onto this running cluster (GCS address)")
    parser.add_argument("--spread", action="store_true", help="at most one replica per node")
    parser.add_argument("--shutdown-serve", action="store_true",
                        help="with --address: shut Serve down on exit, not just remove the application")
    parser.add_argument(DRIVER_FLAG, action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main() -> None:
    argv = sys.argv[1:]
    args = parse(argv)
    sys.exit(run_driver(args) if args.driver else run_leader(args, argv))


if __name__ == "__main__":
    main()
