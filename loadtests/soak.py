"""Soak: hold each stack at a steady paced rate for minutes and watch memory and tail drift.

Per stack: start pinned -> ready -> verify -> (unless a rate is given) a short closed-loop
probe of its capacity -> paced users at `fraction` of it for `duration_s`, the measured
phase cut into windows -> fits and verdict -> SIGTERM. Iterates the registry's entries it
is given and never names a stack.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from loadtests import drift, provenance
from loadtests.generator import GeneratorSettings, run_locust
from loadtests.measure import MeasureSettings, locust_plan, measure, phase
from loadtests.orchestrate import run_id
from loadtests.soak_windows import build_windows, drift_of, window_flags
from loadtests.verify import verify
from servebench.provenance import git_commit, git_dirty
from servebench.results.schema import SCHEMA_VERSION, Check, Record
from servebench.results.soak_schema import SoakProcess, SoakRecord, SoakRun, SoakSettings, SoakWriter
from servers.process import REPO_ROOT, ServerProcess, StackFailed, tail
from servers.registry import STACKS
from shared_model.cases import GoldenCase, golden_cases
from shared_model.predictor import Predictor
from shared_model.profiles import PROFILES

STACK_OVERHEAD_S = 15.0  # start, verify, Locust start-up twice, stop: for the printed estimate


@dataclass(frozen=True)
class SoakConfig:
    stacks: tuple[str, ...]
    model: str = "default"
    workload: str = "single"
    duration_s: float = 600.0
    window_s: float = 10.0
    warmup_s: float = 10.0
    fraction: float = 0.5  # of the probed closed-loop capacity
    rps: float | None = None  # a given rate instead of the probe
    users: int = 16  # paced users sharing the target rate
    probe_users: int = 16
    probe_s: float = 3.0
    server_cpus: tuple[int, ...] | None = None
    load_cpus: tuple[int, ...] | None = None
    results_dir: Path = REPO_ROOT / "results"
    drain_timeout_s: float = 30.0
    generator_bound_percent: float = 90.0
    sample_interval_s: float = 0.2  # the generator module's Sampler default

    @property
    def uss_interval_s(self) -> float:
        return self.window_s / 2  # two readings a window, whatever their phase

    def estimate_s(self) -> float:
        probe = 0.0 if self.rps else 1.0 + self.probe_s
        return len(self.stacks) * (STACK_OVERHEAD_S + probe + self.warmup_s + self.duration_s)


class Namer:
    """The server's process source for the sampler, remembering each pid's name and command."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.seen: dict[int, SoakProcess] = {}

    def __call__(self) -> list[psutil.Process]:
        processes = self.server.processes()
        for process in processes:
            if process.pid not in self.seen:
                try:
                    self.seen[process.pid] = SoakProcess(
                        pid=process.pid, name=process.name(), cmdline=" ".join(process.cmdline())[:300])
                except psutil.Error:
                    continue
        return processes


def _probe(server: ServerProcess, config: SoakConfig, golden: Sequence[GoldenCase], root: Path,
           ready_s: float) -> Record:
    settings = MeasureSettings(1.0, config.probe_s, config.drain_timeout_s,
                               GeneratorSettings(config.load_cpus), config.generator_bound_percent)
    return measure(server, config.workload, config.probe_users, 1, golden, settings, root, ready_s)


def _soak_stack(name: str, config: SoakConfig, writer: SoakWriter, golden: Sequence[GoldenCase],
                fingerprint: str) -> SoakRecord:
    stack = STACKS[name]
    log = writer.root / "logs" / f"{name}.log"
    server = ServerProcess(stack, cpus=config.server_cpus, env={"SERVEBENCH_MODEL": config.model},
                           log_path=log)
    fields: dict[str, object] = {
        "stack": name, "title": stack.title, "status": "ok", "reason": None, "log_tail": None,
        "knobs": dict(stack.knobs), "command": server.command(), "time_to_ready_s": None,
        "shutdown_s": None, "checks": [], "workload": config.workload, "users": config.users,
        "target_rps": config.rps, "target_from": "given" if config.rps else "probe", "probe": None,
        "capacity_rps": None, "locust_commands": [], "opened_at": None, "drained_at": None,
        "requests": 0, "failures": {}, "rps": None, "latency": None, "processes": [], "windows": [],
        "drift": None, "verdict": "failed", "reasons": [], "flags": [], "raw_dir": None,
        "log": str(log.relative_to(writer.root)),
    }
    namer = Namer(server)
    flags: list[str] = []
    try:
        server.start()
        ready_s = fields["time_to_ready_s"] = server.wait_ready()
        checks = [Check(name=c.name, ok=c.ok, detail=c.detail)
                  for c in verify(server.url, stack, golden, config.model, fingerprint)]
        fields["checks"] = checks
        failed = [c for c in checks if not c.ok]
        if failed:
            raise server.failed("verification failed: " + "; ".join(f"{c.name} ({c.detail})"
                                                                     for c in failed[:5]))
        target = config.rps
        if target is None:
            probe = _probe(server, config, golden, writer.root, ready_s)
            fields.update(probe=probe, capacity_rps=probe.measured.rps)
            target = config.fraction * probe.measured.rps
            fields["target_rps"] = target
            if probe.flags:
                flags.append("probe_flagged")
            if target <= 0:
                raise server.failed("the capacity probe measured no successful answers")
        settings = MeasureSettings(config.warmup_s, config.duration_s, config.drain_timeout_s,
                                   GeneratorSettings(config.load_cpus))
        plan = locust_plan(server, config.workload, f"soak-{config.workload}", golden, settings,
                           window_s=config.window_s, user_rps=target / config.users)
        raw_dir = writer.root / "locust" / f"{name}__soak"
        fields["raw_dir"] = str(raw_dir.relative_to(writer.root))
        run = run_locust(plan, config.users, settings.generator, raw_dir, namer,
                         server_uss_every_s=config.uss_interval_s)
        fields["locust_commands"] = run.commands
        if run.output is None:
            logs = sorted(raw_dir.glob("*.log"))
            raise StackFailed(name, "the load generator gave no result" + (
                " (timed out)" if run.timed_out else f" (exit codes {run.exit_codes})"),
                tail(logs[0]) if logs else "")
        measured = run.output["phases"]["measured"]
        whole = phase(measured, config.duration_s)
        windows = build_windows(measured["windows"] or {}, measured["opened_at"], config.duration_s,
                                config.window_s, run.samples, run.cpu_samples, config.server_cpus)
        found, verdict, reasons = drift_of(windows, whole.rps)
        fields.update(
            opened_at=measured["opened_at"], drained_at=measured["drained_at"],
            requests=whole.requests, failures=whole.failures, rps=whole.rps,
            latency=whole.latency, windows=windows, drift=found, verdict=verdict, reasons=reasons,
        )
        flags += window_flags(windows, target, whole.rps, config.generator_bound_percent)
        if not server.alive():
            raise server.failed("exited during the soak")
    except StackFailed as error:
        fields.update(status="failed", reason=error.reason, log_tail=error.log_tail)
        if fields["windows"]:
            flags.append("server_died")
    except Exception as error:  # an orchestrator fault must not cost the other stacks
        fields.update(status="failed", reason=f"{type(error).__name__}: {error}", log_tail=tail(log))
    finally:
        if server.proc is not None:
            fields["shutdown_s"] = server.stop()
    fields["processes"] = sorted(namer.seen.values(), key=lambda p: p.pid)
    fields["flags"] = flags
    if fields["status"] == "failed":
        fields["verdict"] = "failed"
    return SoakRecord.model_validate(fields)


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def soak(config: SoakConfig, on_stack: Callable[[SoakRecord], None] | None = None,
         ) -> tuple[Path, SoakRun, list[SoakRecord]]:
    """Soak every configured stack in turn; `on_stack(record)` is called after each one."""
    started = datetime.now(UTC)
    commit = git_commit()
    writer = SoakWriter(config.results_dir,
                        run_id(commit if commit != "unknown" else None, started) + "-soak")
    predictor = Predictor.load(PROFILES[config.model])
    golden = golden_cases(predictor)
    run = SoakRun(
        schema_version=SCHEMA_VERSION, run_id=writer.root.name, status="running",
        started_at=started.isoformat(), finished_at=None, wall_time_s=None, git_commit=commit,
        git_dirty=git_dirty(), machine=provenance.machine(), load_average={"start": _load()},
        python=platform.python_version(), packages=provenance.packages(),
        model={"profile": config.model, "sha256": predictor.fingerprint, "version": predictor.version},
        settings=SoakSettings(
            stacks=list(config.stacks), workload=config.workload, duration_s=config.duration_s,
            window_s=config.window_s, warmup_s=config.warmup_s,
            fraction=None if config.rps else config.fraction, rps=config.rps, users=config.users,
            probe_users=config.probe_users, probe_s=config.probe_s,
            server_cpus=list(config.server_cpus) if config.server_cpus else None,
            load_cpus=list(config.load_cpus) if config.load_cpus else None,
            sample_interval_s=config.sample_interval_s, uss_interval_s=config.uss_interval_s,
            thresholds=drift.THRESHOLDS.as_dict(),
        ),
        stacks=[],
    )
    writer.write_soak(run)
    records: list[SoakRecord] = []
    status = "interrupted"
    try:
        for name in config.stacks:
            records.append(_soak_stack(name, config, writer, golden, predictor.fingerprint))
            writer.write_stack(records[-1])
            run = run.model_copy(update={"stacks": [r.stack for r in records]})
            writer.write_soak(run)
            if on_stack is not None:
                on_stack(records[-1])
        status = "complete"
    finally:
        finished = datetime.now(UTC)
        run = run.model_copy(update={
            "status": status, "finished_at": finished.isoformat(),
            "wall_time_s": (finished - started).total_seconds(),
            "load_average": {**run.load_average, "end": _load()}})
        writer.write_soak(run)
    return writer.root, run, records
