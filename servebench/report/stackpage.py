"""One stack's page within a run: every repeat's values, each measurement over time (answers per
window, CPU and memory per sample), memory per process, its failures and links to the raw files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servebench.report import plots
from servebench.report.export import Table
from servebench.report.failures import StackFailures, stack_failures
from servebench.report.fmt import Shown, number, percent
from servebench.report.leaderboard import marks
from servebench.report.memory import MemoryRow, memory_row
from servebench.report.trust import PERCENTILES, needed, support
from servebench.report.view import RunView
from servebench.results.schema import Record


def page_name(stack: str) -> str:
    return f"stack-{stack}.html"


def _percentile(record: Record, name: str) -> Shown:
    value = record.measured.latency.percentiles_ms.get(name)
    level = support(record.measured.latency.count, PERCENTILES[name])
    if value is None:
        return Shown("–", "", None)
    if level == "withheld":
        return Shown("–", f"under {needed(PERCENTILES[name], 'thin'):,} answers", None, (), "withheld")
    return Shown(number(value, 2), "", value, (), "thin" if level == "thin" else "")


@dataclass(frozen=True)
class RepeatRow:
    record: Record
    answers: int
    failures: int
    rps: float
    rows_per_s: float | None
    percentiles: list[Shown]  # p50 p90 p99 p99.9
    max_ms: float | None
    server_cpu: float | None
    generator_cpu: float | None
    client_share: float | None
    pss_mb: float | None
    uss_mb: float | None
    rss_mb: float | None  # summed
    processes: int | None
    flags: tuple[str, ...]  # their codes
    record_link: str
    raw_link: str


def _link(target: Path, page_dir: Path) -> str:
    return os.path.relpath(target, page_dir)


def repeat_row(view: RunView, record: Record, page_dir: Path) -> RepeatRow:
    m, res, mem = record.measured, record.resources, record.memory
    rows = sum(k.rows for k in m.kinds.values())
    root = view.loaded.root
    return RepeatRow(
        record=record, answers=m.requests, failures=sum(m.failures.values()), rps=m.rps,
        rows_per_s=rows / m.duration_s if m.duration_s > 0 and "batch" in m.kinds else None,
        percentiles=[_percentile(record, n) for n in PERCENTILES], max_ms=m.latency.percentiles_ms.get("max"),
        server_cpu=res.server_cpu_percent if res else None,
        generator_cpu=res.generator_max_process_cpu_percent if res else None,
        client_share=record.client.share if record.client else None,
        pss_mb=mem.pss_mb if mem else None, uss_mb=mem.uss_mb if mem else None,
        rss_mb=mem.rss_mb if mem else (res.server_rss_mb if res else None),
        processes=len(mem.processes) if mem else (res.server_processes if res else None),
        flags=marks(view.loaded.run.judging.flags, tuple(record.flags)),
        record_link=_link(root / "records" / f"{record.record_id}.json", page_dir),
        raw_link=_link(root / record.raw_dir, page_dir))


def repeats_table(rows: list[RepeatRow], stack: str) -> Table:
    header = ["workload", "users", "repeat", "answers", "failures", "req/s", "rows/s", *PERCENTILES,
              "max ms", "server CPU %", "generator CPU % (busiest process)", "harness share of p50",
              "PSS MB", "USS MB", "RSS MB (summed)", "processes", "flags", "record"]
    return Table(f"stack-{stack}-measurements", header, [
        [r.record.workload, r.record.users, r.record.repeat, r.answers, r.failures, round(r.rps, 3),
         round(r.rows_per_s, 3) if r.rows_per_s is not None else None,
         *[p.sort if p.state != "withheld" else None for p in r.percentiles], r.max_ms,
         _round(r.server_cpu), _round(r.generator_cpu), _round(r.client_share, 4), _round(r.pss_mb),
         _round(r.uss_mb), _round(r.rss_mb), r.processes, " ".join(r.record.flags), r.record.record_id]
        for r in rows])


def _round(value: float | None, digits: int = 2) -> float | None:
    return round(value, digits) if value is not None else None


def processes_table(memory: MemoryRow | None, stack: str) -> Table:
    return Table(f"stack-{stack}-processes", ["process", "pid", "RSS MB", "USS MB", "PSS MB"],
                 [[name, pid, _round(rss), _round(uss), _round(pss)]
                  for name, pid, rss, uss, pss in (memory.per_process if memory else ())])


@dataclass(frozen=True)
class Timeline:
    workload: str
    plot: str | None
    note: str  # what is not drawn, and why


def timelines(view: RunView, stack: str) -> list[Timeline]:
    """One figure per workload: every level and repeat of the stack over its measured phase."""
    out = []
    for workload in view.workloads:
        records = [r for c in view.stack_cells(stack, workload) for r in c.records]
        if not records:
            continue
        missing = [r for r in records if r.timeline is None]
        unwindowed = [r for r in records if r.timeline is not None and r.timeline.window_s is None]
        note = ""
        if missing:
            note = "not recorded: this run predates timelines (result schema 8)"
        elif unwindowed:
            note = (f"{unwindowed[0].generator} hands its latencies over once per run: CPU and memory per "
                    "sample only")
        plot = plots.measurement_timeline(view, stack, workload) if len(missing) < len(records) else None
        out.append(Timeline(workload, plot, note))
    return out


def stack_context(view: RunView, stack: str, page_dir: Path) -> dict[str, Any]:
    run = view.loaded.run
    records = sorted((r for r in view.stack_records if r.stack == stack),
                     key=lambda r: (view.workloads.index(r.workload) if r.workload in view.workloads else 99,
                                    r.users, r.repeat))
    rows = [repeat_row(view, r, page_dir) for r in records]
    memory = memory_row(view, stack)
    failures: StackFailures = stack_failures(view, stack, page_dir)
    outcome = view.outcomes.get(stack)
    declared = run.stacks_declared.get(stack)
    tables = {t.name: t for t in (repeats_table(rows, stack), processes_table(memory, stack))}
    root = view.loaded.root
    return {
        "run": run, "stack": stack, "title": view.title(stack), "status": view.status(stack),
        "outcome": outcome, "declared": declared, "rows": rows, "memory": memory, "failures": failures,
        "timelines": timelines(view, stack),
        "distributions": [(w, plots.stack_distribution(view, stack, w)) for w in view.workloads
                          if view.stack_cells(stack, w)],
        "tables": tables, "percentiles": list(PERCENTILES), "percent": percent,
        "links": {"run": _link(root / "run.json", page_dir), "records": _link(root / "records", page_dir),
                  "log": failures.log or (_link(root / outcome.log, page_dir) if outcome else None)},
        "marks": {code: run.judging.flags[f].meaning for r in records for f in r.flags
                  if f in run.judging.flags for code in [run.judging.flags[f].code]},
        "colour": plots.colour(view, stack),
    }
