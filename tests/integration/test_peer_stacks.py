"""The peer stacks that serve their framework's own protocol (KServe, Triton, MLflow, TorchServe).

Each runs as a real process from its own virtual environment (servers/envs/). The tests send
every golden case through the stack's declared protocol, single and batch, and compare with the
in-process predictor; check readiness as the stack declares it; send the contract's bad cases
translated into the protocol and expect the declared status; and check that stopping leaves no
process behind.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from servers.process import ServerProcess
from servers.protocols import NativeRequest
from servers.registry import STACKS, Stack
from shared_model.cases import BAD, GOLDEN_REQUESTS, SEED_EXAMPLE, GoldenCase

PEERS = [name for name, stack in STACKS.items() if stack.protocol.name != "contract"]
JSON_TYPE = "application/json"


class Started:
    """A running peer stack and what was seen while it started."""

    def __init__(self, server: ServerProcess, ready_seen: list[object], tree: list[psutil.Process]) -> None:
        self.server = server
        self.stack = server.stack
        self.ready_seen = ready_seen  # distinct readiness outcomes, in order: "refused" or a status
        self.tree = tree


def _require_env(stack: Stack) -> None:
    if not Path(stack.python).exists():
        pytest.fail(f"{stack.name} runs in {stack.python}, which does not exist: run `make envs`")


def _start(stack: Stack, log_dir: Path) -> Started:
    _require_env(stack)
    server = ServerProcess(stack, log_path=log_dir / f"{stack.name}.log").start()
    seen: list[object] = []
    deadline = server.started_at + stack.ready_timeout_s
    try:
        with httpx.Client(timeout=2.0) as client:
            while True:
                assert server.alive(), f"{stack.name} exited:\n{server.failed('exit').log_tail}"
                assert time.monotonic() < deadline, f"{stack.name} not ready: {seen}"
                try:
                    outcome: object = client.get(server.url_for("ready")).status_code
                except httpx.TransportError:
                    outcome = "refused"
                if not seen or seen[-1] != outcome:
                    seen.append(outcome)
                if outcome == 200:
                    break
                time.sleep(0.02)
    except BaseException:
        server.stop()
        raise
    return Started(server, seen, server.processes())


@pytest.fixture(scope="module", params=PEERS)
def peer(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    started = _start(STACKS[request.param], tmp_path_factory.mktemp("peer-logs"))
    try:
        yield started
    finally:
        started.server.stop()


def _send(server: ServerProcess, request: NativeRequest) -> httpx.Response:
    # A fresh connection each time: some frameworks close the connection after an error.
    return httpx.request(request.method, server.url + request.path, content=request.body,
                         headers=dict(request.headers), timeout=20.0)


def _close(answer, case: GoldenCase) -> None:
    assert answer.prediction == case.prediction
    assert answer.probability is not None
    assert abs(answer.probability["no_churn"] - case.probability[0]) <= 1e-6
    assert abs(answer.probability["churn"] - case.probability[1]) <= 1e-6


def test_golden_single_and_batch(peer: Started, golden: list[GoldenCase]) -> None:
    stack = peer.stack
    for case in golden:
        response = _send(peer.server, stack.protocol.request([case.request], False, stack.paths))
        assert response.status_code == 200, response.text
        (answer,) = stack.protocol.answers(response.content, 1, False)
        _close(answer, case)
    response = _send(peer.server, stack.protocol.request(GOLDEN_REQUESTS, True, stack.paths))
    assert response.status_code == 200, response.text
    answers = stack.protocol.answers(response.content, len(GOLDEN_REQUESTS), True)
    for answer, case in zip(answers, golden, strict=True):
        _close(answer, case)


def test_readiness_as_declared(peer: Started) -> None:
    stack = peer.stack
    allowed: set[object] = {"refused", 200}
    not_ready = stack.deviation_for("not_ready")
    if not_ready is not None:
        allowed.add(not_ready.status)
    elif not stack.loads_before_listening:
        allowed.add(503)
    assert set(peer.ready_seen) <= allowed, peer.ready_seen
    assert peer.ready_seen[-1] == 200
    assert httpx.get(peer.server.url_for("health"), timeout=5).status_code == 200


def test_metrics_as_declared(peer: Started) -> None:
    stack = peer.stack
    response = httpx.get(peer.server.url_for("metrics"), timeout=5)
    missing = stack.deviation_for("metrics")
    if missing is not None:
        assert response.status_code == missing.status
        return
    assert response.status_code == 200
    if stack.name.startswith("triton"):
        assert 'nv_inference_request_success{model="churn"' in response.text
    else:
        assert "ml_predictions_total{" in response.text


def test_bad_input_as_declared(peer: Started) -> None:
    stack = peer.stack
    wrong = {}
    for case in BAD:
        request = stack.protocol.bad_request(case, stack.paths)
        if request is None:
            continue
        response = _send(peer.server, request)
        status, _ = stack.expected_bad(case)
        if response.status_code != status:
            wrong[case.name] = (status, response.status_code, response.text[:120])
    assert not wrong, "\n".join(f"{name}: {seen}" for name, seen in wrong.items())
    # Still serving after every bad request.
    response = _send(peer.server, stack.protocol.request([SEED_EXAMPLE], False, stack.paths))
    assert response.status_code == 200


def test_stop_leaves_no_process(peer: Started) -> None:
    server = peer.server
    tree = server.processes()
    assert tree, "no process to stop"
    server.stop()
    time.sleep(0.2)
    left = [p for p in {*peer.tree, *tree} if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not left, [" ".join(p.cmdline())[:120] for p in left]
    leftover = [
        p.info["cmdline"] for p in psutil.process_iter(["cmdline"])
        if p.info["cmdline"] and any(str(server.port) in part for part in p.info["cmdline"])
    ]
    assert not leftover, leftover


def test_torchserve_answers_requests_sent_before_its_worker_loaded(tmp_path: Path) -> None:
    """TorchServe's /ping can say Healthy while the worker still loads (declared): a request
    sent then waits in TorchServe's queue and is answered once the model is there."""
    stack = STACKS["torchserve"]
    _require_env(stack)
    server = ServerProcess(stack, env={"SERVEBENCH_LOAD_DELAY_S": "4"}, log_path=tmp_path / "torchserve.log")
    server.start()
    try:
        # /ping alone, not the harness's wait_ready (which waits for a first answer as declared).
        deadline = server.started_at + stack.ready_timeout_s
        while not _pinged(server):
            assert server.alive() and time.monotonic() < deadline, server.failed("not ready").log_tail
            time.sleep(0.05)
        response = _send(server, stack.protocol.request([SEED_EXAMPLE], False, stack.paths))
        assert response.status_code == 200, response.text
    finally:
        server.stop()


def _pinged(server: ServerProcess) -> bool:
    try:
        return httpx.get(server.url_for("ready"), timeout=2).status_code == 200
    except httpx.TransportError:
        return False
