"""SIGTERM under load and a worker killed with -9, on real stacks."""

from __future__ import annotations

import time

import pytest

from loadtests.faults import kill_a_worker_under_load, sigterm_under_load
from servers.process import ServerProcess
from servers.registry import STACKS

# Measures timing or loads the machine: runs alone (see the Makefile's test target).
pytestmark = pytest.mark.serial


@pytest.mark.parametrize("name", list(STACKS))
def test_sigterm_under_load_drains_cleanly(name: str) -> None:
    stack = STACKS[name]
    server = ServerProcess(stack).start()
    try:
        server.wait_ready()
        result = sigterm_under_load(server, clients=4, load_s=0.5)
    finally:
        server.stop()
    assert result.outcomes.get("ok", 0) > 0
    # A client holds one connection at a time, so it can meet each way of losing a request at
    # most once: its keep-alive connection closed as a request arrives, then a new connection
    # left in the listen backlog when the listener closes (gunicorn and BentoML's arbiter stop
    # accepting before they close it).
    assert result.outcomes.get("unanswered_reused", 0) <= 4, result
    assert result.outcomes.get("unanswered_new", 0) <= 4, result
    declared = stack.deviation_for("sigterm_under_load")
    allowed = {"ok", "refused", "connect_error", "send_failed", "unanswered_reused", "unanswered_new"}
    if declared is not None:
        # Its declared answer to some requests in flight (LitServe's API server may still be
        # draining when the clients stop: no refusal need be seen).
        assert set(result.outcomes) <= allowed | {f"status_{declared.status}"}, result
    else:
        assert result.outcomes.get("refused", 0) > 0, "new connections must be refused once stopping"
        assert set(result.outcomes) <= allowed, result
        if "drain_s" in stack.knobs:
            assert result.lost == 0, result  # draining shutdown: nothing sent is dropped
    assert server.proc is not None and server.proc.returncode is not None


@pytest.mark.parametrize("name", [n for n, s in STACKS.items() if s.openapi and "max_inflight" in s.knobs])
def test_our_non_blocking_stacks_restart_a_killed_worker(name: str) -> None:
    server = ServerProcess(STACKS[name].with_knobs(workers=2)).start()
    try:
        server.wait_ready()
        result = kill_a_worker_under_load(server, clients=4, load_s=0.5, after_s=2.0)
        assert server.alive()
        live = [p for p in server.processes() if p.pid != result.victim_pid]
        assert len(live) >= 3  # supervisor and two workers again
    finally:
        server.stop()
    assert result.outcomes.get("ok", 0) > 0
    # Requests in flight on the killed worker may fail; after that, service must come back.
    assert result.failed_after_kill == 0 or result.recovery_s is not None, result


def test_with_two_uvicorn_workers_metrics_count_every_worker() -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    from shared_model.cases import SEED_EXAMPLE

    stack = STACKS["fastapi_threadpool"].with_knobs(workers=2)
    assert stack.aggregates_metrics
    with ServerProcess(stack) as server, httpx.Client(base_url=server.url) as client:
        # The server is ready once a worker is; the other may still be loading its model (503).
        # Ten fresh connections in a row answered ready: both workers have their model.
        streak = 0
        for _ in range(400):
            with httpx.Client(base_url=server.url) as fresh:
                streak = streak + 1 if fresh.get(stack.paths["ready"]).status_code == 200 else 0
            if streak == 10:
                break
            time.sleep(0.05)
        assert streak == 10, "both workers never answered ready"
        for _ in range(40):  # new connections land on both workers
            with httpx.Client(base_url=server.url) as fresh:
                assert fresh.post(stack.paths["predict"], json=SEED_EXAMPLE).status_code == 200
        text = client.get(stack.paths["metrics"]).text
    total = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "ml_predictions_total" and sample.labels["outcome"] == "success"
    )
    assert total == 40
