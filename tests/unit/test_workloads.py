"""Workload and run-profile declarations, and the time budget they imply."""

from __future__ import annotations

import dataclasses

from loadtests.cpus import Pinning
from loadtests.run import RunConfig
from loadtests.workloads import RUN_PROFILES, WORKLOADS

BUDGET_S = {"quick": 3 * 60, "full": 20 * 60}
PLANNED_STACKS = 8  # the stacks the budget is sized for


def test_the_seed_mix_is_eight_single_to_two_batch_plus_probes() -> None:
    steps = {step.kind: step for step in WORKLOADS["seed_mix"].mix}
    assert (steps["single"].weight, steps["batch"].weight, steps["ready"].weight) == (8, 2, 1)
    assert (steps["batch"].batch_min, steps["batch"].batch_max) == (5, 20)
    assert WORKLOADS["batch"].mix[0].batch_min == 5 and WORKLOADS["batch"].mix[0].batch_max == 20


def test_every_profile_fits_its_time_budget_for_the_planned_number_of_stacks() -> None:
    for name, budget in BUDGET_S.items():
        config = RunConfig(profile=RUN_PROFILES[name], stacks=("s",) * PLANNED_STACKS, model="default",
                           pinning=Pinning(None, None))
        assert config.estimate_s() <= budget, name


def test_one_process_measures_every_workload_at_every_level() -> None:
    profile = dataclasses.replace(RUN_PROFILES["full"], repeats=2)
    config = RunConfig(profile=profile, stacks=("s",), model="default", pinning=Pinning(None, None))
    assert config.measurements() == [(w, u) for w in profile.workloads for u in profile.users]
