from __future__ import annotations

import os

import pytest

from loadtests.capacity import SweepSettings
from loadtests.capacity_run import CapacityConfig, cpus_for
from loadtests.capacity_search import SearchSettings
from loadtests.generator import GeneratorSettings
from loadtests.openloop import OpenLoopSettings
from servebench.cli import build_parser
from servebench.commands.capacity import config_from
from servebench.errors import UserError
from servers.registry import STACKS

SWEEP = SweepSettings(OpenLoopSettings(GeneratorSettings((0,))), SearchSettings())


def test_workers_apply_the_knob_and_pin_as_many_cpus_as_the_machine_allows() -> None:
    with_workers = [name for name, stack in STACKS.items() if "workers" in stack.knobs]
    config = CapacityConfig(SWEEP, tuple(with_workers), ("default", "light"), (1, 2), (1,), (0,))
    targets = config.targets({"default": "d", "light": "l"})
    assert len(targets) == len(with_workers) * 2 * 2
    cpus = len(os.sched_getaffinity(0))
    for target in targets:
        assert target.workers is not None and target.stack.knobs["workers"] == target.workers
        assert target.server_cpus is not None and len(target.server_cpus) == min(target.workers, cpus)
        assert target.load_cpus  # the generator always has a CPU, shared when none is left
    assert len({t.record_id for t in targets}) == len(targets)
    assert config.estimate_s() == pytest.approx(
        len(targets) * CapacityConfig(SWEEP, (with_workers[0],), ("default",), None, None, None)
        .estimate_s())


def test_without_workers_each_stack_runs_as_registered() -> None:
    config = CapacityConfig(SWEEP, tuple(STACKS), ("default",), None, (1,), (0,))
    targets = config.targets({"default": "d"})
    assert [t.stack for t in targets] == list(STACKS.values())
    assert all(t.workers is None and t.server_cpus == (1,) for t in targets)


def test_no_pinning_stays_unpinned() -> None:
    assert cpus_for(2, None, None) == (None, None)


def test_the_command_line_builds_the_effective_settings() -> None:
    args = build_parser().parse_args(["capacity", "--model", "light", "heavy", "--slo-ms", "80",
                                      "--workers", "1,2", "--arrival", "constant", "--overload"])
    config = config_from(args)
    assert config.models == ("light", "heavy") and config.workers == (1, 2)
    assert config.sweep.openloop.slo_ms == 80 and config.sweep.openloop.arrival == "constant"
    assert config.sweep.overload_factors == ()
    with pytest.raises(UserError):
        config_from(build_parser().parse_args(["capacity", "--workers", "0"]))
