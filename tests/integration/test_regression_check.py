"""The latency gate measures the base commit and the working tree in the same run: an injected
30 % slowdown of one stack is a regression of that stack only, on a quiet host and with a
CPU-bound process sharing the server's core."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from servebench.regression.checkout import resolve
from tests.integration.slow_machine import cpu_hog

STACKS = ("fastapi_batcher", "fastapi_threadpool")
SLOWED = STACKS[0]


def _check(tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict]:
    records = tmp_path / "checks"
    checked = subprocess.run(
        [sys.executable, "-m", "servebench.cli", "check", "--base", "HEAD", "--stacks", *STACKS,
         "--runs", "6", "--attempts", "1", "--slowdown", f"{SLOWED}=30%", "--records", str(records)],
        capture_output=True, text=True, timeout=900, check=False,
    )
    return checked, json.loads(next(records.glob("check-*.json")).read_text())


@pytest.mark.parametrize("host", ["quiet", "cpu_hog_on_the_server_core"])
def test_an_injected_slowdown_is_a_regression_of_that_stack_only(tmp_path: Path, host: str) -> None:
    if host == "quiet":
        checked, record = _check(tmp_path)
    else:
        with cpu_hog():
            checked, record = _check(tmp_path)
    out = checked.stdout + checked.stderr
    verdicts = {(c["stack"], c["metric"]): c for c in record["comparisons"]}
    slowed = verdicts[(SLOWED, "p50")]
    assert slowed["verdict"] == "REGRESSION", out
    assert slowed["low"] > slowed["tolerance"], out
    assert checked.returncode == record["exit_code"] == 1, out
    for metric in ("p50", "p99", "health_p50"):
        assert verdicts[(STACKS[1], metric)]["verdict"] != "REGRESSION", out
    # Both sides were measured, in fresh processes, the slowdown only on the head.
    assert record["base_commit"] == resolve("HEAD")
    injected = record["injected_slowdown_us"][SLOWED]
    assert injected > 0
    assert record["info"][SLOWED]["head"]["injected_slowdown_us_per_row"] == injected
    assert "injected_slowdown_us_per_row" not in record["info"][SLOWED]["base"]
    assert "injected_slowdown_us_per_row" not in record["info"][STACKS[1]]["head"]
    noise = record["host_noise"][SLOWED]
    assert len(noise["base"]) == len(noise["head"]) == 6
