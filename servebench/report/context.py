"""A run's page as data: a pure function from result records to the template's context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from servebench.report import plots
from servebench.report.ceiling import ceiling_rows
from servebench.report.claims import check_claims
from servebench.report.fmt import users
from servebench.report.leaderboard import leaderboard, mark
from servebench.report.parity import load_generator, parity
from servebench.report.ratios import reference_stack, sentences
from servebench.report.robustness import groups, robustness
from servebench.report.targets import Judged, judge_targets
from servebench.report.view import RunView
from servebench.results.schema import SCHEMA_VERSION, Record


@dataclass(frozen=True)
class FlaggedRow:
    record_id: str
    flags: str
    requests: int
    failures: str
    generator_cpu: str
    server_cpu: str  # the server's own share
    server_cpus_busy: str  # everything on the server's CPUs


def _flagged(record: Record) -> FlaggedRow:
    res = record.resources
    busy = res.server_cpus_busy_percent if res else None
    return FlaggedRow(
        record_id=record.record_id, flags=", ".join(record.flags), requests=record.measured.requests,
        failures=", ".join(f"{k}: {v:,}" for k, v in sorted(record.measured.failures.items())) or "–",
        generator_cpu=f"{res.generator_max_process_cpu_percent:.0f} %" if res else "–",
        server_cpu=f"{res.server_cpu_percent:.0f} %" if res and res.server_cpu_percent is not None else "–",
        server_cpus_busy=f"{busy:.0f} %" if busy is not None else "–",
    )


def _by_stack(judged: list[Judged]) -> list[tuple[str, list[Judged]]]:
    grouped: dict[str, list[Judged]] = {}
    for j in judged:
        grouped.setdefault(j.stack, []).append(j)
    return list(grouped.items())


def headline(view: RunView) -> str:
    """One line for the index: the best peak throughput on the run's first workload."""
    workload = view.workloads[0] if view.workloads else None
    best = max((c for c in view.cells.values() if c.rps is not None and c.workload == workload),
               key=lambda c: c.rps.median if c.rps else 0.0, default=None)
    failed = [s for s in view.stacks if view.status(s) != "ok"]
    text = (f"{workload}: {best.stack} peaks at {best.rps.median:,.0f} req/s ({users(best.users)})"
            if best and best.rps else "nothing measured")
    return text + (f"; failed: {', '.join(failed)}" if failed else "")


def _workload_section(view: RunView, workload: str, reference: str | None,
                      distribution_users: int | None) -> dict[str, Any]:
    top = distribution_users if distribution_users in view.users else max(view.users)
    return {
        "name": workload,
        "leaderboard": leaderboard(view, workload),
        "sentences": sentences(view, workload, reference) if reference else [],
        "plots": {
            "latency": plots.latency_vs_users(view, workload),
            "throughput": plots.throughput_vs_users(view, workload),
            "curve": plots.latency_vs_throughput(view, workload),
            "distribution": plots.latency_distribution(view, workload, top),
            "batching": plots.batching(view, workload),
        },
        "distribution_users": top,
        "legend": [(s, plots.colour(view, s)) for s in view.measured_stacks],
        "batching_stacks": plots.batching_stacks(view, workload),
    }


def run_context(view: RunView, reference: str | None = None,
                distribution_users: int | None = None) -> dict[str, Any]:
    """Everything run.html shows; the latency distribution is drawn at `distribution_users`
    (default: the highest level, where stacks differ most)."""
    run = view.loaded.run
    ref = reference_stack(view, reference)
    flags = run.judging.flags
    resolutions = sorted({r.measured.latency.resolution for r in view.loaded.records})
    return {
        "run": run,
        "view": view,
        "users": view.users,
        "reference": ref,
        "headline": headline(view),
        "workloads": [_workload_section(view, w, ref, distribution_users) for w in view.workloads],
        "claims": check_claims(view),
        "parity": parity(view),
        "robustness": robustness(view),
        "ceiling": ceiling_rows(view),
        "targets": _by_stack(judge_targets(view)),
        "robustness_groups": groups(view),
        "load_generator": load_generator(view),
        "failed": [o for o in run.stacks if o.status == "failed"],
        "unreached": [s for s in view.stacks if s not in view.outcomes],
        "flagged": [_flagged(r) for r in view.flagged()],
        "marks": {mark(flags, f): flags[f].meaning if f in flags else f
                  for r in view.flagged() for f in r.flags},
        "resolutions": resolutions,
        "reader_schema": SCHEMA_VERSION,
    }
