"""A whole capacity run on one slowed stack, bounded: few short steps, one overload.

No absolute timing is assumed: the stack runs one request at a time, so the injected cost caps
its rate on any machine (at most 200 req/s), and the SLO is generous next to that cost, so a
scheduling hiccup on a busy machine does not fail a step far below capacity."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtests.capacity import SweepSettings
from loadtests.capacity_run import CapacityConfig, capacity_run
from loadtests.capacity_search import SearchSettings
from loadtests.cpus import Pinning
from loadtests.generators import GeneratorSettings
from loadtests.openloop import OpenLoopSettings
from servebench.results.store import UserError, load_capacity, load_run
from servers.registry import STACKS

# Measures timing or loads the machine: runs alone (see the Makefile's test target).
pytestmark = pytest.mark.serial


def test_capacity_run_finds_a_rate_that_passed_below_one_that_failed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Inherited by the server; the model runs on the event loop, so at most 1e6 / 5000 req/s.
    monkeypatch.setenv("SERVEBENCH_SLOWDOWN_US", "5000")
    server_cpus, load_cpus = Pinning.default().server, Pinning.default().load
    # 20 -> 60 -> 180 -> 540 req/s brackets any capacity up to 200 req/s within 4 steps, and the
    # bisection needs at most 2 more. At 540 req/s the queue grows by seconds within a step, far
    # over an SLO of 250 ms; below capacity only a stall of that length could miss it.
    openloop = OpenLoopSettings(GeneratorSettings(load_cpus), slo_ms=250.0, max_send_lag_ms=50.0)
    sweep = SweepSettings(openloop, SearchSettings(start_rps=20, growth=3, resolution=0.5, max_steps=6),
                          warmup_s=0.3, step_s=1.2, overload_factors=(2.0,), overload_s=1.5,
                          recovery_s=2.0)
    stack = "fastapi_inline"
    assert stack in STACKS
    config = CapacityConfig(sweep, (stack,), ("default",), None, server_cpus, load_cpus, tmp_path)
    root, run = capacity_run(config)
    loaded = load_capacity(root)
    assert loaded.run == run and run.status == "complete" and run.records == [f"{stack}__default"]
    assert run.models["default"]["sha256"] and run.settings.slo_ms == 250.0
    record = loaded.records[0]
    assert record.status == "ok" and all(c.ok for c in record.checks), record.reason
    assert record.model_sha256 == run.models["default"]["sha256"]
    verdicts = {s.windows[1].offered_rps: s.verdict for s in record.steps}
    if record.limited_by in ("slo", "errors"):
        assert record.capacity_rps is not None and verdicts[record.capacity_rps] == "pass"
        assert any(v == "fail" and rate > record.capacity_rps for rate, v in verdicts.items())
        assert record.capacity_p99_ms is not None and record.capacity_p99_ms <= record.slo_ms
        (over,) = record.overload
        assert over.factor == 2.0 and over.step.windows[1].offered_rps == 2 * record.capacity_rps
        assert [w.name for w in over.step.windows] == ["warmup", "overload", "recovery"]
    else:  # the shared machine starved the generator: the record must say so, not guess
        assert record.limited_by == "generator" and "invalid" in verdicts.values()
    for step in record.steps:
        assert (root / step.raw_dir / "locust-result.json").exists()
    with pytest.raises(UserError):
        load_run(root)  # a capacity run is not a closed-loop run
