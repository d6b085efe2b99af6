"""Soak: hold each stack at a steady paced rate for minutes and watch memory and tail drift.

Per stack: start pinned -> ready -> verify -> (unless a rate is given) a short closed-loop
probe of its capacity -> paced users at `fraction` of it for `duration_s`, the measured
phase cut into windows -> fits and verdict -> SIGTERM. Iterates the registry's entries it
is given and never names a stack.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from loadtests import drift, sampling
from loadtests.generators import Generator, GeneratorSettings, chosen
from loadtests.generators.base import RemoteWorkers
from loadtests.measure import MeasureSettings, closed_plan, measure, output_of, phase
from loadtests.recorder import Recorder, header_fields
from loadtests.session import External, ModelUnderTest, Session, run_session, topology
from loadtests.soak_windows import build_windows, drift_of, window_flags
from loadtests.workloads import WORKLOADS
from servebench.results.declarations import GENERATOR_BOUND_PERCENT, SOAK_FLAGS
from servebench.results.soak_schema import SoakProcess, SoakRecord, SoakRun, SoakSettings
from servers.process import REPO_ROOT, ExternalServer, Server
from servers.registry import STACKS, Stack

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
    generator: str = "locust"
    sample_interval_s: float = 0.2  # the generator module's Sampler default
    remote_workers: RemoteWorkers | None = None  # Locust workers on other hosts
    server_host: str = "127.0.0.1"  # what the stacks bind (an address the workers reach)
    external: External | None = None  # soak this service instead of starting stacks

    def stack(self, name: str) -> Stack:
        if self.external is not None and name == self.external.label:
            return self.external.stack()
        return STACKS[name]

    @property
    def uss_interval_s(self) -> float:
        return self.window_s / 2  # two readings a window, whatever their phase

    def estimate_s(self) -> float:
        probe = 0.0 if self.rps else 1.0 + self.probe_s
        return len(self.stacks) * (STACK_OVERHEAD_S + probe + self.warmup_s + self.duration_s)


class Namer:
    """The server's process source for the sampler, remembering each pid's name and command."""

    def __init__(self, server: Server) -> None:
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


def _soak_stack(name: str, config: SoakConfig, recorder: Recorder[SoakRun], model: ModelUnderTest,
                generator: Generator) -> SoakRecord:
    stack = config.stack(name)
    log = recorder.root / "logs" / f"{name}.log"
    fields: dict[str, Any] = {
        "record_id": name, "workload": config.workload, "users": config.users,
        "target_rps": config.rps, "target_from": "given" if config.rps else "probe", "probe": None,
        "capacity_rps": None, "generator_commands": [], "opened_at": None, "drained_at": None,
        "requests": 0, "failures": {}, "rps": None, "latency": None, "processes": [], "windows": [],
        "drift": None, "verdict": "failed", "reasons": [], "flags": [], "raw_dir": None,
        "log": str(log.relative_to(recorder.root)),
    }
    flags: list[str] = []
    namers: list[Namer] = []
    generator_settings = GeneratorSettings(config.load_cpus, remote=config.remote_workers)

    def measure_soak(session: Session) -> None:
        namer = Namer(session.server)
        namers.append(namer)
        target = config.rps
        if target is None:
            settings = MeasureSettings(1.0, config.probe_s, config.drain_timeout_s, generator_settings)
            probe = measure(session, generator, config.workload, config.probe_users, 1, settings,
                            recorder.root)
            fields.update(probe=probe, capacity_rps=probe.measured.rps)
            target = config.fraction * probe.measured.rps
            fields["target_rps"] = target
            if probe.flags:
                flags.append("probe_flagged")
            if target <= 0:
                raise session.server.failed("the capacity probe measured no successful answers")
        settings = MeasureSettings(config.warmup_s, config.duration_s, config.drain_timeout_s,
                                   generator_settings)
        plan = closed_plan(session, config.workload, f"soak-{config.workload}", settings).model_copy(
            update={"window_s": config.window_s, "user_rps": target / config.users})
        raw_dir = recorder.root / generator.name / f"{name}__soak"
        fields["raw_dir"] = str(raw_dir.relative_to(recorder.root))
        # An external service tells its own CPU and memory, if it exports process metrics.
        external = isinstance(session.server, ExternalServer)
        source = sampling.server_source(session.server) if external else namer
        driven = generator.closed(plan, config.users, settings.generator, raw_dir, source,
                                  uss_every_s=config.uss_interval_s)
        fields["generator_commands"] = driven.commands
        measured = output_of(driven).phases["measured"]
        whole = phase(measured, config.duration_s)
        windows = build_windows(measured.windows or {}, measured.opened_at, config.duration_s,
                                config.window_s, driven.samples, driven.cpu_samples, config.server_cpus)
        found, verdict, reasons = drift_of(windows, whole.rps)
        fields.update(
            opened_at=measured.opened_at, drained_at=measured.drained_at,
            requests=whole.requests, failures=whole.failures, rps=whole.rps,
            latency=whole.latency, windows=windows, drift=found, verdict=verdict, reasons=reasons,
        )
        flags.extend(window_flags(windows, target, whole.rps, GENERATOR_BOUND_PERCENT))

    ended = run_session(stack, model, config.server_cpus, log, measure_soak, external=config.external,
                        host=config.server_host)
    if ended.failed:
        fields["verdict"] = "failed"
        if fields["windows"]:
            flags.append("server_died")
    processes = {pid: p for namer in namers for pid, p in namer.seen.items()}
    fields["processes"] = [processes[pid] for pid in sorted(processes)]
    fields["flags"] = flags
    return SoakRecord.model_validate({**ended.launch(), **fields})


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def soak(config: SoakConfig, on_stack: Callable[[SoakRecord], None] | None = None,
         ) -> tuple[Path, SoakRun, list[SoakRecord]]:
    """Soak every configured stack in turn; `on_stack(record)` is called after each one."""
    generator = chosen(config.generator, "paced", (WORKLOADS[config.workload],))
    model = ModelUnderTest.load(config.model)
    header = SoakRun(
        **header_fields("soak", [config.stack(n) for n in config.stacks], SOAK_FLAGS, [generator.name],
                        config.estimate_s()),
        load_average={"start": _load()}, model=model.described(),
        settings=SoakSettings(
            stacks=list(config.stacks), workload=config.workload, duration_s=config.duration_s,
            window_s=config.window_s, warmup_s=config.warmup_s,
            fraction=None if config.rps else config.fraction, rps=config.rps, users=config.users,
            probe_users=config.probe_users, probe_s=config.probe_s,
            server_cpus=list(config.server_cpus) if config.server_cpus else None,
            load_cpus=list(config.load_cpus) if config.load_cpus else None,
            sample_interval_s=config.sample_interval_s, uss_interval_s=config.uss_interval_s,
            thresholds=drift.THRESHOLDS.as_dict(),
            topology=topology(config.server_host, config.remote_workers, config.external),
        ),
        stacks=[],
    )
    recorder = Recorder(config.results_dir, header, ("records", "logs", generator.name))
    records: list[SoakRecord] = []
    with recorder.running():
        for name in config.stacks:
            records.append(_soak_stack(name, config, recorder, model, generator))
            recorder.record(records[-1])
            recorder.update(stacks=[r.stack for r in records])
            if on_stack is not None:
                on_stack(records[-1])
        recorder.update(load_average={**recorder.header.load_average, "end": _load()})
    return recorder.root, recorder.header, records
