"""The Ray Serve stacks as real processes, and the two-node Ray cluster in network namespaces.

Needs the stacks' environment (.venv-ray, `make envs`). The tests named `test_netns_*` also
need root and iproute2 (`ip`): where either is missing they fail, saying which.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from loadtests.cpus import Pinning
from loadtests.run import RunConfig, run
from loadtests.session import External
from loadtests.workloads import RUN_PROFILES
from servebench.results.store import load_run
from servers import netns
from servers.process import ServerProcess
from servers.registry import STACKS, Stack
from shared_model.cases import SEED_EXAMPLE, GoldenCase
from shared_model.predictor import Predictor
from shared_model.schemas import ErrorBody

RAY_STACKS = [name for name, stack in STACKS.items() if "ray" in stack.packages]
MARKER = "SERVEBENCH_TEST_MARKER"  # inherited by every process the stack starts
LOAD_DELAY_S = 3.0
LOOPBACK_PREFIXES = ("127.", "[::ffff:127.", "::ffff:127.", "[::1]", "::1")

# Ray's clusters take tens of seconds each to start and stop: started first (tests/conftest.py).
pytestmark = pytest.mark.long


def _require_env(stack: Stack) -> None:
    if not Path(stack.python).exists():
        pytest.fail(f"{stack.name} runs in {stack.python}, which does not exist: run `make envs`")


def _marked(marker: str) -> list[psutil.Process]:
    """Live processes whose environment carries this run's marker."""
    found = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARKER) == marker:
                found.append(process)
        except (psutil.Error, OSError):
            continue
    return found


def _wait_gone(marker: str, timeout_s: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout_s
    while (left := _marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _listeners(pids: set[int]) -> list[str]:
    """`local-address:port` of every TCP listener owned by one of these pids (ss -ltnp)."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        owners = {int(chunk.split(",")[0]) for chunk in line.split("pid=")[1:]}
        if owners & pids:
            found.append(line.split()[3])
    return found


def _assert_answer(item: dict, case: GoldenCase) -> None:
    assert item["prediction"] == case.prediction, case.request
    assert math.isclose(item["probability"]["no_churn"], case.probability[0], abs_tol=1e-6)
    assert math.isclose(item["probability"]["churn"], case.probability[1], abs_tol=1e-6)


def _successes(client: httpx.Client, path: str) -> float:
    text = client.get(path).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ml_predictions_total" and sample.labels.get("outcome") == "success"
    )


class Started:
    """A stack with two replicas, started with a model-load delay; what its start looked like."""

    def __init__(self, server: ServerProcess, marker: str, readiness: list[tuple[int, str | None]]):
        self.server = server
        self.marker = marker
        self.readiness = readiness  # (status, ErrorBody error or None) of each probe before 200


@pytest.fixture(scope="module", params=RAY_STACKS)
def started(request: pytest.FixtureRequest) -> Iterator[Started]:
    stack = STACKS[request.param].with_knobs(workers=2)
    _require_env(stack)
    marker = uuid.uuid4().hex
    server = ServerProcess(stack, env={MARKER: marker, "SERVEBENCH_LOAD_DELAY_S": str(LOAD_DELAY_S)})
    server.start()
    readiness: list[tuple[int, str | None]] = []
    try:
        with httpx.Client(base_url=server.url, timeout=2.0) as client:
            deadline = time.monotonic() + stack.ready_timeout_s
            while time.monotonic() < deadline:
                assert server.alive(), server.log_path.read_text()[-3000:]
                try:
                    answer = client.get(stack.paths["ready"])
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    break
                error = ErrorBody.model_validate(answer.json()).error if answer.status_code == 503 else None
                readiness.append((answer.status_code, error))
                time.sleep(0.05)
            else:
                log = server.log_path.read_text()[-3000:]
                pytest.fail(f"not ready within {stack.ready_timeout_s}s: {log}")
        yield Started(server, marker, readiness)
    finally:
        server.stop()


def test_readiness_is_503_not_ready_until_every_replica_has_its_model(started: Started) -> None:
    assert started.readiness, "readiness never answered before it was ready"
    assert set(started.readiness) == {(503, "not_ready")}, Counter(started.readiness)


def test_golden_answers_equal_the_in_process_predictor(
    started: Started, golden: list[GoldenCase], predictor: Predictor
) -> None:
    paths = started.server.stack.paths
    with httpx.Client(base_url=started.server.url, timeout=10.0) as client:
        for case in golden:
            answer = client.post(paths["predict"], json=case.request)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_version"] == predictor.version
            _assert_answer(answer.json(), case)
        batch = client.post(paths["batch"], json={"items": [case.request for case in golden]})
        assert batch.status_code == 200, batch.text
        for item, case in zip(batch.json()["results"], golden, strict=True):
            _assert_answer(item, case)


def test_every_replica_answers_and_metrics_count_them_all(started: Started) -> None:
    paths = started.server.stack.paths
    with httpx.Client(base_url=started.server.url, timeout=10.0) as client:
        before = _successes(client, paths["metrics"])
        replicas: Counter[str] = Counter()
        for _ in range(60):
            with httpx.Client(base_url=started.server.url, timeout=10.0) as fresh:
                answer = fresh.post(paths["predict"], json=SEED_EXAMPLE)
                assert answer.status_code == 200, answer.text
                replicas[answer.headers["x-replica"]] += 1
        assert len(replicas) == 2, replicas  # both replicas answered
        # Whichever replica answers /metrics, it sums every replica's samples.
        for _ in range(4):
            assert _successes(client, paths["metrics"]) - before == 60
        info = client.get(paths["info"]).json()
        assert info["replica"]["replicas"] == 2 and info["replica"]["id"] in replicas
        assert info["knobs"] == dict(started.server.stack.knobs)


def test_every_listener_is_on_loopback(started: Started) -> None:
    pids = {p.pid for p in _marked(started.marker)}
    listeners = _listeners(pids)
    assert any(address.endswith(f":{started.server.port}") for address in listeners), listeners
    assert all(address.startswith(LOOPBACK_PREFIXES) for address in listeners), listeners


def test_sigterm_stops_every_process_and_leaves_nothing() -> None:
    stack = STACKS[RAY_STACKS[-1]]
    _require_env(stack)
    marker = uuid.uuid4().hex
    with ServerProcess(stack, env={MARKER: marker}) as server:
        running = _marked(marker)
        # the launcher, its Ray driver, `ray start` and what it runs, Serve's actors
        assert len(running) >= 10, [p.cmdline() for p in running]
        sessions = {os.getsid(p.pid) for p in running}
        assert sessions == {server.proc.pid}, "a process left the server's session"
    assert server.proc.returncode is not None
    assert not _wait_gone(marker, 5.0)


def test_a_launcher_killed_with_sigkill_takes_ray_down_with_it() -> None:
    stack = STACKS[RAY_STACKS[-1]]
    _require_env(stack)
    marker = uuid.uuid4().hex
    server = ServerProcess(stack, env={MARKER: marker}).start()
    try:
        server.wait_ready()
        os.kill(server.proc.pid, signal.SIGKILL)  # the leader only: no orderly stop
        left = _wait_gone(marker, 45.0)
        assert not left, [p.cmdline() for p in left]
    finally:
        server.stop()


def test_a_ray_driver_killed_with_sigkill_takes_its_node_down_with_it() -> None:
    stack = STACKS[RAY_STACKS[-1]]
    _require_env(stack)
    marker = uuid.uuid4().hex
    server = ServerProcess(stack, env={MARKER: marker}).start()
    try:
        server.wait_ready()
        (driver,) = psutil.Process(server.proc.pid).children()
        driver.kill()  # `ray start` gets SIGTERM (PR_SET_PDEATHSIG) and stops the node
        server.proc.wait(timeout=10)  # the launcher ends with its driver
        left = _wait_gone(marker, float(stack.knobs["graceful_timeout_s"]) + 20)
        assert not left, [p.cmdline() for p in left]
    finally:
        server.stop()


# -- network namespaces and the two-node cluster (root and `ip` needed) ---------------------


def test_netns_namespaces_reach_each_other_and_nothing_else(root_and_ip: None) -> None:
    prefix = "sbtst"
    # a leftover of a crashed run, removed when the next Network starts
    subprocess.run(["ip", "netns", "add", f"{prefix}-stale"], check=True)
    with netns.Network(prefix) as net:
        assert netns.namespaces(prefix) == []
        a, b = net.add("a"), net.add("b")
        assert a.address != b.address
        server = a.popen(["python3", "-m", "http.server", "--bind", a.address, "8765"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        netns.wait_reachable(a.address, 8765)  # root namespace -> namespace
        probe = ("import socket, sys; s = socket.socket(); s.settimeout(2); "
                 "sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))")
        assert b.run(["python3", "-c", probe, a.address, "8765"], check=False).returncode == 0
        outside = b.run(["python3", "-c", probe, "192.0.2.1", "80"], check=False)
        assert outside.returncode != 0  # no route out of the namespaces
        routes = b.run(["ip", "route"], capture_output=True, text=True).stdout
        assert "default" not in routes
        assert server.pid in a.pids()
    assert server.wait(timeout=5) is not None
    assert netns.namespaces(prefix) == [] and netns.links(prefix) == []
    netns.cleanup(prefix)  # idempotent


def test_netns_two_node_cluster_spreads_requests_over_both_nodes(
    root_and_ip: None, golden: list[GoldenCase], tmp_path: Path
) -> None:
    from servers.ray_cluster import RayCluster

    stack = STACKS["ray_serve"]
    _require_env(stack)
    marker = uuid.uuid4().hex
    os.environ[MARKER] = marker  # RayCluster's processes inherit this environment
    try:
        cluster = RayCluster(stack, port=8000, prefix="sbtcl", log_dir=tmp_path)
        with cluster:
            nodes: Counter[str] = Counter()
            replicas: set[str] = set()
            with httpx.Client(base_url=cluster.url, timeout=10.0) as client:
                before = _successes(client, stack.paths["metrics"])
                for case in golden * 3:
                    with httpx.Client(base_url=cluster.url, timeout=10.0) as fresh:
                        answer = fresh.post(stack.paths["predict"], json=case.request)
                    assert answer.status_code == 200, answer.text
                    _assert_answer(answer.json(), case)
                    nodes[answer.headers["x-node"]] += 1
                    replicas.add(answer.headers["x-replica"])
                assert set(nodes) == {cluster.head_ns.address, cluster.worker_ns.address}, nodes
                assert len(replicas) == 2
                assert _successes(client, stack.paths["metrics"]) - before == len(golden) * 3
            # The cluster measured as a service servebench did not start: verified, loaded through
            # its HTTP entry, every answer counted by the replica that gave it.
            external = External(label="ray_cluster", kind="ray_serve", url=cluster.url)
            profile = dataclasses.replace(RUN_PROFILES["quick"], workloads=("single",), users=(4,),
                                          repeats=1, warmup_s=1.0, measure_s=2.0, generator="locust")
            _, result = run(RunConfig(profile=profile, stacks=(external.label,), model="default",
                                      pinning=Pinning.default(), results_dir=tmp_path / "results",
                                      external=external))
            (outcome,) = result.stacks
            assert outcome.status == "ok", outcome.reason
            (record,) = [r for r in load_run(tmp_path / "results" / result.run_id).records
                         if r.stack == external.label]
            assert len(record.replicas) == 2 and all(record.replicas.values()), record.replicas
            assert sum(record.replicas.values()) == record.measured.requests
            assert _marked(marker)
        assert netns.namespaces("sbtcl") == [] and netns.links("sbtcl") == []
        assert not _wait_gone(marker, 10.0)
    finally:
        del os.environ[MARKER]
        netns.cleanup("sbtcl")
