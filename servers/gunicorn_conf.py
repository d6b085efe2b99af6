"""gunicorn settings shared by the WSGI stack (the command line carries the knobs)."""

from __future__ import annotations

import os
import sys
from typing import Any


def _worker_class(argv: list[str]) -> str:
    for index, arg in enumerate(argv):
        if arg in ("--worker-class", "-k") and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--worker-class="):
            return arg.partition("=")[2]
    return "sync"


if _worker_class(sys.argv) == "gevent":
    # gevent's worker patches the standard library only once forked, after preload_app has
    # imported the application: threading and logging locks made before that break when a
    # worker exits (and can hold up its shutdown). Patching here, before anything else is
    # imported, is what gevent's docs ask for.
    from gevent import monkey

    monkey.patch_all()

from prometheus_client import multiprocess  # noqa: E402

accesslog = None  # no per-request log line in the hot path (gunicorn's default)
errorlog = "-"
loglevel = "info"
keepalive = 2
# Load the model once in the master before binding and forking: workers share its memory
# copy-on-write, a broken artifact stops the server at once, and no worker ever answers
# before the model is there.
preload_app = True


def child_exit(server: Any, worker: Any) -> None:
    # Without this, a dead worker's gauges/counters files linger in the multiprocess dir.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
