"""A slower machine on demand: a CPU-bound process sharing the server's core.

The scheduler splits the core between the server and the hog, so the server has about half a
core under load, and its latency at low load follows the scheduler's time slices.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator

# Busy, but it looks up from time to time and ends once its parent (this test process) is gone:
# a test killed by a signal runs no finalizer, and a hog left behind slows every later run.
_HOG = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(1_000_000):
        pass
"""


def server_cpu() -> int:
    """The CPU servebench pins servers to by default: the last usable one."""
    return max(os.sched_getaffinity(0))


@contextlib.contextmanager
def cpu_hog(cpu: int | None = None) -> Iterator[subprocess.Popen[bytes]]:
    hog = subprocess.Popen(["taskset", "--cpu-list", str(server_cpu() if cpu is None else cpu),
                            sys.executable, "-c", _HOG, str(os.getpid())])
    try:
        yield hog
    finally:
        hog.kill()
        hog.wait()
