"""The slower machine of the tests (slow_machine.py) ends with the test process that started
it, even one killed by a signal, which runs no finalizer: a hog left behind would slow every
later run on the machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from servers.process import REPO_ROOT

# It spins a core while it runs: alone, like the tests that use it.
pytestmark = pytest.mark.serial

_STARTS_A_HOG = """
import time
from tests.integration.slow_machine import cpu_hog
with cpu_hog() as hog:
    print(hog.pid, flush=True)
    time.sleep(600)
"""
GIVE_UP_S = 30  # a bound on the wait, so the test ends by itself; the hog looks up every few ms


def _state(pid: int) -> str | None:
    """The process's state letter (R running, S sleeping, Z exited, not yet reaped), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_the_hog_ends_once_the_process_that_started_it_is_killed() -> None:
    starter = subprocess.Popen([sys.executable, "-c", _STARTS_A_HOG], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, text=True)
    hog = None
    try:
        assert starter.stdout is not None
        hog = int(starter.stdout.readline())
        assert _state(hog) in ("R", "S"), "the hog runs while the process that started it lives"
        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=10)
        deadline = time.monotonic() + GIVE_UP_S
        while _state(hog) not in (None, "Z") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _state(hog) in (None, "Z"), f"the hog outlived its starter by {GIVE_UP_S} s"
    finally:
        starter.kill()
        starter.wait()
        if hog is not None and _state(hog) not in (None, "Z"):
            os.kill(hog, signal.SIGKILL)
