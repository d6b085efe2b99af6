"""Run every selected stack through the same sequence and write a versioned run directory.

Per stack: start pinned -> ready within a deadline -> verify -> measure each repeat x
workload x users (each with its own recorded warm-up) -> SIGTERM and time the shutdown.
A stack that fails anywhere is recorded with its reason and log tail; the run goes on.
This module iterates the registry and never names a stack.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from loadtests import provenance
from loadtests.generator import GeneratorSettings
from loadtests.measure import MeasurementFailed, MeasureSettings, measure
from loadtests.verify import verify
from loadtests.workloads import RunProfile
from loadtests.wrk_generator import whole_seconds
from servebench.provenance import git_commit, git_dirty
from servebench.results.schema import SCHEMA_VERSION, Check, Record, Run, Settings, StackOutcome
from servebench.results.store import RunWriter
from servers.process import REPO_ROOT, ServerProcess, StackFailed, tail
from servers.registry import STACKS
from shared_model.cases import golden_cases
from shared_model.predictor import Predictor
from shared_model.profiles import PROFILES

# Fixed costs per stack (start, verify, stop) and per Locust run (imports, spawn, drain),
# measured on the 2-core development machine (1.5 s quiet, nearer 2.5 s when shared); used
# only for the printed estimate.
STACK_OVERHEAD_S = 12.0  # 5 s for the FastAPI stacks, 15-18 s for BentoML and LitServe
LOCUST_OVERHEAD_S = 2.0
WORKER_OVERHEAD_S = 3.0
WRK_OVERHEAD_S = 0.5


@dataclass(frozen=True)
class RunConfig:
    profile: RunProfile  # effective: CLI overrides already applied
    stacks: tuple[str, ...]
    model: str
    server_cpus: tuple[int, ...] | None
    load_cpus: tuple[int, ...] | None
    locust_workers: int = 0
    results_dir: Path = REPO_ROOT / "results"
    generator_bound_percent: float = 90.0
    sample_interval_s: float = 0.2

    def measurements(self) -> list[tuple[int, str, int]]:
        """(repeat, workload, users) in run order: repeats outermost, so drift spreads evenly."""
        p = self.profile
        return [(r, w, u) for r in range(1, p.repeats + 1) for w in p.workloads for u in p.users]

    def measurement_s(self) -> float:
        p = self.profile
        if p.generator == "wrk":  # whole seconds per phase, and a settle after each
            return whole_seconds(p.warmup_s) + whole_seconds(p.measure_s) + WRK_OVERHEAD_S
        overhead = LOCUST_OVERHEAD_S + (WORKER_OVERHEAD_S if self.locust_workers else 0.0)
        return p.warmup_s + p.measure_s + overhead

    def estimate_s(self) -> float:
        return len(self.stacks) * (STACK_OVERHEAD_S + len(self.measurements()) * self.measurement_s())


def default_cpus() -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """Server on the last CPU, load on the others; no pinning on a single CPU."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return (cpus[-1],), tuple(cpus[:-1])


class Observer:
    """Progress callbacks; the command line shows them, tests ignore them."""

    def stack_started(self, stack: str) -> None: ...
    def measurement_started(self, label: str) -> None: ...
    def measurement_done(self, record: Record | None) -> None: ...
    def stack_done(self, outcome: StackOutcome) -> None: ...


def run_id(short_commit: str | None, now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ") + (f"-{short_commit}" if short_commit else "")


@dataclass
class _StackRun:
    records: list[Record] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    reason: str | None = None
    log_tail: str | None = None
    ready_s: float | None = None


def _run_stack(name: str, config: RunConfig, writer: RunWriter, golden: Sequence, fingerprint: str,
               observer: Observer) -> StackOutcome:
    stack = STACKS[name]
    log = writer.root / "logs" / f"{name}.log"
    server = ServerProcess(stack, cpus=config.server_cpus, env={"SERVEBENCH_MODEL": config.model},
                           log_path=log)
    p = config.profile
    settings = MeasureSettings(p.warmup_s, p.measure_s, p.drain_timeout_s,
                               GeneratorSettings(config.load_cpus, config.locust_workers,
                                                 config.profile.generator),
                               config.generator_bound_percent)
    state = _StackRun()
    shutdown: float | None = None
    try:
        server.start()
        state.ready_s = server.wait_ready()
        state.checks = [Check(name=c.name, ok=c.ok, detail=c.detail)
                        for c in verify(server.url, stack, golden, config.model, fingerprint)]
        failed = [c for c in state.checks if not c.ok]
        if failed:
            raise server.failed("verification failed: " + "; ".join(
                f"{c.name} ({c.detail})" for c in failed[:5]) + (" …" if len(failed) > 5 else ""))
        for repeat, workload, users in config.measurements():
            observer.measurement_started(f"{workload} x {users} users, repeat {repeat}/{p.repeats}")
            try:
                record = measure(server, workload, users, repeat, golden, settings, writer.root,
                                 state.ready_s)
            except MeasurementFailed as error:
                if not server.alive():
                    raise server.failed(f"died during {error.reason}") from None
                raise StackFailed(name, error.reason, error.log_tail) from None
            state.records.append(record)  # kept even if the server died during it
            observer.measurement_done(record)
            if not server.alive():
                raise server.failed(f"died during {record.record_id}")
    except StackFailed as error:
        state.reason, state.log_tail = error.reason, error.log_tail
    except Exception as error:  # an orchestrator fault must not cost the other stacks
        state.reason, state.log_tail = f"{type(error).__name__}: {error}", tail(log)
    finally:
        if server.proc is not None:
            shutdown = server.stop()
        for record in state.records:
            writer.write_record(record.model_copy(update={"shutdown_s": shutdown}))
    return StackOutcome(
        stack=name, title=stack.title, status="failed" if state.reason else "ok",
        reason=state.reason, log_tail=state.log_tail, knobs=dict(stack.knobs),
        command=server.command(), time_to_ready_s=state.ready_s, shutdown_s=shutdown,
        checks=state.checks, records=[r.record_id for r in state.records],
        log=str(log.relative_to(writer.root)),
    )


def orchestrate(config: RunConfig, observer: Observer | None = None) -> tuple[Path, Run]:
    observer = observer or Observer()
    started = datetime.now(UTC)
    commit = git_commit()
    writer = RunWriter(config.results_dir, run_id(commit if commit != "unknown" else None, started))
    predictor = Predictor.load(PROFILES[config.model])
    golden = golden_cases(predictor)
    p = config.profile
    run = Run(
        schema_version=SCHEMA_VERSION, run_id=writer.root.name, status="running",
        started_at=started.isoformat(), finished_at=None, wall_time_s=None,
        estimate_s=config.estimate_s(), git_commit=commit, git_dirty=git_dirty(),
        machine=provenance.machine(), python=platform.python_version(),
        packages=provenance.packages(),
        model={"profile": config.model, "sha256": predictor.fingerprint, "version": predictor.version},
        settings=Settings(
            profile=p.name, stacks=list(config.stacks), workloads=list(p.workloads),
            users=list(p.users), warmup_s=p.warmup_s, measure_s=p.measure_s, repeats=p.repeats,
            drain_timeout_s=p.drain_timeout_s,
            server_cpus=list(config.server_cpus) if config.server_cpus else None,
            load_cpus=list(config.load_cpus) if config.load_cpus else None,
            locust_workers=config.locust_workers,
            generator_bound_percent=config.generator_bound_percent,
            sample_interval_s=config.sample_interval_s, generator=p.generator,
        ),
        stacks=[],
    )
    writer.write_run(run)
    outcomes: list[StackOutcome] = []
    try:
        for name in config.stacks:
            observer.stack_started(name)
            outcomes.append(_run_stack(name, config, writer, golden, predictor.fingerprint, observer))
            observer.stack_done(outcomes[-1])
            run = run.model_copy(update={"stacks": list(outcomes)})
            writer.write_run(run)
        status = "complete"
    except BaseException:
        status = "interrupted"
        raise
    finally:
        finished = datetime.now(UTC)
        run = run.model_copy(update={
            "stacks": list(outcomes), "status": status, "finished_at": finished.isoformat(),
            "wall_time_s": (finished - started).total_seconds()})
        writer.write_run(run)
    return writer.root, run
