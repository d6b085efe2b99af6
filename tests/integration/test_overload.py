"""Bounded queues and timeouts: 503 with Retry-After when full, 504 when too slow."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from servers.process import ServerProcess
from servers.registry import STACKS
from shared_model.cases import SEED_EXAMPLE
from shared_model.schemas import ErrorBody

# Measures timing or loads the machine: runs alone (see the Makefile's test target).
pytestmark = pytest.mark.serial

SLOW_ROW_US = 300_000  # injected model cost per row: makes requests pile up


def _with(knob: str) -> list[str]:
    return [name for name, stack in STACKS.items() if knob in stack.knobs]


@pytest.mark.parametrize("name", _with("max_inflight"))
def test_past_max_inflight_requests_are_refused_at_once_with_retry_after(name: str) -> None:
    knobs = {"max_inflight": 2}
    if "request_timeout_s" in STACKS[name].knobs:
        knobs["request_timeout_s"] = 60
    stack = STACKS[name].with_knobs(**knobs)
    with ServerProcess(stack, env={"SERVEBENCH_SLOWDOWN_US": str(SLOW_ROW_US)}) as server:

        def post(_: int) -> httpx.Response:
            return httpx.post(server.url + stack.paths["predict"], json=SEED_EXAMPLE, timeout=60)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, range(8)))
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) == {200, 503}, statuses
        for response in responses:
            if response.status_code == 503:
                assert response.headers["retry-after"] == "1"
                assert ErrorBody.model_validate(response.json()).error == "overloaded"
        assert httpx.get(server.url + stack.paths["ready"]).status_code == 200


@pytest.mark.parametrize("name", _with("request_timeout_s"))
def test_a_request_slower_than_its_timeout_answers_504(name: str) -> None:
    stack = STACKS[name].with_knobs(request_timeout_s=0.2)
    with ServerProcess(stack, env={"SERVEBENCH_SLOWDOWN_US": str(5 * SLOW_ROW_US)}) as server:
        response = httpx.post(server.url + stack.paths["predict"], json=SEED_EXAMPLE, timeout=60)
        assert response.status_code == 504
        assert ErrorBody.model_validate(response.json()).error == "timeout"
        assert httpx.get(server.url + stack.paths["health"]).status_code == 200
