"""A capacity run: every selected stack x model profile (x server workers), one record each,
written to a new results/<run_id>/ directory as the sweep goes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtests.capacity import SweepSettings, Target, sweep
from loadtests.generators import chosen
from loadtests.recorder import Recorder, header_fields
from loadtests.run import PROCESS_OVERHEAD_S
from loadtests.session import External, ModelUnderTest, topology
from loadtests.workloads import WORKLOADS
from servebench.results.capacity import CapacityRecord, CapacityRun, CapacitySettings
from servebench.results.declarations import CAPACITY_FLAGS, GENERATOR_BOUND_PERCENT
from servers.process import REPO_ROOT
from servers.registry import STACKS, Stack

STEP_OVERHEAD_S = 3.0  # Locust start, drain and exit per step on the 2-core machine
EXPECTED_STEPS = 9  # a typical search: ~5 doublings then ~4 bisections


@dataclass(frozen=True)
class CapacityConfig:
    sweep: SweepSettings
    stacks: tuple[str, ...]
    models: tuple[str, ...]
    workers: tuple[int, ...] | None  # None: each stack as registered
    server_cpus: tuple[int, ...] | None
    load_cpus: tuple[int, ...] | None
    results_dir: Path = REPO_ROOT / "results"
    generator: str = "locust"
    external: External | None = None  # sweep this service instead of starting stacks

    def stack(self, name: str) -> Stack:
        if self.external is not None and name == self.external.label:
            return self.external.stack()
        return STACKS[name]

    def targets(self) -> list[Target]:
        out = []
        for model in self.models:
            for name in self.stacks:
                stack = self.stack(name)
                if self.external or not self.workers or "workers" not in stack.knobs:
                    out.append(Target(stack, model, None, self.server_cpus, self.load_cpus))
                    continue
                for count in self.workers:
                    server, load = cpus_for(count, self.server_cpus, self.load_cpus)
                    out.append(Target(stack.with_knobs(workers=count), model, count, server, load))
        return out

    def estimate_s(self) -> float:
        s = self.sweep
        per_stack = (PROCESS_OVERHEAD_S + EXPECTED_STEPS * (s.warmup_s + s.step_s + STEP_OVERHEAD_S)
                     + len(s.overload_factors) * (s.warmup_s + s.overload_s + s.recovery_s
                                                  + STEP_OVERHEAD_S))
        targets = len(self.stacks) * len(self.models) * (len(self.workers) if self.workers else 1)
        return targets * per_stack


def cpus_for(workers: int, server_cpus: tuple[int, ...] | None, load_cpus: tuple[int, ...] | None
             ) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """Split the CPUs given to the run (server and load CPUs together, nothing else): as many
    server CPUs as workers, taken from the end; the generator keeps the rest, or shares the
    lowest CPU when none is left (recorded as shared_cpus). An unpinned side stays unpinned:
    without server CPUs the server is not pinned, without load CPUs the generator is not."""
    if server_cpus is None:
        return None, load_cpus
    cpus = sorted(set(server_cpus) | set(load_cpus or ()))
    server = tuple(cpus[-workers:]) if workers <= len(cpus) else tuple(cpus)
    if load_cpus is None:
        return server, None
    rest = tuple(c for c in cpus if c not in server)
    return server, rest or (cpus[0],)


def capacity_run(config: CapacityConfig, progress: Callable[[str], None] = lambda _: None,
                 done: Callable[[CapacityRecord], None] = lambda _: None) -> tuple[Path, CapacityRun]:
    s, ol = config.sweep, config.sweep.openloop
    generator = chosen(config.generator, "open", (WORKLOADS[ol.workload],))
    models = {name: ModelUnderTest.load(name) for name in config.models}
    header = CapacityRun(
        **header_fields("capacity", [config.stack(n) for n in config.stacks], CAPACITY_FLAGS,
                        [generator.name], config.estimate_s()),
        models={name: {"sha256": m.fingerprint, "version": m.version} for name, m in models.items()},
        settings=CapacitySettings(
            stacks=list(config.stacks), models=list(config.models),
            workers=list(config.workers) if config.workers else None, workload=ol.workload,
            arrival=ol.arrival, slo_ms=ol.slo_ms, max_error_rate=ol.max_error_rate,
            start_rps=s.search.start_rps, growth=s.search.growth, max_rps=s.search.max_rps,
            resolution=s.search.resolution, warmup_s=s.warmup_s, step_s=s.step_s,
            overload_factors=list(s.overload_factors), overload_s=s.overload_s,
            recovery_s=s.recovery_s, max_outstanding=ol.max_outstanding, timeout_s=ol.timeout_s,
            max_send_lag_ms=ol.send_lag_limit_ms, min_achieved=ol.min_achieved,
            server_cpus=list(config.server_cpus) if config.server_cpus else None,
            load_cpus=list(config.load_cpus) if config.load_cpus else None,
            locust_workers=ol.generator.workers, generator_bound_percent=GENERATOR_BOUND_PERCENT,
            topology=topology("127.0.0.1", None, config.external),
        ),
        records=[],
    )
    recorder = Recorder(config.results_dir, header, ("records", "logs", generator.name))
    with recorder.running():
        for target in config.targets():
            record = sweep(target, models[target.model], generator, config.sweep, recorder.root, progress,
                           config.external)
            recorder.record(record)
            recorder.update(records=[*recorder.header.records, record.record_id])
            done(record)
    return recorder.root, recorder.header
