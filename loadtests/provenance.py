"""Where and with what a run was made: machine, git state, Python and package versions."""

from __future__ import annotations

import platform
import socket
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from servebench.results.schema import Machine

PACKAGES = ("locust", "hdrhistogram", "psutil", "numpy", "scikit-learn", "pydantic", "fastapi",
            "starlette", "uvicorn", "uvloop", "httptools", "flask", "gunicorn", "bentoml",
            "litserve", "prometheus-client", "orjson")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


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


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def git_state(root: Path) -> tuple[str | None, str | None, bool | None]:
    """(full commit, short commit, dirty); Nones outside a git checkout."""
    commit = _git(root, "rev-parse", "HEAD")
    short = _git(root, "rev-parse", "--short", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, short, (bool(status) if status is not None else None)
