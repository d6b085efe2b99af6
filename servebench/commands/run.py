"""`servebench run`: measure the selected stacks under identical closed-loop workloads.

Effective settings: the run profile's declarations, then SERVEBENCH_* environment, then flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from loadtests.cpus import kept_on
from loadtests.generators import GENERATORS, GeneratorRefused
from loadtests.run import Observer, RunConfig
from loadtests.run import run as run_stacks
from loadtests.workloads import RUN_PROFILES, WORKLOADS
from servebench.commands.common import (
    add_external_flags,
    add_pinning_flags,
    add_remote_worker_flags,
    add_render_flag,
    external_from,
    pinning_from,
    remote_from,
    render_result,
)
from servebench.commands.summary_table import print_summary
from servebench.errors import UserError
from servebench.results.schema import Record, StackOutcome
from servers.registry import STACKS
from shared_model.profiles import PROFILES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="measure stacks under identical closed-loop workloads")
    env = os.environ.get
    parser.add_argument("--stacks", nargs="+", choices=list(STACKS), default=list(STACKS))
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--profile", choices=list(RUN_PROFILES), default=env("SERVEBENCH_PROFILE", "full"))
    parser.add_argument("--model", choices=list(PROFILES), default=env("SERVEBENCH_MODEL", "default"))
    parser.add_argument("--repeats", type=int, help="default: the profile's")
    parser.add_argument("--users", type=int, nargs="+", help="concurrency levels; default: the profile's")
    parser.add_argument("--warmup-s", type=float, help="default: the profile's")
    parser.add_argument("--measure-s", type=float, help="default: the profile's")
    add_pinning_flags(parser)
    parser.add_argument("--locust-workers", type=int, default=int(env("SERVEBENCH_LOCUST_WORKERS", "0")),
                        help="0: one local Locust process; N: Locust master + N workers")
    parser.add_argument("--generator", choices=list(GENERATORS), help="default: the profile's")
    parser.add_argument("--results-dir", default=env("SERVEBENCH_RESULTS", "results"))
    add_external_flags(parser)
    add_remote_worker_flags(parser)
    add_render_flag(parser)
    parser.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> RunConfig:
    profile = RUN_PROFILES[args.profile]
    overrides = {k: v for k, v in {
        "workloads": tuple(args.workloads) if args.workloads else None,
        "users": tuple(args.users) if args.users else None,
        "repeats": args.repeats, "warmup_s": args.warmup_s, "measure_s": args.measure_s,
        "generator": args.generator,
    }.items() if v is not None}
    if overrides.get("repeats", 1) < 1 or any(u < 1 for u in overrides.get("users", ())):
        raise UserError("--repeats and --users must be at least 1")
    if args.locust_workers < 0:
        raise UserError("--locust-workers must be 0 or more")
    effective = dataclasses.replace(profile, **overrides)
    external, remote = external_from(args), remote_from(args)
    if remote is not None and "generator" not in overrides:
        effective = dataclasses.replace(effective, generator="locust")
    config = RunConfig(profile=effective, stacks=(external.label,) if external else tuple(args.stacks),
                       model=args.model, pinning=pinning_from(args), locust_workers=args.locust_workers,
                       results_dir=Path(args.results_dir), remote_workers=remote,
                       server_host=args.server_host, external=external)
    try:
        generators = {config.generator(workload).name for workload in effective.workloads}
    except GeneratorRefused as error:
        raise UserError(str(error)) from None
    if (args.locust_workers or remote) and generators != {"locust"}:
        raise UserError("Locust workers (local or on other hosts) apply to the locust generator only")
    return config


class LeftColumn(ProgressColumn):
    """Time left: the estimate still to go, scaled by how the run has kept to it so far."""

    def render(self, task: Task) -> Text:
        remaining = (task.total or 0) - task.completed
        elapsed = task.elapsed or 0.0
        if task.completed > 0 and elapsed > 0:
            remaining *= elapsed / task.completed
        minutes, seconds = divmod(int(max(0.0, remaining)), 60)
        return Text(f"~{minutes}:{seconds:02d} left", style="progress.remaining")


class RichObserver(Observer):
    def __init__(self, console: Console, config: RunConfig) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), LeftColumn(),
            console=console, transient=True)
        self.task = self.progress.add_task("starting", total=config.estimate_s())
        self.per_stack = config.estimate_s() / max(1, len(config.stacks))
        self.stack = ""
        self.stack_started_at = 0.0

    def stack_started(self, stack: str) -> None:
        self.stack, self.stack_started_at = stack, self.progress.tasks[0].completed
        self.progress.update(self.task, description=f"{stack}: starting")

    def measurement_started(self, label: str) -> None:
        self.progress.update(self.task, description=f"{self.stack}: {label}")

    def measurement_done(self, record: Record | None, seconds: float) -> None:
        self.progress.advance(self.task, seconds)
        if record is not None and record.flags:
            self.console.print(f"  {record.record_id}: {', '.join(record.flags)}")

    def stack_done(self, outcome: StackOutcome) -> None:
        # Jump to where this stack's share of the estimate ends, whatever happened.
        self.progress.update(self.task, completed=self.stack_started_at + self.per_stack)
        if outcome.status == "failed":
            self.console.print(f"[red]{outcome.stack} FAILED[/red]: {outcome.reason}")
            if outcome.log_tail:
                self.console.print(outcome.log_tail, markup=False, highlight=False)
        else:
            stopped = ("not ours to stop" if outcome.shutdown_s is None
                       else f"stopped in {outcome.shutdown_s:.2f}s")
            self.console.print(f"[green]{outcome.stack}[/green]: ready in {outcome.time_to_ready_s:.2f}s, "
                               f"{len(outcome.records)} measurements, {stopped}")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # a log file or pipe: keep table rows on one line
    p = config.profile
    generators = ", ".join(f"{w}: {config.generator(w).name}" for w in p.workloads)
    console.print(
        f"servebench run: profile {p.name}, model {config.model}, {len(config.stacks)} stacks x "
        f"{len(p.workloads)} workloads x users {list(p.users)} x {p.repeats} repeats (a fresh server "
        f"process each) = {len(config.stacks) * p.repeats * len(config.measurements())} measurements of "
        f"{p.warmup_s:g}s warm-up + {p.measure_s:g}s; server CPUs {config.pinning.server}, load CPUs "
        f"{config.pinning.load}; generators {generators}"
        + (f" ({config.locust_workers} Locust workers)" if config.locust_workers else "")
        + (f" (+ {config.remote_workers.count} on other hosts, master at {config.remote_workers.address})"
           if config.remote_workers else "")
        + (f"; {config.external.label} is the service at {config.external.url} ({config.external.kind})"
           if config.external else "")
        + f"; estimate {config.estimate_s() / 60:.1f} min")
    observer = RichObserver(console, config)
    started = time.monotonic()
    with kept_on(config.pinning.load), observer.progress:
        root, result = run_stacks(config, observer)
    print_summary(console, root)
    failed = [s.stack for s in result.stacks if s.status == "failed"]
    console.print(f"wall time {time.monotonic() - started:.0f}s (estimate {config.estimate_s():.0f}s); "
                  f"results in {root}")
    if failed:
        console.print(f"[red]failed stacks: {', '.join(failed)}[/red]")
    render_result(args, root)
    return 1 if failed else 0
