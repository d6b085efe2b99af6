"""The leaderboard: one row per stack for one workload, every concurrency level side by side."""

from __future__ import annotations

from dataclasses import dataclass, replace

from servebench.report.fmt import Shown, percent, plain, shown
from servebench.report.memory import memory_row
from servebench.report.stats import Cell
from servebench.report.trust import cell_support, needed
from servebench.report.view import RunView
from servebench.results.schema import Flag


def mark(definitions: dict[str, Flag], flag: str) -> str:
    """The flag's one-letter code, as the run defined it, shown next to the numbers it puts in doubt."""
    return definitions[flag].code if flag in definitions else flag


def marks(definitions: dict[str, Flag], flags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(mark(definitions, flag) for flag in flags)


@dataclass(frozen=True)
class LeaderRow:
    stack: str
    title: str
    status: str  # ok, failed, not run
    reason: str | None
    peak: Shown  # in the workload's unit: rows/s for batches, else req/s
    peak_users: int | None
    p50: list[Shown]  # one per level in RunView.users
    p99: list[Shown]
    error_rate: Shown
    cpu_s_per_1k: Shown  # at the peak level
    memory_mb: Shown  # PSS per replica where recorded, else summed RSS (labelled as such)
    ready_s: Shown


def percentile_shown(view: RunView, cell: Cell, name: str) -> Shown:
    """A cell's percentile with its support: greyed when thin, withheld (a dash, and why) when
    the thinnest repeat has less than one answer beyond it."""
    value = shown(getattr(cell, f"{name}_ms"), 2, marks(view.loaded.run.judging.flags, cell.flags))
    level = cell_support(cell, name)
    fewest = min(r.measured.latency.count for r in cell.records)
    if level == "withheld":
        why = f"{fewest:,} answers: under {needed(99.0, 'thin'):,}"
        return Shown("–", why, None, value.marks, "withheld")
    if level == "thin":
        return replace(value, state="thin")
    return value


def best_cell(view: RunView, cells: list[Cell]) -> Cell | None:
    """The level with the highest median throughput in the workload's unit."""
    rated = [(c, r) for c in cells if (r := view.rate(c)) is not None]
    return max(rated, key=lambda cr: cr[1].median, default=(None, None))[0]


def row(view: RunView, stack: str, workload: str) -> LeaderRow:
    cells = view.stack_cells(stack, workload)
    by_users = {c.users: c for c in cells}
    best = best_cell(view, cells)
    requests = sum(c.requests for c in cells)
    failures = sum(c.failures for c in cells)
    rate = failures / requests if requests else None
    memory = memory_row(view, stack)
    held = (memory.pss_mb or memory.rss_mb) if memory else None
    outcome = view.outcomes.get(stack)
    ready = outcome.time_to_ready_s if outcome else None

    def level(users: int, name: str) -> Shown:
        found = by_users.get(users)
        return percentile_shown(view, found, name) if found is not None else Shown("–", "", None)

    peak = view.rate(best) if best else None
    return LeaderRow(
        stack=stack, title=view.title(stack), status=view.status(stack),
        reason=outcome.reason if outcome else "the run ended before this stack",
        peak=(shown(peak, 0, marks(view.loaded.run.judging.flags, best.flags)) if best and peak
              else Shown("–", "", None)),
        peak_users=best.users if best else None,
        p50=[level(u, "p50") for u in view.users], p99=[level(u, "p99") for u in view.users],
        error_rate=Shown(percent(rate), f"{failures:,}/{requests:,}" if requests else "", rate),
        cpu_s_per_1k=shown(best.cpu_s_per_1k, 2) if best else Shown("–", "", None),
        memory_mb=Shown(f"{held.median:,.0f}", f"{memory.processes} proc" if memory else "", held.median)
        if held else Shown("–", "", None),
        ready_s=plain(ready, 2, " s"),
    )


def leaderboard(view: RunView, workload: str) -> list[LeaderRow]:
    """Measured stacks by peak throughput, best first; failed or unreached stacks last, still shown."""
    rows = [row(view, stack, workload) for stack in view.stacks]
    return sorted(rows, key=lambda r: (r.peak.sort is None, -(r.peak.sort or 0.0)))
