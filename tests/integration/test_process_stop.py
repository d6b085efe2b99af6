"""ServerProcess.stop() ends descendants that left the process group (as circus workers do)."""

from __future__ import annotations

import os
import time

import psutil

from servers.process import ServerProcess
from servers.registry import Stack

# A leader that starts a child in a new session, then both wait to be stopped.
_LEADER = (
    "import subprocess, sys, time\n"
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'], start_new_session=True)\n"
    "time.sleep(120)\n"
)


def test_stop_ends_descendants_outside_the_group() -> None:
    stack = Stack(name="session_leaver", title="test", description="test", role="peer", packages=(), tags=(),
                  argv=("{python}", "-c", _LEADER), knobs={"workers": 1, "blas_threads": 1},
                  default_port=0)
    server = ServerProcess(stack).start()
    try:
        deadline = time.monotonic() + 30
        while len(server.processes()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        tree = server.processes()
        assert len(tree) == 2
        assert os.getpgid(tree[1].pid) != server.proc.pid  # outside the group killpg reaches
    finally:
        server.stop(grace_s=2)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in tree)
