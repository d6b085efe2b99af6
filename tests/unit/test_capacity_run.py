from __future__ import annotations

import pytest

from loadtests.capacity import SweepSettings
from loadtests.capacity_run import CapacityConfig, cpus_for
from loadtests.capacity_search import SearchSettings
from loadtests.generators import GeneratorSettings
from loadtests.openloop import OpenLoopSettings
from servebench.cli import build_parser
from servebench.commands.capacity import config_from
from servebench.errors import UserError
from servers.registry import STACKS

SWEEP = SweepSettings(OpenLoopSettings(GeneratorSettings((0,))), SearchSettings())


def test_workers_apply_the_knob_and_pin_as_many_cpus_as_the_machine_allows() -> None:
    with_workers = [name for name, stack in STACKS.items() if "workers" in stack.knobs]
    config = CapacityConfig(SWEEP, tuple(with_workers), ("default", "light"), (1, 2), (1,), (0,))
    targets = config.targets()
    assert len(targets) == len(with_workers) * 2 * 2
    for target in targets:  # two CPUs were given: (1,) for the server, (0,) for the load
        assert target.workers is not None and target.stack.knobs["workers"] == target.workers
        assert target.server_cpus is not None and len(target.server_cpus) == min(target.workers, 2)
        assert set(target.server_cpus) | set(target.load_cpus or ()) <= {0, 1}
        assert target.load_cpus  # the generator always has a CPU, shared when none is left
    assert len({t.record_id for t in targets}) == len(targets)
    assert config.estimate_s() == pytest.approx(
        len(targets) * CapacityConfig(SWEEP, (with_workers[0],), ("default",), None, None, None)
        .estimate_s())


def test_without_workers_each_stack_runs_as_registered() -> None:
    config = CapacityConfig(SWEEP, tuple(STACKS), ("default",), None, (1,), (0,))
    targets = config.targets()
    assert [t.stack for t in targets] == list(STACKS.values())
    assert all(t.workers is None and t.server_cpus == (1,) for t in targets)


def test_no_pinning_stays_unpinned() -> None:
    assert cpus_for(2, None, None) == (None, None)
    assert cpus_for(2, None, (0, 1)) == (None, (0, 1))


def test_cpus_are_split_from_the_cpus_given_not_the_whole_machine() -> None:
    # Whatever this machine has, only CPUs 4-7 were given to the run.
    assert cpus_for(1, (7,), (4, 5, 6)) == ((7,), (4, 5, 6))
    assert cpus_for(2, (7,), (4, 5, 6)) == ((6, 7), (4, 5))
    assert cpus_for(3, (6, 7), (4, 5)) == ((5, 6, 7), (4,))
    # More workers than CPUs given: the server takes them all, the generator shares the lowest.
    assert cpus_for(8, (7,), (4, 5, 6)) == ((4, 5, 6, 7), (4,))
    assert cpus_for(1, (40,), (2,)) == ((40,), (2,))  # CPU ids need not exist here
    # Server pinned, generator not: the server's CPUs only, the generator stays unpinned.
    assert cpus_for(1, (2, 3), None) == ((3,), None)
    assert cpus_for(4, (2, 3), None) == ((2, 3), None)


def test_the_command_line_builds_the_effective_settings() -> None:
    args = build_parser().parse_args(["capacity", "--model", "light", "heavy", "--slo-ms", "80",
                                      "--workers", "1,2", "--arrival", "constant", "--overload"])
    config = config_from(args)
    assert config.models == ("light", "heavy") and config.workers == (1, 2)
    assert config.sweep.openloop.slo_ms == 80 and config.sweep.openloop.arrival == "constant"
    assert config.sweep.overload_factors == ()
    with pytest.raises(UserError):
        config_from(build_parser().parse_args(["capacity", "--workers", "0"]))
