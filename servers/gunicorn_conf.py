"""gunicorn settings shared by the WSGI stack (the command line carries the knobs)."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import multiprocess

accesslog = None  # no per-request log line in the hot path (gunicorn's default)
errorlog = "-"
loglevel = "info"
keepalive = 2
preload_app = False  # each worker loads the model itself, in the background


def child_exit(server: Any, worker: Any) -> None:
    # Without this, a dead worker's gauges/counters files linger in the multiprocess dir.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
