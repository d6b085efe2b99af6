"""Memory per replica: what one server process tree of each stack holds, counted so that stacks
with one process and stacks with several compare fairly.

Summed RSS counts a page shared by n processes n times (a forked worker's copy of the model, the
interpreter's libraries), so a stack of four processes looks four times heavier than it is.
Since schema 8 each measurement reads the tree's smaps once, right after its measured phase:
PSS (each shared page split among the processes that map it, so the tree's sum counts it once)
is what a replica costs; USS (pages no other process maps) is what stopping it would free.
A replica's memory is its highest reading over the measurements one process made; the spread
is over the repeats' processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from servebench.report.view import RunView
from servebench.results.schema import Memory, Record
from servebench.results.summary import Spread


@dataclass(frozen=True)
class MemoryRow:
    stack: str
    processes: str  # the tree's process count as read ("3", or a range when it changed)
    pss_mb: Spread | None  # over the repeats' processes, each its highest reading
    uss_mb: Spread | None
    rss_mb: Spread | None  # summed RSS (shared pages counted once per process)
    per_process: tuple[tuple[str, int, float, float | None, float | None], ...]  # name, pid, rss, uss, pss
    read_after_phase: bool  # smaps read after each measured phase (schema 8); else sampled RSS only


def _count(counts: Sequence[int]) -> str:
    seen = sorted(set(counts))
    if not seen:
        return "–"
    return str(seen[0]) if len(seen) == 1 else f"{seen[0]}–{seen[-1]}"


def _peak(records: Sequence[Record]) -> Memory | None:
    """The reading with the highest PSS (or RSS, where PSS is unknown) of one process's records."""
    readings = [r.memory for r in records if r.memory is not None]
    return max(readings, key=lambda m: m.pss_mb if m.pss_mb is not None else m.rss_mb, default=None)


def memory_row(view: RunView, stack: str) -> MemoryRow | None:
    records = [r for r in view.stack_records if r.stack == stack]
    if not records:
        return None
    repeats = sorted({r.repeat for r in records})
    peaks = [m for rep in repeats if (m := _peak([r for r in records if r.repeat == rep])) is not None]
    if peaks:
        first = peaks[0]
        return MemoryRow(
            stack=stack, processes=_count([len(m.processes) for m in peaks]),
            pss_mb=Spread.of([m.pss_mb for m in peaks if m.pss_mb is not None]),
            uss_mb=Spread.of([m.uss_mb for m in peaks if m.uss_mb is not None]),
            rss_mb=Spread.of([m.rss_mb for m in peaks]),
            per_process=tuple((p.name, p.pid, p.rss_mb, p.uss_mb, p.pss_mb) for p in first.processes),
            read_after_phase=True)
    # Summed RSS as sampled while measuring; unknown for a service servebench did not start.
    by_repeat = [max((rss for r in records if r.repeat == rep and r.resources
                      and (rss := r.resources.server_rss_mb) is not None), default=None) for rep in repeats]
    return MemoryRow(
        stack=stack, processes=_count([n for r in records if r.resources
                                       and (n := r.resources.server_processes) is not None]),
        pss_mb=None, uss_mb=None,
        rss_mb=Spread.of([v for v in by_repeat if v is not None]), per_process=(), read_after_phase=False)


def memory_rows(view: RunView) -> list[MemoryRow]:
    """Every measured stack, least proportional memory (else summed RSS) first."""
    rows = [row for s in view.measured_stacks if (row := memory_row(view, s)) is not None]

    def key(row: MemoryRow) -> float:
        spread = row.pss_mb or row.rss_mb
        return spread.median if spread else float("inf")

    return sorted(rows, key=key)
