"""A capacity run: every selected stack x model profile (x server workers), one record each,
written to a new results/<run_id>/ directory as the sweep goes."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtests import provenance
from loadtests.capacity import SweepSettings, Target, sweep
from loadtests.orchestrate import STACK_OVERHEAD_S, run_id
from servebench.provenance import git_commit, git_dirty
from servebench.results.capacity import CapacityRun, CapacitySettings, CapacityWriter
from servebench.results.schema import SCHEMA_VERSION
from servers.process import REPO_ROOT
from servers.registry import STACKS
from shared_model.cases import golden_cases
from shared_model.predictor import Predictor
from shared_model.profiles import PROFILES

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

    def targets(self, fingerprints: dict[str, str]) -> list[Target]:
        out = []
        for model in self.models:
            for name in self.stacks:
                stack = STACKS[name]
                if not self.workers or "workers" not in stack.knobs:
                    out.append(Target(stack, model, fingerprints[model], None, self.server_cpus,
                                      self.load_cpus))
                    continue
                for count in self.workers:
                    server, load = cpus_for(count, self.server_cpus, self.load_cpus)
                    out.append(Target(stack.with_knobs(workers=count), model, fingerprints[model],
                                      count, server, load))
        return out

    def estimate_s(self) -> float:
        s = self.sweep
        per_stack = (STACK_OVERHEAD_S + EXPECTED_STEPS * (s.warmup_s + s.step_s + STEP_OVERHEAD_S)
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
                 done: Callable[[object], None] = lambda _: None) -> tuple[Path, CapacityRun]:
    started = datetime.now(UTC)
    commit = git_commit()
    writer = CapacityWriter(config.results_dir,
                            "capacity-" + run_id(commit if commit != "unknown" else None, started))
    predictors = {model: Predictor.load(PROFILES[model]) for model in config.models}
    s, ol = config.sweep, config.sweep.openloop
    run = CapacityRun(
        schema_version=SCHEMA_VERSION, run_id=writer.root.name, status="running",
        started_at=started.isoformat(), finished_at=None, wall_time_s=None,
        estimate_s=config.estimate_s(), git_commit=commit, git_dirty=git_dirty(),
        machine=provenance.machine(), python=platform.python_version(), packages=provenance.packages(),
        models={m: {"sha256": p.fingerprint, "version": p.version} for m, p in predictors.items()},
        settings=CapacitySettings(
            stacks=list(config.stacks), models=list(config.models),
            workers=list(config.workers) if config.workers else None, workload=ol.workload,
            arrival=ol.arrival, slo_ms=ol.slo_ms, max_error_rate=ol.max_error_rate,
            start_rps=s.search.start_rps, growth=s.search.growth, max_rps=s.search.max_rps,
            resolution=s.search.resolution, warmup_s=s.warmup_s, step_s=s.step_s,
            overload_factors=list(s.overload_factors), overload_s=s.overload_s,
            recovery_s=s.recovery_s, max_outstanding=ol.max_outstanding, timeout_s=ol.timeout_s,
            max_send_lag_ms=ol.max_send_lag_ms, min_achieved=ol.min_achieved,
            server_cpus=list(config.server_cpus) if config.server_cpus else None,
            load_cpus=list(config.load_cpus) if config.load_cpus else None,
            locust_workers=ol.generator.workers, generator_bound_percent=ol.generator_bound_percent,
        ),
        records=[],
    )
    writer.write_capacity(run)
    status = "interrupted"
    try:
        for target in config.targets({m: p.fingerprint for m, p in predictors.items()}):
            golden = golden_cases(predictors[target.model])
            record = sweep(target, golden, config.sweep, writer.root, progress)
            writer.write_capacity_record(record)
            run = run.model_copy(update={"records": [*run.records, record.record_id]})
            writer.write_capacity(run)
            done(record)
        status = "complete"
    finally:
        finished = datetime.now(UTC)
        run = run.model_copy(update={"status": status, "finished_at": finished.isoformat(),
                                     "wall_time_s": (finished - started).total_seconds()})
        writer.write_capacity(run)
    return writer.root, run
