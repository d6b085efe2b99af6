"""gunicorn settings shared by the WSGI stack (the command line carries the knobs)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess

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
