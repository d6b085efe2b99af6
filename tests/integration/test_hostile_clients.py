"""Hostile clients and scarce resources on every stack, by the engine `servebench robustness`
uses: the connection-level cases and the trickled requests, each answered as the contract or
the stack's own declarations say (loadtests/connection_cases.py); then the stack under a low
open-files limit and a memory limit (loadtests/limits.py).

One server per stack for the whole module, run with the robustness run's injected model time
so that the disconnect case leaves while the model computes. Every case is run once per stack
and is its own test; the limits come last, since they may leave the stack broken.
"""

from __future__ import annotations

import httpx
import pytest

from loadtests.connection_cases import CONNECTION_CASES, Probe, as_declared
from loadtests.limits import scarce_resources
from loadtests.robustness import (
    CASE_TIMEOUT_S,
    ROW_COST_US,
    SLOW_CASES,
    bad_inputs,
    connection_level,
    slow_body_case,
    slow_headers_case,
)
from servers.process import ServerProcess
from shared_model.cases import GoldenCase

# Holds connections, judges times against a baseline and loads the stacks until they hit their
# limits: runs alone (the Makefile's serial run).
pytestmark = pytest.mark.serial

SERVER_ENV = {"SERVEBENCH_SLOWDOWN_US": str(ROW_COST_US)}
CASES = [*SLOW_CASES, *(c.name for c in CONNECTION_CASES)]


def test_every_case_answered_as_the_contract_or_the_stack_declares(server: ServerProcess,
                                                                     golden: list[GoldenCase]) -> None:
    """The trickled bad requests, then every connection-level case, once each; all are judged
    before any is asserted, so that a failure names every case that went wrong."""
    with httpx.Client(base_url=server.url, timeout=CASE_TIMEOUT_S) as client:
        found = bad_inputs(server, client, (slow_body_case(), slow_headers_case()))
    found += connection_level(Probe(server, golden, CASE_TIMEOUT_S, ROW_COST_US / 1e6))
    assert [r.case for r in found] == CASES
    wrong = [r for r in found if not (r.ready_after and as_declared(server.stack, r))]
    if server.stack.role != "peer":  # ours and the reference: nothing failing or undeclared
        wrong += [r for r in found if r.outcome not in ("pass", "declared") and r not in wrong]
    assert not wrong, "\n".join(f"{r.case}: {r.outcome}, status {r.status}, {r.detail}" for r in wrong)


def test_under_scarce_resources(server: ServerProcess, golden: list[GoldenCase]) -> None:
    """What clients see is recorded, whatever it is; here the accounting must hold, no answer may
    be wrong, and every stack must serve again once its open-files limit is lifted; our own
    stacks must also recover under the memory limit, with all their processes."""
    results = scarce_resources(server, golden)
    assert [r.resource for r in results] == ["open_files", "memory"]
    for result in results:
        assert result.method.startswith("prlimit") and result.steps, result
        for step in result.steps:  # every request sent has an outcome: none went unaccounted
            assert sum(step.outcomes.values()) == step.requests, step
        assert result.wrong_answers == 0, result
    open_files = results[0]
    assert open_files.recovered, open_files
    if server.stack.role != "peer":
        assert all(r.recovered for r in results), results
        assert all(r.processes_after == r.processes_before for r in results), results
