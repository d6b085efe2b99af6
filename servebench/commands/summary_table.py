"""The terminal summary of a run directory: medians over repeats with min-max spread."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from servebench.results.schema import FLOOR
from servebench.results.store import load_run
from servebench.results.summary import Spread, summarize


def _fmt(spread: Spread | None, digits: int) -> str:
    if spread is None:
        return "-"
    if spread.n == 1:
        return f"{spread.median:.{digits}f}"
    return f"{spread.median:.{digits}f} ({spread.low:.{digits}f}-{spread.high:.{digits}f})"


def print_summary(console: Console, root: Path) -> None:
    loaded = load_run(root)
    run = loaded.run
    flags = run.judging.flags
    table = Table(title=f"{run.run_id}: model {run.model['profile']}, profile {run.settings.profile}, "
                  f"median (min-max) of {run.settings.repeats} repeat(s)")
    for column in ("stack", "workload", "users", "req/s", "p50 ms", "p99 ms", "server CPU %", "errors",
                   "flags"):
        table.add_column(column, justify="left" if column in ("stack", "workload", "flags") else "right")
    rows = summarize(r for r in loaded.records if r.stack != FLOOR)
    for row in rows:
        table.add_row(row.stack, row.workload, str(row.users), _fmt(row.rps, 0), _fmt(row.p50_ms, 2),
                      _fmt(row.p99_ms, 2), _fmt(row.server_cpu_percent, 0), f"{row.failures}/{row.requests}",
                      "".join(flags[f].code if f in flags else f"[{f}]" for f in row.flags))
    for outcome in run.stacks:
        if outcome.status == "failed":
            table.add_row(outcome.stack, "-", "-", "-", "-", "-", "-", "-", f"FAILED: {outcome.reason}")
    console.print(table)
    for flag in sorted({flag for row in rows for flag in row.flags}):
        code, meaning = (flags[flag].code, flags[flag].meaning) if flag in flags else ("?", "")
        console.print(f"  {code} {flag}: {meaning}", highlight=False)
