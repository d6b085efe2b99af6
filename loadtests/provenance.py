"""What a run was made with: the machine as a result record, and package versions.

The commit, dirty flag and CPU model come from servebench.provenance, shared with `check`.
"""

from __future__ import annotations

import platform
import socket
from importlib.metadata import PackageNotFoundError, version

import psutil

from servebench.provenance import cpu_model
from servebench.results.schema import Machine

PACKAGES = ("locust", "hdrhistogram", "psutil", "numpy", "scikit-learn", "pydantic", "fastapi",
            "starlette", "uvicorn", "uvloop", "httptools", "flask", "gunicorn", "bentoml",
            "litserve", "prometheus-client", "orjson")


def machine() -> Machine:
    return Machine(
        cpu_model=cpu_model(), cores=psutil.cpu_count() or 0,
        memory_gb=round(psutil.virtual_memory().total / 2**30, 1), kernel=platform.release(),
        platform=platform.platform(), hostname=socket.gethostname(),
    )


def packages() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
