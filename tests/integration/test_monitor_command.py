"""`servebench monitor` as a user runs it: starts Prometheus, reports targets, stops cleanly."""

from __future__ import annotations

import subprocess
import sys

import psutil

from servebench.cli import main
from servers.process import free_port
from servers.registry import STACKS


def monitor(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "servebench.cli", "monitor", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_monitor_runs_for_its_duration_and_leaves_nothing_behind() -> None:
    port = free_port()
    name = next(iter(STACKS))
    result = monitor("--port", str(port), "--duration", "1", "--target", f"{name}=127.0.0.1:{free_port()}")
    assert result.returncode == 0, result.stderr
    assert f"prometheus on http://127.0.0.1:{port}" in result.stdout
    assert f"scraping {name} at http://127.0.0.1:" in result.stdout
    listening = {c.laddr.port for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN}
    assert port not in listening


def test_monitor_rejects_an_unknown_stack(capsys) -> None:
    assert main(["monitor", "--target", "no_such_stack=127.0.0.1:1"]) == 1
    assert "unknown stack 'no_such_stack'" in capsys.readouterr().err
