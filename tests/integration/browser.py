"""Headless Chromium (Debian's, installed by `make sysdeps-browser`) for page checks."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--enable-logging=stderr", "--v=0")
CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\] (.*)")


@dataclass(frozen=True)
class Visit:
    dom: str  # the DOM after the page's scripts ran
    console: list[str]  # every console message: the report writes none, so each is a fault


def _chromium(*args: str) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120, check=True)


def visit(page: Path) -> Visit:
    done = _chromium("--dump-dom", page.resolve().as_uri())
    return Visit(done.stdout, [m.group(1) for m in CONSOLE.finditer(done.stderr)])


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 3200) -> Path:
    _chromium(f"--window-size={width},{height}", f"--screenshot={out}", page.resolve().as_uri())
    return out
