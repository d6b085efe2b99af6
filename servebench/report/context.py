"""A run's page as data: a pure function from result records to the template's context."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from servebench.report import plots
from servebench.report.ceiling import CeilingRow, ceiling_rows
from servebench.report.claims import ClaimCheck, check_claims
from servebench.report.export import Table, spread, values
from servebench.report.failures import StackFailures, failures
from servebench.report.fmt import number, percent
from servebench.report.fmt import users as users_text
from servebench.report.leaderboard import LeaderRow, leaderboard, mark
from servebench.report.memory import MemoryRow, memory_rows
from servebench.report.model import failed_verification, model_sections
from servebench.report.parity import ParityRow, load_generator, parity
from servebench.report.ratios import MatrixRow, matrix, reference_stack
from servebench.report.robustness import MatrixRow as RobustnessRow
from servebench.report.robustness import groups, robustness
from servebench.report.stackpage import page_name
from servebench.report.targets import Judged, judge_targets
from servebench.report.trust import BIMODAL_FACTOR, TAIL_ANSWERS, WINDOW_TAILS, Trust, needed, trust
from servebench.report.verdict import P99_BUDGET_FACTOR, context_line, decisions, flag_text, primary_workload
from servebench.report.view import RunView
from servebench.results.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class FlaggedRow:
    """A stack's flagged measurements, counted by flag; each one is listed on the stack's page."""

    stack: str
    flagged: int
    measurements: int
    by_flag: list[tuple[str, str, int]]  # code, flag, measurements carrying it
    generator_cpu: float | None  # the busiest generator process over the flagged measurements
    server_cpus_busy: float | None  # the busiest the server's CPUs were (all processes)


def _flagged(view: RunView, stack: str) -> FlaggedRow | None:
    records = [r for r in view.stack_records if r.stack == stack]
    flagged = [r for r in records if r.flags]
    if not flagged:
        return None
    definitions = view.loaded.run.judging.flags
    counts: dict[str, int] = {}
    for record in flagged:
        for flag in record.flags:
            counts[flag] = counts.get(flag, 0) + 1
    generator = [r.resources.generator_max_process_cpu_percent for r in flagged if r.resources]
    busy = [b for r in flagged if r.resources and (b := r.resources.server_cpus_busy_percent) is not None]
    by_flag = [(mark(definitions, f), f, n) for f, n in sorted(counts.items(), key=lambda kv: -kv[1])]
    return FlaggedRow(stack, len(flagged), len(records), by_flag, max(generator, default=None),
                      max(busy, default=None))


def _by_stack(judged: list[Judged]) -> list[tuple[str, list[Judged]]]:
    grouped: dict[str, list[Judged]] = {}
    for j in judged:
        grouped.setdefault(j.stack, []).append(j)
    return list(grouped.items())


def headline(view: RunView) -> str:
    """One line for the index: the best peak throughput on the run's first workload, with the
    flags of the cell it comes from (a flagged number never stands without them)."""
    workload = view.workloads[0] if view.workloads else None
    best = max((c for c in view.cells.values() if view.rate(c) is not None and c.workload == workload),
               key=lambda c: rate.median if (rate := view.rate(c)) else 0.0, default=None)
    failed = [s for s in view.stacks if view.status(s) != "ok"]
    peak = view.rate(best) if best else None
    text = "nothing measured"
    if best and peak and workload:
        text = (f"{workload}: {best.stack} peaks at {peak.median:,.0f} {view.rate_unit(workload)} "
                f"({users_text(best.users)})")
        if (flags := flag_text(view, best.flags)):
            text += f" [{flags}]"
    return text + (f"; failed: {', '.join(failed)}" if failed else "")


@dataclass(frozen=True)
class TrustCell:
    """One cell (stack x users) with everything that says how far to trust its numbers."""

    users: int
    rate: float | None  # median, in the workload's unit
    p50: float | None
    p99: float | None
    trust: Trust
    flags: str  # codes

    @property
    def fewest(self) -> int:
        return min(self.trust.answers, default=0)


@dataclass(frozen=True)
class TrustRow:
    stack: str
    cells: list[TrustCell | None]  # one per level in RunView.users
    notes: list[str]  # "1u: bimodal repeats ..."


def _trust_row(view: RunView, stack: str, workload: str) -> TrustRow:
    cells: list[TrustCell | None] = []
    levels: dict[str, list[str]] = {}  # note -> the levels it applies to
    for users in view.users:
        cell = view.cell(stack, workload, users)
        if cell is None:
            cells.append(None)
            continue
        t = trust(cell)
        rate = view.rate(cell)
        cells.append(TrustCell(users, rate.median if rate else None,
                               cell.p50_ms.median if cell.p50_ms else None,
                               cell.p99_ms.median if cell.p99_ms else None, t,
                               " ".join(mark(view.loaded.run.judging.flags, f) for f in cell.flags)))
        for note in t.notes:
            if not note.startswith("p99 "):  # greyed in the cell instead
                levels.setdefault(note, []).append(f"{users}u")
    notes = [f"{', '.join(at)}: {note}" for note, at in levels.items()]  # one line per note, its levels
    return TrustRow(stack, cells, notes)


def _leaderboard_table(view: RunView, workload: str, rows: list[LeaderRow]) -> Table:
    unit = view.rate_unit(workload)
    header = ["stack", "status", f"peak {unit}", "at users",
              *[f"p50 ms {u}u" for u in view.users], *[f"p99 ms {u}u" for u in view.users],
              "error rate", "CPU-s per 1k requests at peak", "memory MB", "ready s"]
    return Table(f"leaderboard-{workload}", header, [
        [r.stack, r.status, r.peak.sort, r.peak_users, *[v.sort for v in r.p50], *[v.sort for v in r.p99],
         r.error_rate.sort, r.cpu_s_per_1k.sort, r.memory_mb.sort, r.ready_s.sort] for r in rows])


def _trust_table(view: RunView, workload: str, rows: list[TrustRow]) -> Table:
    unit = view.rate_unit(workload)
    header = ["stack", "users", "answers per repeat", f"{unit} median", "p50 ms", "p99 ms", "p99 support",
              "generator CPU % (busiest process, highest repeat)", "harness share of p50 (highest repeat)",
              "flags", "notes"]
    return Table(f"cells-{workload}", header, [
        [r.stack, c.users, " ".join(str(a) for a in c.trust.answers), c.rate, c.p50, c.p99, c.trust.p99,
         round(c.trust.generator_cpu, 1) if c.trust.generator_cpu is not None else None,
         round(c.trust.client_share, 4) if c.trust.client_share is not None else None, c.flags,
         "; ".join(c.trust.notes)] for r in rows for c in r.cells if c is not None])


def _matrix_table(view: RunView, workload: str, reference: str, rows: list[MatrixRow]) -> Table:
    header = ["stack", *[f"throughput ratio {u}u" for u in view.users],
              *[f"throughput standing {u}u" for u in view.users],
              *[f"p99 ratio {u}u" for u in view.users], *[f"p99 standing {u}u" for u in view.users]]
    return Table(f"ratios-{workload}-vs-{reference}", header, [
        [r.stack, *[c.ratio for c in r.throughput], *[c.standing for c in r.throughput],
         *[c.ratio for c in r.p99], *[c.standing for c in r.p99]] for r in rows])


def _workload_section(view: RunView, workload: str, reference: str | None,
                      distribution_users: int | None, primary: bool) -> dict[str, Any]:
    top = distribution_users if distribution_users in view.users else max(view.users)
    board = leaderboard(view, workload)
    trust_rows = [_trust_row(view, s, workload) for s in view.measured_stacks
                  if view.stack_cells(s, workload)]
    ratios = matrix(view, workload, reference) if reference else []
    tables = [_leaderboard_table(view, workload, board), _trust_table(view, workload, trust_rows)]
    if reference:
        tables.append(_matrix_table(view, workload, reference, ratios))
    return {
        "name": workload,
        "description": view.loaded.run.workloads_declared.get(workload, "not described by this run"),
        "unit": view.rate_unit(workload),
        "leaderboard": board,
        "trust": trust_rows,
        "matrix": ratios,
        # Every workload: throughput and p99 against concurrency. The first (the one the verdict
        # reads) also: the latency-throughput curve, the distribution and the batching metrics;
        # for the others they are on each stack's page. A full run's page stays small enough.
        "plots": {
            "throughput": plots.throughput_vs_users(view, workload),
            "p99": plots.latency_vs_users(view, workload, "p99"),
            **({"curve": plots.latency_vs_throughput(view, workload),
                "distribution": plots.latency_distribution(view, workload, top),
                "batching": plots.batching(view, workload)} if primary else {}),
        },
        "distribution_users": top,
        "batching_stacks": plots.batching_stacks(view, workload),
        "tables": {t.name.split("-", 1)[0]: t for t in tables},
    }


def _memory_table(rows: list[MemoryRow]) -> Table:
    header = ["stack", "processes", *spread("PSS MB"), *spread("USS MB"), *spread("RSS MB summed")]
    return Table("memory", header,
                 [[r.stack, r.processes, *values(r.pss_mb, 1), *values(r.uss_mb, 1), *values(r.rss_mb, 1)]
                  for r in rows])


def _failures_table(found: list[StackFailures]) -> Table:
    rows: list[list[Any]] = []
    for f in found:
        first = {kind: text for kind, text in reversed(f.examples)}
        rows += [[f.stack, f.status, kind, n, f.answers, first.get(kind)] for kind, n in f.kinds]
        if not f.kinds:
            rows.append([f.stack, f.status, f.reason, None, f.answers, None])
    return Table("failures", ["stack", "status", "failure kind (or reason)", "answers", "of answers",
                              "first text seen"], rows)


def _claims_table(checks: list[ClaimCheck]) -> Table:
    return Table("claims", ["claim", "rule", "verdict", "summary", "evidence"],
                 [[c.claim, c.rule, c.verdict, c.summary,
                   " | ".join(f"{e.verdict}: {e.subject}: {e.measured}" for e in c.evidence)]
                  for c in checks])


def _parity_table(rows: list[ParityRow]) -> Table:
    return Table("configuration", ["stack", "protocol", "command", "workers", "processes seen", "threads",
                                   "BLAS threads", "other knobs", "pinning"],
                 [[p.stack, p.protocol, p.command, p.workers, p.processes, p.threads, p.blas_threads,
                   p.other_knobs, p.pinning] for p in rows])


def _ceiling_table(rows: list[CeilingRow]) -> Table:
    return Table("ceiling", ["stack", "predictions req/s", "at users", "ceiling req/s", "at users", "share",
                             "flagged"],
                 [[c.stack, round(c.predictions_rps, 1), c.predictions_users, round(c.ceiling_rps, 1),
                   c.ceiling_users, round(c.share, 4), c.flagged] for c in rows])


def _targets_table(stack: str, judged: list[Judged]) -> Table:
    return Table(f"targets-{stack}", ["target", "users", "ratio", "limit", "verdict", "compared with"],
                 [[t.target, t.users, round(t.ratio, 4) if t.ratio is not None else None, t.limit, t.verdict,
                   t.detail] for t in judged])


def _robustness_table(name: str, rows: list[RobustnessRow], group_names: list[str]) -> Table:
    header = ["stack", *[f"{g} passed" for g in group_names], *[f"{g} cases" for g in group_names],
              "answers other than the contract's"]
    return Table(name, header, [
        [r.stack, *[r.cells[g].counts.get("pass", 0) if g in r.cells else None for g in group_names],
         *[r.cells[g].total if g in r.cells else None for g in group_names], " | ".join(r.problems)]
        for r in rows])


def _flagged_table(rows: list[FlaggedRow]) -> Table:
    header = ["stack", "flagged measurements", "measurements", "flags (measurements)",
              "busiest generator process %", "server CPUs busy % (all processes)"]
    return Table("flagged", header, [
        [f.stack, f.flagged, f.measurements, " ".join(f"{flag}={n}" for _, flag, n in f.by_flag),
         round(f.generator_cpu, 1) if f.generator_cpu is not None else None,
         round(f.server_cpus_busy, 1) if f.server_cpus_busy is not None else None] for f in rows])


def run_context(view: RunView, reference: str | None = None, distribution_users: int | None = None,
                page_dir: Path | None = None, budget_ms: float | None = None) -> dict[str, Any]:
    """Everything run.html shows; the latency distribution is drawn at `distribution_users`
    (default: the highest level, where stacks differ most). `page_dir`: where the page is
    written, for the links to the result's own files."""
    run = view.loaded.run
    root = view.loaded.root
    page_dir = page_dir or root
    ref = reference_stack(view, reference)
    flags = run.judging.flags
    resolutions = sorted({r.measured.latency.resolution for r in view.loaded.records})
    workloads = [_workload_section(view, w, ref, distribution_users, w == primary_workload(view))
                 for w in view.workloads]
    memory = memory_rows(view)
    failed = failures(view, page_dir)
    claims = check_claims(view)
    configuration = parity(view)
    ceiling = ceiling_rows(view)
    targets = _by_stack(judge_targets(view))
    matrix_rows = robustness(view)
    robustness_groups = groups(view)
    flagged = [row for s in view.stacks if (row := _flagged(view, s)) is not None]
    troubled = [r for r in matrix_rows if r.problems]
    clean = [r for r in matrix_rows if not r.problems]
    tables = [t for w in workloads for t in w["tables"].values()] + [
        _memory_table(memory), _failures_table(failed), _claims_table(claims), _parity_table(configuration),
        _robustness_table("robustness-problems", troubled, robustness_groups),
        _robustness_table("robustness", clean, robustness_groups), _flagged_table(flagged)]
    if ceiling:
        tables.append(_ceiling_table(ceiling))
    tables += [_targets_table(stack, judged) for stack, judged in targets]

    def link(path: Path) -> str:
        return os.path.relpath(path, page_dir)

    return {
        "run": run,
        "view": view,
        "users": view.users,
        "reference": ref,
        "headline": headline(view),
        "context_line": context_line(view),
        "decisions": decisions(view, budget_ms),
        "workloads": workloads,
        "memory": memory,
        "failures": failed,
        "claims": claims,
        "parity": configuration,
        "robustness": matrix_rows,
        "robustness_troubled": troubled,
        "robustness_clean": clean,
        "ceiling": ceiling,
        "targets": targets,
        "robustness_groups": robustness_groups,
        "load_generator": load_generator(view),
        "failed": [o for o in run.stacks if o.status == "failed"],
        "models": model_sections(run),
        "not_verified": failed_verification(list(run.stacks)),
        "unreached": [s for s in view.stacks if s not in view.outcomes],
        "flagged": flagged,
        "marks": {mark(flags, f): flags[f].meaning if f in flags else f
                  for r in view.flagged() for f in r.flags},
        "resolutions": resolutions,
        "reader_schema": SCHEMA_VERSION,
        "tables": {t.name: t for t in tables},
        "stack_pages": {s: page_name(s) for s in view.stacks
                        if any(r.stack == s for r in view.stack_records)},
        "links": {"header": link(root / "run.json"), "records": link(root / "records"),
                  "logs": link(root / "logs"), "results": link(root)},
        "rules": {"tail_answers": TAIL_ANSWERS, "p99_needs": needed(99.0), "p99_thin": needed(99.0, "thin"),
                  "bimodal": BIMODAL_FACTOR, "window_tails": WINDOW_TAILS,
                  "budget_factor": P99_BUDGET_FACTOR},
        "number": number, "percent": percent,
    }
