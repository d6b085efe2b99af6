"""Network namespaces on this machine: private hosts for clusters, load generators and servers.

    with Network("sbdemo") as net:           # bridge sbdemobr, 10.213.7.254/24 in the root namespace
        head = net.add("head")               # namespace sbdemo-head, 10.213.7.1 on its eth0
        worker = net.add("worker")           # namespace sbdemo-worker, 10.213.7.2
        head.popen(["python", "-m", "http.server", "--bind", head.address, "8000"])
        worker.run(["curl", f"http://{head.address}:8000/"])   # namespace to namespace
        # and from here (the root namespace): http://10.213.7.1:8000/
    # gone: processes in the namespaces, namespaces, veth pairs, bridge

Layout: each namespace gets a veth pair, one end (`eth0`, with the namespace's address) inside
it, the other end attached to one bridge in the root namespace. The bridge holds the subnet's
last address, so the root namespace has a connected route to every namespace, and namespaces
reach each other through it. Namespaces have loopback up and no default route, and the root
namespace forwards nothing: traffic goes only between these namespaces, the root namespace's
bridge address, and loopback.

Everything is named after a prefix (namespaces `PREFIX-NAME`, interfaces `PREFIX...`, at most
15 characters), so `cleanup(PREFIX)` removes what a crashed run left behind; a Network runs it
before it builds anything and when it closes. Needs root and iproute2 (`ip`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

DEFAULT_SUBNET = "10.213.7.0/24"
IFNAMSIZ = 15


class NetnsUnavailable(RuntimeError):
    """This process cannot create network namespaces (not root, or no `ip`)."""


def check_available() -> None:
    """Raise NetnsUnavailable with the reason unless namespaces can be made here."""
    if shutil.which("ip") is None:
        raise NetnsUnavailable("iproute2's `ip` is not installed (Debian: apt-get install iproute2)")
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root (uid 0)")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def namespaces(prefix: str) -> list[str]:
    """Network namespaces named PREFIX-..."""
    listing = _ip("netns", "list", check=False).stdout.splitlines()
    names = [line.split()[0] for line in listing if line.strip()]
    return [name for name in names if name.startswith(f"{prefix}-")]


def links(prefix: str) -> list[str]:
    """Interfaces of the root namespace whose name starts with PREFIX."""
    listing = _ip("-o", "link", "show", check=False).stdout.splitlines()
    names = [line.split(":")[1].strip().split("@")[0] for line in listing if ":" in line]
    return [name for name in names if name.startswith(prefix)]


def pids_in(namespace: str) -> list[int]:
    out = _ip("netns", "pids", namespace, check=False).stdout
    return [int(pid) for pid in out.split()]


def kill_processes(namespace: str, grace_s: float = 5.0) -> None:
    """SIGTERM every process in the namespace, SIGKILL what is left after grace_s."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        pids = pids_in(namespace)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and pids_in(namespace):
            time.sleep(0.05)


def cleanup(prefix: str, grace_s: float = 5.0) -> None:
    """Remove every namespace (and its processes) and interface named after PREFIX. Idempotent."""
    _check_prefix(prefix)
    for namespace in namespaces(prefix):
        kill_processes(namespace, grace_s)
        _ip("netns", "delete", namespace, check=False)
    for link in links(prefix):
        _ip("link", "delete", link, check=False)


def _check_prefix(prefix: str) -> None:
    if not prefix.isalnum() or not prefix[0].isalpha() or len(prefix) > 8:
        raise ValueError(f"prefix {prefix!r}: 1-8 letters and digits, starting with a letter")


@dataclass(frozen=True)
class Namespace:
    """One network namespace with one address."""

    name: str
    address: str

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs argv inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        kwargs.setdefault("check", True)
        return subprocess.run(self.exec_argv(argv), **kwargs)

    def popen(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
              **kwargs: Any) -> subprocess.Popen[Any]:
        return subprocess.Popen(self.exec_argv(argv), env=dict(env) if env is not None else None, **kwargs)

    def pids(self) -> list[int]:
        return pids_in(self.name)


class Network:
    """Namespaces on one bridge, reachable from the root namespace; a context manager."""

    def __init__(self, prefix: str = "sbns", subnet: str = DEFAULT_SUBNET) -> None:
        _check_prefix(prefix)
        self.prefix = prefix
        self.subnet = ipaddress.ip_network(subnet)
        if self.subnet.num_addresses < 4:
            raise ValueError(f"subnet {subnet} is too small")
        self.bridge = f"{prefix}br"
        hosts = list(self.subnet.hosts())
        self.gateway = str(hosts[-1])  # the root namespace's address on the bridge
        self._free = [str(h) for h in hosts[:-1]]
        self.members: dict[str, Namespace] = {}
        self._up = False

    def __enter__(self) -> Network:
        check_available()
        cleanup(self.prefix)  # what a crashed run left behind
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self._up = True
        except BaseException:
            cleanup(self.prefix)
            raise
        return self

    def add(self, name: str, address: str | None = None) -> Namespace:
        """A new namespace PREFIX-NAME on the bridge, with `address` or the next free one."""
        if not self._up:
            raise RuntimeError("use the Network as a context manager first")
        if name in self.members:
            raise ValueError(f"namespace {name!r} exists")
        address = address or self._free[len(self.members)]
        index = len(self.members)
        namespace = Namespace(f"{self.prefix}-{name}", address)
        outside, inside = f"{self.prefix}{index}h", f"{self.prefix}{index}n"
        assert len(outside) <= IFNAMSIZ and len(inside) <= IFNAMSIZ
        _ip("netns", "add", namespace.name)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace.name)
        _ip("link", "set", outside, "master", self.bridge)
        _ip("link", "set", outside, "up")
        inner = ("netns", "exec", namespace.name, "ip")
        _ip(*inner, "link", "set", "lo", "up")
        _ip(*inner, "link", "set", inside, "name", "eth0")
        _ip(*inner, "addr", "add", f"{address}/{self.subnet.prefixlen}", "dev", "eth0")
        _ip(*inner, "link", "set", "eth0", "up")
        self.members[name] = namespace
        return namespace

    def close(self) -> None:
        cleanup(self.prefix)
        self.members.clear()
        self._up = False

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def wait_reachable(address: str, port: int, timeout_s: float = 10.0) -> None:
    """Until a TCP connection to address:port from this namespace succeeds."""
    import socket

    deadline = time.monotonic() + timeout_s
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((address, port)) == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address}:{port} not reachable within {timeout_s:.0f}s")
        time.sleep(0.05)
