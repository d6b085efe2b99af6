"""A run the size of `make bench-all` (every registered stack, three workloads, three levels, three
repeats), derived in memory from the recorded fixture run: each record is a real one of the
fixture relabelled and its rates scaled per stack, with the memory and timeline that runs of
schema 8 record. Used to check what a full page costs, never what a stack measures."""

from __future__ import annotations

from servebench.results.declarations import colour
from servebench.results.schema import (
    Memory,
    ProcessMemory,
    Record,
    ResourcePoint,
    StackDeclaration,
    Timeline,
    TimelineWindow,
)
from servebench.results.store import LoadedRun
from servers.registry import STACKS

WORKLOADS = ("single", "batch", "seed_mix")
USERS = (1, 8, 64)
REPEATS = 3


def _scaled(record: Record, factor: float) -> Record:
    measured = record.measured
    latency = measured.latency.model_copy(update={
        "percentiles_ms": {k: v / factor for k, v in measured.latency.percentiles_ms.items()}})
    return record.model_copy(update={"measured": measured.model_copy(update={"rps": measured.rps * factor,
                                                                             "latency": latency})})


def _memory(processes: int, factor: float) -> Memory:
    each = [ProcessMemory(pid=1000 + n, name="python", rss_mb=180.0 * factor, uss_mb=120.0 * factor,
                          pss_mb=140.0 * factor) for n in range(processes)]
    return Memory(processes=each, rss_mb=sum(p.rss_mb for p in each), uss_mb=sum(p.uss_mb or 0 for p in each),
                  pss_mb=sum(p.pss_mb or 0 for p in each))


def _timeline(record: Record) -> Timeline:
    window = record.measured.duration_s / 10
    per = max(1, record.measured.requests // 10)
    p50, p99 = (record.measured.latency.percentiles_ms.get(k) for k in ("p50", "p99"))
    return Timeline(
        window_s=window,
        windows=[TimelineWindow(start_s=i * window, duration_s=window, requests=per, failures=0, rows=per,
                                p50_ms=p50, p99_ms=p99, max_ms=p99) for i in range(10)],
        resources=[ResourcePoint(t_s=0.2 * (i + 1), server_cpu_percent=90.0, server_rss_mb=200.0,
                                 generator_cpu_percent=40.0) for i in range(7)])


def full_run(fixture: LoadedRun) -> LoadedRun:
    stacks = list(STACKS)
    base_stacks = fixture.run.settings.stacks
    by_key = {(r.stack, r.workload, r.users, r.repeat): r for r in fixture.records}
    records = []
    for i, stack in enumerate(stacks):
        factor = 0.6 + 0.08 * i
        for workload in WORKLOADS:
            for users in USERS:
                for repeat in range(1, REPEATS + 1):
                    kind = "batch" if workload == "batch" else "single"
                    base = by_key[(base_stacks[i % len(base_stacks)], kind, 1 if users == 1 else 16,
                                   min(repeat, 2))]
                    record = _scaled(base, factor * (1 + 0.03 * repeat)).model_copy(update={
                        "record_id": f"{stack}__{workload}__u{users}__r{repeat}", "stack": stack,
                        "workload": workload, "users": users, "repeat": repeat,
                        "memory": _memory(1 + i % 4, factor), "timeline": None})
                    records.append(record.model_copy(update={"timeline": _timeline(record)}))
    first = fixture.run.stacks[0]
    outcomes = [first.model_copy(update={"stack": s, "title": STACKS[s].title,
                                         "records": [r.record_id for r in records if r.stack == s]})
                for s in stacks]
    declared = {s: StackDeclaration(title=STACKS[s].title, role=STACKS[s].role, tags=list(STACKS[s].tags),
                                    protocol=STACKS[s].protocol.name, colour=colour(i), packages={})
                for i, s in enumerate(stacks)}
    settings = fixture.run.settings.model_copy(update={"stacks": stacks, "workloads": list(WORKLOADS),
                                                       "users": list(USERS), "repeats": REPEATS})
    run = fixture.run.model_copy(update={
        "stacks": outcomes, "stacks_declared": declared, "settings": settings,
        "workloads_declared": {w: f"the {w} workload" for w in WORKLOADS}})
    return LoadedRun(fixture.root, run, records)
