"""Open-loop load against a real, deliberately slowed stack: the coordinated-omission effect
and the generator keeping its rate. No absolute timings: rates come from the injected cost and
from the stack's own closed-loop rate, latencies are compared within one run only."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from loadtests.arrivals import Segment, offsets
from loadtests.cpus import Pinning
from loadtests.generators import GENERATORS, GeneratorSettings
from loadtests.measure import MeasureSettings, measure
from loadtests.openloop import OpenLoopSettings, run_step
from loadtests.session import ModelUnderTest, Session
from servebench.results.capacity import Window
from servers.process import ServerProcess
from servers.registry import STACKS

# Measures timing or loads the machine: runs alone (see the Makefile's test target).
pytestmark = pytest.mark.serial

SLOW_ROW_US = 3000  # busy wait per predicted row
# The model runs on the event loop, one request at a time: whatever the machine, the stack
# cannot answer more than 1 / SLOW_ROW_US requests per second.
STACK = "fastapi_inline"
CEILING_RPS = 1e6 / SLOW_ROW_US
MEASURED_S = 2.0


def test_open_loop_latency_shows_the_queue_closed_loop_hides(tmp_path: Path) -> None:
    server_cpus, load_cpus = Pinning.default().server, Pinning.default().load
    generator = GeneratorSettings(load_cpus)
    locust = GENERATORS["locust"]
    stack = STACKS[STACK]
    settings = OpenLoopSettings(generator, arrival="constant", max_outstanding=2000, timeout_s=20.0)
    with ServerProcess(stack, cpus=server_cpus, env={"SERVEBENCH_SLOWDOWN_US": str(SLOW_ROW_US)}) as server:
        session = Session(server, ModelUnderTest.load("default"), 0.0, [])
        closed = measure(session, locust, "single", 4, 1, MeasureSettings(0.5, 1.5, 10.0, generator),
                         tmp_path)
        served = closed.measured.rps  # what the saturated stack does, closed loop
        closed_p99 = closed.measured.latency.percentiles_ms["p99"]
        assert 0 < served <= CEILING_RPS, served

        def step(name: str, rate: float, ol: OpenLoopSettings = settings) -> Window:
            result, _ = run_step(session, locust, ol, [Segment("warmup", rate, 0.3),
                                                       Segment("measured", rate, MEASURED_S)],
                                 "measured", name, tmp_path, tmp_path / name)
            return result.windows[1]

        # Below saturation: 40 % of what the stack served closed loop (a busy machine during
        # that measurement only lowers this rate further). A step the generator itself reports
        # as not kept to schedule (another process starved it) is run once more, as a sweep does.
        below_rate = 0.4 * served
        below = step("below", below_rate)
        if not below.generator.valid:
            below = step("below-again", below_rate)
        # Above it: twice the ceiling, over capacity on any machine however fast.
        over = step("over", 2 * CEILING_RPS)
        # The same overload with room for only a few outstanding requests: the cap is reached.
        capped = step("capped", 2 * CEILING_RPS, replace(settings, max_outstanding=8))

    # Below saturation the generator keeps the target rate and the server answers all of it.
    scheduled = len(offsets("constant", below_rate, MEASURED_S, random.Random(0)))
    assert below.attempts == below.sent == below.ok == scheduled, below.errors
    assert below.generator.valid, below.generator
    assert below.generator.achieved_rps >= 0.95 * below_rate, below.generator
    assert below.throughput_rps == scheduled / MEASURED_S
    # Above it, latency from the intended send time includes the queue that closed-loop users
    # never build (they wait for each answer before sending the next); it grows over the window.
    over_p99 = over.latency.percentiles_ms["p99"]
    assert over_p99 > 3 * closed_p99, (over_p99, closed_p99)
    assert over.first_half_p99_ms is not None and over.second_half_p99_ms is not None
    assert over.second_half_p99_ms > over.first_half_p99_ms, over
    # Past the generator's cap nothing due is dropped: requests wait for a connection (their
    # wait is latency) or are given up as not_sent, and the queue still shows.
    assert capped.attempts == len(offsets("constant", 2 * CEILING_RPS, MEASURED_S, random.Random(0)))
    assert capped.saturated and capped.capped > 0, capped
    assert capped.errors.get("not_sent", 0) == capped.never_sent
    assert capped.second_half_p99_ms is not None and capped.first_half_p99_ms is not None
    assert capped.second_half_p99_ms > capped.first_half_p99_ms, capped
    assert capped.outstanding["q4_mean"] > capped.outstanding["q2_mean"] > 8, capped.outstanding
