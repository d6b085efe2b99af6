"""Configuration parity: everything that could make a comparison unfair, one row per stack."""

from __future__ import annotations

from dataclasses import dataclass

from servebench.report.view import RunView

# Knobs with a column of their own; every other knob is shown with the stack's specific settings.
COMMON_KNOBS = ("workers", "threads", "blas_threads")


@dataclass(frozen=True)
class ParityRow:
    stack: str
    title: str
    protocol: str  # how clients ask it (servers/protocols.py): the contract or its own
    command: str
    workers: str
    processes: str  # the server's process tree as sampled while measuring
    threads: str
    blas_threads: str
    other_knobs: str  # batching limits, timeouts, ...
    pinning: str


def _processes(view: RunView, stack: str) -> str:
    seen = sorted({r.resources.server_processes for r in view.loaded.records
                   if r.stack == stack and r.resources is not None
                   and r.resources.server_processes is not None})
    if not seen:
        return "–"
    return str(seen[0]) if len(seen) == 1 else f"{seen[0]}–{seen[-1]}"


def _pinning(view: RunView) -> str:
    settings = view.loaded.run.settings
    server = ",".join(map(str, settings.server_cpus)) if settings.server_cpus else "not pinned"
    load = ",".join(map(str, settings.load_cpus)) if settings.load_cpus else "not pinned"
    return f"server CPU {server}; load CPU {load}"


def parity(view: RunView) -> list[ParityRow]:
    rows = []
    for stack in view.stacks:
        outcome = view.outcomes.get(stack)
        knobs = outcome.knobs if outcome else {}
        declared = view.loaded.run.stacks_declared.get(stack)
        rows.append(ParityRow(
            stack=stack, title=view.title(stack), protocol=declared.protocol if declared else "–",
            command=" ".join(outcome.command) if outcome else "–",
            workers=str(knobs.get("workers", "–")), processes=_processes(view, stack),
            threads=str(knobs.get("threads", "–")), blas_threads=str(knobs.get("blas_threads", "–")),
            other_knobs=", ".join(f"{k}={v}" for k, v in knobs.items() if k not in COMMON_KNOBS) or "–",
            pinning=_pinning(view),
        ))
    return rows


def load_generator(view: RunView) -> str:
    """How the load was made: identical for every stack in a run."""
    s = view.loaded.run.settings
    if s.generator == "wrk":
        tool = ("wrk, one thread with one connection per user (a native generator: answers were "
                "verified before the load, and the server's counter is checked against wrk's)")
        process = "the wrk process"
    else:
        tool = f"Locust master + {s.locust_workers} workers" if s.locust_workers else "one Locust process"
        process = "one Locust process"
    return (f"{tool}, closed-loop users without think time; {s.warmup_s:g} s recorded warm-up, "
            f"{s.measure_s:g} s measured, {s.repeats} repeat(s); a measurement is flagged generator-bound "
            f"above {s.generator_bound_percent:g} % of a core in {process}")
