"""Where a result came from: the commit, the machine, the Python and package versions."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import psutil

from servebench.results.schema import Machine

REPO_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str:
    try:
        result = subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip()


def git_commit() -> str | None:
    """The short commit of the checkout, None outside a git checkout."""
    return _git("rev-parse", "--short=12", "HEAD") or None


def git_dirty() -> bool:
    return bool(_git("status", "--porcelain", "--untracked-files=no"))


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
        usable_cpus=sorted(os.sched_getaffinity(0)),
        accelerators=accelerators(),
    )


def accelerators() -> list[str]:
    """NVIDIA GPUs by name, as the driver lists them (the only kind a claim names today)."""
    gpus = Path("/proc/driver/nvidia/gpus")
    if not gpus.is_dir():
        return []
    names = []
    for information in sorted(gpus.glob("*/information")):
        model = next((line.split(":", 1)[1].strip() for line in information.read_text().splitlines()
                      if line.startswith("Model:")), "NVIDIA GPU")
        names.append(model)
    return names


def packages(names: Iterable[str]) -> dict[str, str]:
    """Installed versions of these distributions (those not installed are left out)."""
    found = {}
    for name in dict.fromkeys(names):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found
