"""The verdict at the top of a run's page: the context in one line, then one line per decision a
reader has to make, each with the number that decided it and what to keep in mind about it.

Every verdict is computed from the run's recorded numbers (and, for overload, the latest
capacity run of the same model), by rules stated here and in docs/reports.md:

- Two stacks tie when the min-max ranges of their repeats overlap; with one repeat a side the
  spread is unknown, so no difference is called and the runner-up is named with its ratio.
- A number flagged when it was measured is never shown without its flag.
- A p99 the sample does not support (trust.py) takes no part in a decision.
- The p99 budget, unless the reader gives one in milliseconds, is P99_BUDGET_FACTOR times the
  lowest p99 any stack had at the run's lowest level: a ratio to this run's own best, not a
  number of milliseconds that would mean something else on another machine.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from servebench.errors import UserError
from servebench.report.fmt import number, percent, ratio
from servebench.report.fmt import users as users_text
from servebench.report.memory import MemoryRow, memory_rows
from servebench.report.stats import Cell, overlaps
from servebench.report.trust import bimodal, cell_support, needed
from servebench.report.view import RunView
from servebench.results.capacity import CapacityRecord, CapacityRun, Overload
from servebench.results.store import Loaded, kind_of, load, result_dirs
from servebench.results.summary import Spread

P99_BUDGET_FACTOR = 10.0
LATENCY_WORKLOAD = "single"  # the workload decisions are read from, when the run has it


@dataclass(frozen=True)
class Decision:
    key: str  # latency, throughput, memory, overload, avoid
    question: str
    answer: str  # the stack (or stacks) it points to, or why none
    evidence: str  # the number that decided it
    caveats: list[str] = field(default_factory=list)
    decided: bool = True


def primary_workload(view: RunView) -> str | None:
    if LATENCY_WORKLOAD in view.workloads:
        return LATENCY_WORKLOAD
    return view.workloads[0] if view.workloads else None


def flag_text(view: RunView, flags: tuple[str, ...]) -> str | None:
    """Flags with their codes, as a caveat: a flagged number never appears without them."""
    definitions = view.loaded.run.judging.flags
    shown = [f"{definitions[f].code} {f.replace('_', ' ')}" if f in definitions else f for f in flags]
    return f"flagged {', '.join(shown)}" if shown else None


def _cell_caveats(view: RunView, cell: Cell) -> list[str]:
    out = []
    if (flags := flag_text(view, cell.flags)):
        out.append(flags)
    if (values := bimodal(cell)):
        out.append("repeats disagree: " + ", ".join(f"{v:,.0f}" for v in values) + " req/s")
    return out


def _ties(best: Spread, others: list[tuple[str, Spread]]) -> tuple[list[str], str | None]:
    """Stacks tied with the best (overlapping ranges), or, with one repeat, why none are called."""
    if best.n < 2:
        return [], "one repeat: spread unknown, no tie or difference called"
    return [s for s, spread in others if spread.n > 1 and overlaps(best, spread)], None


def _answer(winner: str, ties: list[str]) -> str:
    return winner + (f", tied with {', '.join(ties)}" if ties else "")


def _p99_text(cell: Cell) -> str:
    level = cell_support(cell, "p99")
    if cell.p99_ms is None or level == "withheld":
        fewest = min(r.measured.latency.count for r in cell.records)
        return f"p99 withheld ({fewest:,} answers, under {needed(99.0, 'thin'):,})"
    text = f"p99 {number(cell.p99_ms.median, 2)} ms"
    return text + (" (thin tail)" if level == "thin" else "")


def lowest_latency(view: RunView) -> Decision:
    question = "Lowest latency at low load"
    workload = primary_workload(view)
    cells = [c for s in view.measured_stacks for c in view.stack_cells(s, workload or "")[:1]
             if c.p50_ms is not None]
    if not cells or workload is None:
        return Decision("latency", question, "not decided", "no stack was measured", decided=False)
    users = min(c.users for c in cells)
    cells = [c for c in cells if c.users == users]
    best = min(cells, key=lambda c: c.p50_ms.median if c.p50_ms else float("inf"))
    assert best.p50_ms is not None
    others = [(c.stack, c.p50_ms) for c in cells if c is not best and c.p50_ms is not None]
    ties, unknown = _ties(best.p50_ms, others)
    caveats = _cell_caveats(view, best)
    if unknown and others:
        runner = min(others, key=lambda o: o[1].median)
        caveats.append(f"{unknown}; next: {runner[0]} at {ratio(runner[1].median / best.p50_ms.median)}")
    shares = [r.client for r in best.records if r.client is not None]
    if shares:
        floor = statistics.median(s.p50_ms for s in shares)
        caveats.append(f"the harness's own p50 is {number(floor, 2)} ms, "
                       f"{percent(max(s.share for s in shares))} of it")
    evidence = (f"p50 {number(best.p50_ms.median, 2)} ms at {users_text(users)} ({workload}), "
                f"{_p99_text(best)}")
    return Decision("latency", question, _answer(best.stack, ties), evidence, caveats)


def budget_ms(view: RunView, workload: str, given: float | None) -> tuple[float, str] | None:
    """The p99 budget and how it was set."""
    if given is not None:
        return given, f"budget {number(given, 2)} ms, as asked"
    lowest = min(view.users) if view.users else None
    p99s = [c.p99_ms.median for s in view.measured_stacks if (c := view.cell(s, workload, lowest or 0))
            and c.p99_ms is not None and cell_support(c, "p99") != "withheld"]
    if not p99s:
        return None
    best = min(p99s)
    return best * P99_BUDGET_FACTOR, (f"budget {number(best * P99_BUDGET_FACTOR, 2)} ms: "
                                      f"{P99_BUDGET_FACTOR:g}× the lowest p99 at {users_text(lowest or 0)}")


def highest_throughput(view: RunView, given_budget_ms: float | None = None) -> Decision:
    workload = primary_workload(view)
    question = "Highest throughput within a p99 budget"
    budget = budget_ms(view, workload, given_budget_ms) if workload else None
    if workload is None or budget is None:
        return Decision("throughput", question, "not decided", "no supported p99 to set a budget from",
                        decided=False)
    limit, how = budget

    def rate(c: Cell) -> Spread:
        spread = view.rate(c)
        assert spread is not None
        return spread

    within: dict[str, Cell] = {}
    for stack in view.measured_stacks:
        fits = [c for c in view.stack_cells(stack, workload) if c.p99_ms is not None and view.rate(c)
                and cell_support(c, "p99") != "withheld" and c.p99_ms.median <= limit]
        if fits:
            within[stack] = max(fits, key=lambda c: rate(c).median)
    if not within:
        return Decision("throughput", question, "not decided", f"no stack kept its p99 within the {how}",
                        decided=False)
    unit = view.rate_unit(workload)

    best = max(within.values(), key=lambda c: rate(c).median)
    ties, unknown = _ties(rate(best), [(s, rate(c)) for s, c in within.items() if c is not best])
    caveats = _cell_caveats(view, best)
    if unknown and len(within) > 1:
        runner = max((c for c in within.values() if c is not best), key=lambda c: rate(c).median)
        caveats.append(f"{unknown}; next: {runner.stack} at {ratio(rate(runner).median / rate(best).median)}")
    if best.flags:
        clean = [c for c in within.values() if not c.flags]
        if clean:
            other = max(clean, key=lambda c: rate(c).median)
            caveats.append(f"best without a flag: {other.stack}, {number(rate(other).median)} {unit} "
                           f"at {users_text(other.users)}")
    assert best.p99_ms is not None
    evidence = (f"{number(rate(best).median)} {unit} at {users_text(best.users)} ({workload}), "
                f"p99 {number(best.p99_ms.median, 2)} ms; {how}")
    return Decision("throughput", question, _answer(best.stack, ties), evidence, caveats)


def least_memory(view: RunView) -> Decision:
    question = "Least memory per replica"
    rows = memory_rows(view)
    measured: list[tuple[MemoryRow, Spread]] = [(r, r.pss_mb) for r in rows if r.pss_mb is not None]
    if not measured:
        why = ("this run recorded only summed RSS, which counts every shared page once per process; "
               "the memory table shows it, labelled" if rows else "no stack was measured")
        return Decision("memory", question, "not decided", why, decided=False)
    best, pss = min(measured, key=lambda m: m[1].median)
    ties, unknown = _ties(pss, [(r.stack, s) for r, s in measured if r is not best])
    uss = f", USS {number(best.uss_mb.median)} MB" if best.uss_mb else ""
    evidence = (f"PSS {number(pss.median)} MB over {best.processes} process"
                f"{'' if best.processes == '1' else 'es'}{uss}")
    caveats = []
    if unknown and len(measured) > 1:
        runner, theirs = sorted(measured, key=lambda m: m[1].median)[1]
        caveats.append(f"{unknown}; next: {runner.stack} at {ratio(theirs.median / pss.median)}")
    return Decision("memory", question, _answer(best.stack, ties), evidence, caveats)


def latest_capacity(results_dir: Path, model: str) -> Loaded[CapacityRun, CapacityRecord] | None:
    """The newest capacity run that measured this model profile, if results/ holds one."""
    for root in result_dirs(results_dir):
        if kind_of(root) != "capacity":
            continue
        try:
            loaded = load(root, "capacity")
        except UserError:
            continue
        if model in loaded.run.settings.models:
            return loaded
    return None


def _harshest(record: CapacityRecord) -> Overload | None:
    return max(record.overload, key=lambda o: o.factor, default=None)


def most_graceful(view: RunView) -> Decision:
    question = "Most graceful under overload"
    model = view.loaded.run.model.get("profile", "")
    found = latest_capacity(view.loaded.root.parent, model)
    if found is None:
        return Decision("overload", question, "not measured",
                        f"no capacity run of model {model!r} in results/ (`make capacity` measures one)",
                        decided=False)
    rated = []
    for record in found.records:
        if record.model != model or not record.capacity_rps or (hot := _harshest(record)) is None:
            continue
        graceful = hot.valid and not hot.queue_grows and hot.recovery_s is not None
        rated.append((graceful, hot.goodput_rps / record.capacity_rps, record, hot))
    if not rated:
        return Decision("overload", question, "not decided",
                        f"capacity run {found.run.run_id} has no overload measurement of {model!r}",
                        decided=False)
    graceful, kept, record, hot = max(rated, key=lambda r: (r[0], r[1]))
    recovery = f"recovered in {hot.recovery_s:.1f} s" if hot.recovery_s is not None else "did not recover"
    queue = "its queue kept growing" if hot.queue_grows else "its queue stayed bounded"
    evidence = (f"at {hot.factor:g}× its capacity of {number(record.capacity_rps)} req/s it kept "
                f"{number(hot.goodput_rps)} req/s of good answers ({kept * 100:.0f} %), {queue}, {recovery}")
    caveats = [f"from capacity run {found.run.run_id} (open loop, one run: no spread)"]
    if not graceful:
        caveats.append("no stack stayed graceful: this is the best of those that did not")
    if not hot.valid:
        caveats.append("the generator could not keep to the overload schedule: a lower bound")
    if found.run.git_commit != view.loaded.run.git_commit:
        caveats.append(f"measured at commit {str(found.run.git_commit)[:12]}, this run at "
                       f"{str(view.loaded.run.git_commit)[:12]}")
    covered = sorted({r[2].stack for r in rated})
    if set(view.measured_stacks) - set(covered):
        caveats.append(f"covers {', '.join(covered)} only")
    return Decision("overload", question, record.stack, evidence, caveats)


def to_avoid(view: RunView) -> Decision:
    """What the measurements argue against, each with its measured reason."""
    reasons = []
    for stack in view.stacks:
        if view.status(stack) != "ok":
            outcome = view.outcomes.get(stack)
            reasons.append(f"{stack}: {view.status(stack)} ({outcome.reason if outcome else 'not reached'})")
    for stack in view.measured_stacks:
        records = [r for r in view.stack_records if r.stack == stack]
        failed = sum(sum(r.measured.failures.values()) for r in records)
        if failed and view.status(stack) == "ok":
            kinds: dict[str, int] = {}
            for r in records:
                for kind, n in r.measured.failures.items():
                    kinds[kind] = kinds.get(kind, 0) + n
            most = max(kinds, key=lambda k: kinds[k])
            reasons.append(f"{stack}: {failed:,} of {sum(r.measured.requests for r in records):,} answers "
                           f"failed (most: {most})")
    for cell in view.cells.values():
        if (values := bimodal(cell)):
            reasons.append(f"{cell.stack} at {users_text(cell.users)} ({cell.workload}): repeats disagree "
                           f"{max(values) / max(min(values), 1e-9):.1f}× ("
                           + ", ".join(f"{v:,.1f}" for v in values) + " req/s)")
    workload = primary_workload(view)
    if workload and view.users:
        top = max(view.users)
        tails = [(c.stack, c.p99_ms) for s in view.measured_stacks if (c := view.cell(s, workload, top))
                 and c.p99_ms is not None and cell_support(c, "p99") != "withheld"]
        if len(tails) > 1:
            worst = max(tails, key=lambda t: t[1].median)
            best = min(tails, key=lambda t: t[1].median)
            if worst[1].n > 1 and best[1].n > 1 and not overlaps(worst[1], best[1]):
                reasons.append(f"{worst[0]}: highest p99 at {users_text(top)} ({workload}), "
                               f"{number(worst[1].median, 2)} ms, {ratio(worst[1].median / best[1].median)} "
                               f"{best[0]}'s, beyond the repeats' spread")
    if not reasons:
        return Decision("avoid", "What to avoid", "nothing",
                        "no stack failed, erred, disagreed with itself or stood out in its tail",
                        decided=False)
    stacks = list(dict.fromkeys(r.split(":", 1)[0].split(" at ")[0] for r in reasons))
    return Decision("avoid", "What to avoid", ", ".join(stacks), "; ".join(reasons))


def context_line(view: RunView) -> list[str]:
    """Machine, pinning, model and its time per call, generator, measured window."""
    run = view.loaded.run
    s = run.settings
    machine = run.machine
    pinning = (f"server pinned to CPU {','.join(map(str, s.server_cpus))}" if s.server_cpus
               else "server not pinned")
    load = (f"load generator to CPU {','.join(map(str, s.load_cpus))}" if s.load_cpus
            else "load generator not pinned")
    parts = [f"{machine.cores} cores ({machine.cpu_model}), {pinning}, {load}"]
    calls = [r.server_metrics.mean_inference_ms for r in view.stack_records
             if r.users == min(view.users or [0]) and r.workload == primary_workload(view)
             and r.server_metrics and r.server_metrics.mean_inference_ms is not None]
    model = run.model.get("profile", "?")
    if calls:
        model += (f", {number(statistics.median(calls), 2)} ms per model call in the server "
                  f"(median at {users_text(min(view.users))})")
    parts.append(f"model {model}")
    by_workload: dict[str, set[str]] = {}
    for r in view.stack_records:
        by_workload.setdefault(r.generator, set()).add(r.workload)
    used = "; ".join(f"{g} ({', '.join(sorted(w))})" for g, w in sorted(by_workload.items()))
    parts.append(f"generator {used or s.generator}")
    parts.append(f"each number: {s.repeats} repeat{'s' if s.repeats != 1 else ''} in fresh processes × "
                 f"{s.measure_s:g} s measured after {s.warmup_s:g} s warm-up")
    return parts


def decisions(view: RunView, given_budget_ms: float | None = None) -> list[Decision]:
    return [lowest_latency(view), highest_throughput(view, given_budget_ms), least_memory(view),
            most_graceful(view), to_avoid(view)]
