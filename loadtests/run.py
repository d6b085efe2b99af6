"""The closed-loop run: every selected stack through the same sequence, into one result directory.

First the floor (loadtests/floor.py): each workload x users against a server that answers
without work, so every number of the run carries the harness's own share of it. Then per
stack and repeat, a fresh server process (a session): start pinned -> ready -> verify (in
full the first time, answers and /info after) -> each workload x users, each with its own
recorded warm-up -> stop. Fresh processes per repeat put the process-to-process variation a
user will meet into the repeats' spread. A stack that fails anywhere is recorded with its
reason and log tail, and the run goes on. This module iterates the registry, never names a stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from loadtests.cpus import Pinning
from loadtests.floor import measure_floor
from loadtests.generators import GENERATORS, Generator, GeneratorSettings, chosen
from loadtests.generators.base import RemoteWorkers
from loadtests.measure import MeasureSettings, measure
from loadtests.model_card import describe
from loadtests.recorder import Recorder, header_fields
from loadtests.session import (
    Ended,
    External,
    ModelUnderTest,
    Session,
    Verification,
    run_session,
    topology,
)
from loadtests.workloads import WORKLOADS, RunProfile
from servebench.results.declarations import GENERATOR_BOUND_PERCENT, RUN_FLAGS
from servebench.results.schema import Record, Run, Settings, StackOutcome
from servers.floor import FLOOR_STACK
from servers.process import REPO_ROOT, StackFailed
from servers.registry import STACKS, Stack

# Fixed costs per server process (start, verify, stop) and per measurement beyond its phases,
# measured on a 2-core machine (`make bench-all`, 15 stacks); used only for the printed estimate.
PROCESS_OVERHEAD_S = 6.0  # 1.5 s for the FastAPI stacks, 4-7 s for most peers, 17 s for Ray
GENERATOR_OVERHEAD_S = {"locust": 1.0, "wrk": 0.3}
WORKER_OVERHEAD_S = 3.0


@dataclass(frozen=True)
class RunConfig:
    profile: RunProfile  # effective: CLI overrides already applied
    stacks: tuple[str, ...]
    model: str
    pinning: Pinning
    locust_workers: int = 0
    results_dir: Path = REPO_ROOT / "results"
    sample_interval_s: float = 0.2
    # Locust workers on other hosts; the address the stacks (and the floor) bind so that they
    # reach them.
    remote_workers: RemoteWorkers | None = None
    server_host: str = "127.0.0.1"
    external: External | None = None  # measure this service instead of starting stacks

    def stack(self, name: str) -> Stack:
        if self.external is not None and name == self.external.label:
            return self.external.stack()
        return STACKS[name]

    def generator(self, workload: str) -> Generator:
        return chosen(self.profile.generator, "closed", (WORKLOADS[workload],))

    def measurements(self) -> list[tuple[str, int]]:
        """(workload, users) in the order one server process measures them."""
        return [(w, u) for w in self.profile.workloads for u in self.profile.users]

    def measurement_s(self, workload: str) -> float:
        p = self.profile
        overhead = GENERATOR_OVERHEAD_S.get(self.generator(workload).name, 2.0)
        return p.warmup_s + p.measure_s + overhead + (WORKER_OVERHEAD_S if self.locust_workers else 0.0)

    def estimate_s(self) -> float:
        per_process = PROCESS_OVERHEAD_S + sum(self.measurement_s(w) for w, _ in self.measurements())
        return (len(self.stacks) * self.profile.repeats + 1) * per_process  # + the floor


class Observer:
    """Progress callbacks; the command line shows them, tests ignore them."""

    def stack_started(self, stack: str) -> None: ...
    def measurement_started(self, label: str) -> None: ...
    def measurement_done(self, record: Record | None, seconds: float) -> None: ...
    def stack_done(self, outcome: StackOutcome) -> None: ...


@dataclass
class _Stack:
    records: list[Record] = field(default_factory=list)
    first: Ended | None = None  # the first process's session
    failure: Ended | None = None  # the session that failed, if one did


def _settings(config: RunConfig) -> MeasureSettings:
    p = config.profile
    generator = GeneratorSettings(config.pinning.load, config.locust_workers, config.remote_workers)
    return MeasureSettings(p.warmup_s, p.measure_s, p.drain_timeout_s, generator)


def _measure_stack(name: str, config: RunConfig, recorder: Recorder[Run], model: ModelUnderTest,
                   observer: Observer, floors: dict[tuple[str, int], Record]) -> StackOutcome:
    stack = config.stack(name)
    p = config.profile
    settings = _settings(config)
    state = _Stack()
    log = recorder.root / "logs" / f"{name}.log"
    for repeat in range(1, p.repeats + 1):
        taken: list[Record] = []

        def take(session: Session, repeat: int = repeat, taken: list[Record] = taken) -> None:
            for workload, users in config.measurements():
                observer.measurement_started(f"{workload} x {users} users, repeat {repeat}/{p.repeats}")
                record = measure(session, config.generator(workload), workload, users, repeat, settings,
                                 recorder.root, floor=floors.get((workload, users)))
                taken.append(record)  # kept even if the server died during it
                observer.measurement_done(record, config.measurement_s(workload))
                if not session.server.alive():
                    raise session.server.failed(f"died during {record.record_id}")

        ended = run_session(stack, model, config.pinning.server, log, take,
                            verification=_verification(config, repeat), external=config.external,
                            host=config.server_host)
        for record in taken:  # each record knows how its own process stopped
            state.records.append(record.model_copy(update={"shutdown_s": ended.shutdown_s}))
            recorder.record(state.records[-1])
        state.first = state.first or ended
        if ended.failed:
            state.failure = ended
            break
    assert state.first is not None
    # The first process's start, stop and full verification; the failure's reason, whichever failed.
    launch = state.first.launch()
    if state.failure is not None:
        launch.update(status="failed", reason=state.failure.reason, log_tail=state.failure.log_tail)
    return StackOutcome(**launch, records=[r.record_id for r in state.records],
                        log=str(log.relative_to(recorder.root)))


def _verification(config: RunConfig, repeat: int) -> Verification:
    """In full the first time; an external service's bad inputs only if asked (they are logged
    as errors where it runs)."""
    if repeat > 1 or (config.external is not None and not config.external.bad_inputs):
        return "answers"
    return "full"


def run(config: RunConfig, observer: Observer | None = None) -> tuple[Path, Run]:
    observer = observer or Observer()
    p = config.profile
    generators = sorted({config.generator(w).name for w in p.workloads})
    stacks = [config.stack(name) for name in config.stacks]
    model = ModelUnderTest.load(config.model)
    server_cpus, load_cpus = config.pinning.as_lists()
    header = Run(
        **header_fields("run", stacks, RUN_FLAGS, generators, config.estimate_s()),
        model=model.described(),
        model_cards={model.name: describe(model)},
        settings=Settings(
            profile=p.name, stacks=list(config.stacks), workloads=list(p.workloads), users=list(p.users),
            warmup_s=p.warmup_s, measure_s=p.measure_s, repeats=p.repeats, drain_timeout_s=p.drain_timeout_s,
            server_cpus=None if config.external else server_cpus, load_cpus=load_cpus,
            locust_workers=config.locust_workers,
            generator_bound_percent=GENERATOR_BOUND_PERCENT, sample_interval_s=config.sample_interval_s,
            generator="+".join(generators),
            topology=topology(config.server_host, config.remote_workers, config.external)),
        stacks=[],
        workloads_declared={w: WORKLOADS[w].description for w in p.workloads},
    )
    recorder = Recorder(config.results_dir, header, ("records", "logs", *GENERATORS))
    with recorder.running():
        observer.stack_started(FLOOR_STACK.name)
        ended, floors = measure_floor(config.measurements(), config.generator, model, _settings(config),
                                      config.pinning.server, recorder.root, config.server_host)
        for record in floors.values():
            recorder.record(record.model_copy(update={"shutdown_s": ended.shutdown_s}))
        recorder.update(floor=StackOutcome(**ended.launch(), records=[r.record_id for r in floors.values()],
                                           log=str(ended.log.relative_to(recorder.root))))
        for name in config.stacks:
            observer.stack_started(name)
            outcome = _measure_stack(name, config, recorder, model, observer, floors)
            recorder.update(stacks=[*recorder.header.stacks, outcome])
            observer.stack_done(outcome)
    return recorder.root, recorder.header


__all__ = ["Observer", "RunConfig", "StackFailed", "run"]
