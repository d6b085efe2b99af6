"""The leaderboard: one row per stack for one workload, every concurrency level side by side."""

from __future__ import annotations

from dataclasses import dataclass

from servebench.report.fmt import Shown, percent, plain, shown
from servebench.report.stats import peak
from servebench.report.view import RunView
from servebench.results.schema import Flag
from servebench.results.summary import Spread


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
    peak: Shown
    peak_users: int | None
    p50: list[Shown]  # one per level in RunView.users
    p99: list[Shown]
    error_rate: Shown
    cpu_s_per_1k: Shown  # at the peak level
    rss_mb: Shown
    ready_s: Shown


def row(view: RunView, stack: str, workload: str) -> LeaderRow:
    cells = view.stack_cells(stack, workload)
    by_users = {c.users: c for c in cells}
    best = peak(cells)
    requests = sum(c.requests for c in cells)
    failures = sum(c.failures for c in cells)
    rate = failures / requests if requests else None
    rss = Spread.of([c.rss_mb.high for c in cells if c.rss_mb is not None])
    outcome = view.outcomes.get(stack)
    ready = outcome.time_to_ready_s if outcome else None

    def level(users: int, name: str) -> Shown:
        found = by_users.get(users)
        if found is None:
            return Shown("–", "", None)
        return shown(getattr(found, name), 2, marks(view.loaded.run.judging.flags, found.flags))

    return LeaderRow(
        stack=stack, title=view.title(stack), status=view.status(stack),
        reason=outcome.reason if outcome else "the run ended before this stack",
        peak=(shown(best.rps, 0, marks(view.loaded.run.judging.flags, best.flags)) if best
              else Shown("–", "", None)),
        peak_users=best.users if best else None,
        p50=[level(u, "p50_ms") for u in view.users], p99=[level(u, "p99_ms") for u in view.users],
        error_rate=Shown(percent(rate), f"{failures:,}/{requests:,}" if requests else "", rate),
        cpu_s_per_1k=shown(best.cpu_s_per_1k, 2) if best else Shown("–", "", None),
        rss_mb=Shown(f"{rss.high:,.0f}", "peak", rss.high) if rss else Shown("–", "", None),
        ready_s=plain(ready, 2, " s"),
    )


def leaderboard(view: RunView, workload: str) -> list[LeaderRow]:
    """Measured stacks by peak throughput, best first; failed or unreached stacks last, still shown."""
    rows = [row(view, stack, workload) for stack in view.stacks]
    return sorted(rows, key=lambda r: (r.peak.sort is None, -(r.peak.sort or 0.0)))
