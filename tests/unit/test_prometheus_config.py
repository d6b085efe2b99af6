"""Prometheus configs, checked by promtool: the compose one and the one `monitor` writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from servebench.deploy import files, prometheus_config
from servebench.prometheus import PrometheusServer
from servers.process import REPO_ROOT
from servers.registry import STACKS


def promtool_check(path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool missing: `make sysdeps` installs Debian's prometheus package"
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True,
                            timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_prometheus_config_is_valid_and_scrapes_every_stack() -> None:
    path = REPO_ROOT / files.PROMETHEUS_FILE
    promtool_check(path)
    jobs = {job["job_name"]: job for job in yaml.safe_load(path.read_text())["scrape_configs"]}
    assert set(jobs) == set(STACKS)
    for name, job in jobs.items():
        assert job["metrics_path"] == STACKS[name].paths["metrics"]
        assert job["static_configs"][0]["labels"] == {prometheus_config.STACK_LABEL: name}


def test_monitor_config_is_valid(tmp_path: Path) -> None:
    targets = [prometheus_config.ScrapeTarget(s, f"127.0.0.1:{s.default_port}") for s in STACKS.values()]
    server = PrometheusServer(targets, scrape_interval="1s", workdir=tmp_path)
    server.config_path.write_text(prometheus_config.render(targets, server.scrape_interval))
    promtool_check(server.config_path)


def test_promtool_rejects_a_broken_config(tmp_path: Path) -> None:
    # Guards the check itself: promtool must fail on a config that is wrong.
    broken = tmp_path / "broken.yml"
    broken.write_text("scrape_configs:\n- job_name: x\n  scrape_interval: soon\n")
    with pytest.raises(AssertionError):
        promtool_check(broken)
