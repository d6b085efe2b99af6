"""Open-loop load against a real, deliberately slowed stack: the coordinated-omission effect
and the generator keeping its rate. Ratios within one run only; no absolute timings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from loadtests.arrivals import Segment
from loadtests.generator import GeneratorSettings
from loadtests.measure import MeasureSettings, measure
from loadtests.openloop import OpenLoopSettings, run_step
from loadtests.orchestrate import default_cpus
from servers.process import ServerProcess
from servers.registry import STACKS
from shared_model.cases import GoldenCase

SLOW_ROW_US = 3000  # CPU-bound delay per predicted row: a few hundred req/s at most


def test_open_loop_latency_shows_the_queue_closed_loop_hides(tmp_path: Path,
                                                              golden: Sequence[GoldenCase]) -> None:
    server_cpus, load_cpus = default_cpus()
    generator = GeneratorSettings(load_cpus)
    stack = next(iter(STACKS.values()))
    with ServerProcess(stack, cpus=server_cpus, env={"SERVEBENCH_SLOWDOWN_US": str(SLOW_ROW_US)}) as server:
        closed = measure(server, "single", 4, 1, golden, MeasureSettings(0.5, 1.5, 10.0, generator),
                         tmp_path, 0.0)
        served = closed.measured.rps  # what the saturated stack does, closed loop
        closed_p99 = closed.measured.latency.percentiles_ms["p99"]
        settings = OpenLoopSettings(generator, arrival="constant", max_outstanding=2000, timeout_s=20.0)

        def step(name: str, rate: float) -> tuple[float, float, float]:
            result, _ = run_step(server, golden, settings, [Segment("warmup", rate, 0.3),
                                                            Segment("measured", rate, 2.0)],
                                 "measured", name, tmp_path, tmp_path / name)
            measured = result.windows[1]
            return (measured.generator.achieved_rps / rate, measured.throughput_rps / rate,
                    measured.latency.percentiles_ms["p99"])

        below_sent, below_served, _ = step("below", 0.4 * served)
        _, _, over_p99 = step("over", 2.5 * served)
    # Below saturation the generator keeps the target rate and the server answers all of it.
    assert 0.95 <= below_sent <= 1.05, below_sent
    assert 0.95 <= below_served <= 1.05, below_served
    # Above it, latency from the intended send time includes the queue that closed-loop users
    # never build (they wait for each answer before sending the next).
    assert over_p99 > 3 * closed_p99, (over_p99, closed_p99)
