"""Load from another host and a service servebench did not start, each across network
namespaces (servers/netns.py), so that no request and no master/worker message can take a
loopback shortcut: the stacks and the Locust master bind only the bridge's address, and the
workers and the external service live in namespaces of their own.

Needs root and iproute2 (`root_and_ip`). Each test makes its namespaces on a subnet of its own
and removes them, whatever happens.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loadtests.capacity import SweepSettings
from loadtests.capacity_run import CapacityConfig, capacity_run
from loadtests.capacity_search import SearchSettings
from loadtests.cpus import Pinning
from loadtests.generators import GeneratorSettings
from loadtests.generators.base import RemoteWorkers
from loadtests.openloop import OpenLoopSettings
from loadtests.run import RunConfig, run
from loadtests.session import External
from loadtests.soak import SoakConfig, soak
from loadtests.workloads import RUN_PROFILES
from servebench.cli import main as servebench
from servebench.results.store import load_capacity, load_run
from servers import netns
from servers.floor import FLOOR_STACK
from servers.process import REPO_ROOT, free_port
from servers.registry import STACKS

pytestmark = pytest.mark.integration

# One workload, one level, one short repeat: what is tested is where the load comes from.
TINY = dataclasses.replace(RUN_PROFILES["quick"], workloads=("single",), users=(4,), repeats=1,
                           warmup_s=1.0, measure_s=2.0, generator="locust")


def _worker(namespace: netns.Namespace, master: str, log: Path) -> subprocess.Popen[bytes]:
    """`servebench worker`, the command a user runs on a load host, inside the namespace."""
    with open(log, "wb") as out:
        return namespace.popen([sys.executable, "-m", "servebench.cli", "worker", "--master", master],
                               env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=REPO_ROOT, stdout=out,
                               stderr=subprocess.STDOUT)


def _config(tmp_path: Path, **overrides: object) -> RunConfig:
    fields: dict[str, object] = {"profile": TINY, "stacks": ("fastapi_inline",), "model": "default",
                                 "pinning": Pinning.default(), "results_dir": tmp_path / "results"}
    return RunConfig(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_run_takes_all_its_load_from_workers_in_another_namespace(root_and_ip: None,
                                                                     tmp_path: Path) -> None:
    with netns.Network("sbrw", subnet="10.213.8.0/24") as net:
        load = net.add("load")
        port = free_port(net.gateway)
        worker = _worker(load, f"{net.gateway}:{port}", tmp_path / "worker.log")
        config = _config(tmp_path, remote_workers=RemoteWorkers(net.gateway, port, 1, wait_s=60.0),
                         server_host=net.gateway)
        root, result = run(config)
        assert worker.pid in load.pids() and worker.poll() is None  # it waits for the next run
    assert worker.wait(timeout=30) is not None
    assert netns.namespaces("sbrw") == []
    loaded = load_run(root)
    assert [s.status for s in result.stacks] == ["ok"], result.stacks[0].reason
    assert "--host" in result.stacks[0].command and net.gateway in result.stacks[0].command
    assert loaded.run.settings.topology.remote_workers == 1
    assert loaded.run.settings.topology.locust_master == f"{net.gateway}:{port}"
    assert {record.stack for record in loaded.records} == {FLOOR_STACK.name, "fastapi_inline"}
    for record in loaded.records:
        # Every request came from the one worker in the namespace: no local Locust process sent any.
        assert record.locust_workers == 0
        assert [p.node for p in record.generator_processes] != ["local"]
        assert len(record.generator_processes) == 1 and record.generator_processes[0].cpu_percent > 0
        assert record.measured.requests > 0 and not record.measured.failures
        assert not {"users_short", "not_drained", "count_mismatch"} & set(record.flags), record.flags


def test_a_missing_worker_is_named_within_the_deadline(root_and_ip: None, tmp_path: Path) -> None:
    with netns.Network("sbmw", subnet="10.213.10.0/24") as net:
        load = net.add("load")
        port = free_port(net.gateway)
        _worker(load, f"{net.gateway}:{port}", tmp_path / "worker.log")
        wait_s = 5.0
        config = _config(tmp_path, remote_workers=RemoteWorkers(net.gateway, port, 2, wait_s=wait_s),
                         server_host=net.gateway)
        started = time.monotonic()
        _, result = run(config)
        elapsed = time.monotonic() - started
    (outcome,) = result.stacks
    assert outcome.status == "failed" and outcome.reason is not None
    assert "1 of 2 Locust workers connected within 5s" in outcome.reason
    assert "1 missing" in outcome.reason and f"--master {net.gateway}:{port}" in outcome.reason
    # The floor and the stack each waited once, and no longer than the deadline allows.
    assert result.floor is not None and result.floor.status == "failed"
    assert elapsed < 2 * (wait_s + 60)


@pytest.fixture(scope="module")
def service_in_a_namespace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[External]:
    """fastapi_batcher started in a namespace of its own, as a deployment elsewhere would be."""
    netns.check_available()
    log = tmp_path_factory.mktemp("service") / "service.log"
    stack = STACKS["fastapi_batcher"]
    with netns.Network("sbext", subnet="10.213.9.0/24") as net:
        host = net.add("srv")
        env = {**os.environ, **stack.env(), "SERVEBENCH_MODEL": "default", "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as out:
            proc = host.popen(stack.command(host.address, 8000), env=env, cwd=REPO_ROOT, stdout=out,
                              stderr=subprocess.STDOUT)
        url = f"http://{host.address}:8000"
        deadline = time.monotonic() + stack.ready_timeout_s
        while not _ready(f"{url}{stack.paths['ready']}"):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.2)
        yield External(label="ns_batcher", kind="fastapi_batcher", url=url)
        assert proc.poll() is None, "servebench stopped a service it did not start"
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_a_run_measures_a_service_it_did_not_start(root_and_ip: None, service_in_a_namespace: External,
                                                   tmp_path: Path) -> None:
    external = service_in_a_namespace
    root, result = run(_config(tmp_path, stacks=(external.label,), external=external))
    (outcome,) = result.stacks
    assert outcome.status == "ok", outcome.reason
    assert outcome.command == ["external", external.url] and outcome.shutdown_s is None
    names = {check.name for check in outcome.checks}
    assert {"golden_batch", "info_stack", "info_knobs", "info_model"} <= names
    assert any(name.startswith("bad_") for name in names)
    assert all(check.ok for check in outcome.checks)
    loaded = load_run(root)
    assert loaded.run.settings.topology.external_url == external.url
    assert loaded.run.settings.server_cpus is None  # nothing of it runs here to pin
    (record,) = [r for r in loaded.records if r.stack == external.label]
    assert record.command == ["external", external.url]
    assert record.knobs == dict(STACKS["fastapi_batcher"].knobs)  # as its /info reported them
    # CPU and memory from its own process metrics: known, and not the sampler's.
    assert record.resources is not None and record.resources.server_source == "metrics"
    assert record.resources.server_cpu_percent and record.resources.server_rss_mb
    assert record.resources.server_processes is None
    assert record.rows_server == record.rows_sent > 0
    assert "count_mismatch" not in record.flags

    # `servebench compare` puts it next to the same stack run here.
    local_root, _ = run(_config(tmp_path, stacks=("fastapi_batcher",)))
    assert servebench(["compare", str(local_root), str(root), "--results-dir", str(tmp_path / "results"),
                       "--reports-dir", str(tmp_path / "reports")]) == 0
    page = next((tmp_path / "reports" / "compare").glob("*.html")).read_text()
    assert "did not start" in page and "only in" not in page


def test_soak_and_capacity_measure_a_service_they_did_not_start(
        root_and_ip: None, service_in_a_namespace: External, tmp_path: Path) -> None:
    external = service_in_a_namespace
    _, _, (record,) = soak(SoakConfig(stacks=(external.label,), external=external, duration_s=4.0,
                                      window_s=2.0, warmup_s=1.0, rps=40.0, users=4,
                                      load_cpus=Pinning.default().load, results_dir=tmp_path / "results"))
    assert record.status == "ok", record.reason
    assert record.requests > 0 and record.windows
    # From its /metrics, read once a second: every whole window has it. The partial window of the
    # answers still in flight at the phase's end can be too short for a reading (unknown, never 0).
    whole = [w for w in record.windows if not w.partial]
    assert whole and all(w.server_rss_mb for w in whole)
    assert all(w.server_rss_mb is None or w.server_rss_mb > 0 for w in record.windows)

    openloop = OpenLoopSettings(GeneratorSettings(Pinning.default().load), slo_ms=250.0,
                                max_send_lag_ms=50.0)
    sweep = SweepSettings(openloop, SearchSettings(start_rps=20, growth=3, resolution=0.5, max_steps=3),
                          warmup_s=0.3, step_s=1.2, overload_factors=(), overload_s=1.5, recovery_s=2.0)
    root, _ = capacity_run(CapacityConfig(sweep=sweep, stacks=(external.label,), models=("default",),
                                          workers=None, server_cpus=None, load_cpus=Pinning.default().load,
                                          results_dir=tmp_path / "results", external=external))
    (capacity,) = load_capacity(root).records
    assert capacity.status == "ok", capacity.reason
    # Its /metrics is read once a second: a step too short for two readings says unknown, never 0.
    sources = [s.resources for s in capacity.steps if s.resources is not None]
    assert {r.server_source for r in sources} <= {"metrics", "unknown"}
    assert any(r.server_source == "metrics" and r.server_rss_mb for r in sources)
    assert all((r.server_cpu_percent is None) == (r.server_source == "unknown") for r in sources)
