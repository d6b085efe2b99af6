"""`servebench run`: measure the selected stacks under identical workloads (Locust, or wrk).

Effective settings: the run profile's declarations, then SERVEBENCH_* environment, then flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path
from typing import Any, get_args

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text

from loadtests import wrk_generator
from loadtests.orchestrate import Observer, RunConfig, default_cpus, orchestrate
from loadtests.workloads import RUN_PROFILES, WORKLOADS
from servebench.commands.summary_table import print_summary
from servebench.errors import UserError
from servebench.results.schema import Generator, Record, StackOutcome
from servers.registry import STACKS
from shared_model.profiles import PROFILES


def _cpus(text: str | None) -> tuple[int, ...] | None:
    if not text:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise UserError(f"CPU lists are comma-separated numbers, got {text!r}") from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="measure stacks under identical Locust workloads")
    env = os.environ.get
    parser.add_argument("--stacks", nargs="+", choices=list(STACKS), default=list(STACKS))
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--profile", choices=list(RUN_PROFILES), default=env("SERVEBENCH_PROFILE", "full"))
    parser.add_argument("--model", choices=list(PROFILES), default=env("SERVEBENCH_MODEL", "default"))
    parser.add_argument("--repeats", type=int, help="default: the profile's")
    parser.add_argument("--users", type=int, nargs="+", help="concurrency levels; default: the profile's")
    parser.add_argument("--warmup-s", type=float, help="default: the profile's")
    parser.add_argument("--measure-s", type=float, help="default: the profile's")
    parser.add_argument("--server-cpus", default=env("SERVEBENCH_SERVER_CPUS"),
                        help="e.g. 1 (default: the last CPU)")
    parser.add_argument("--load-cpus", default=env("SERVEBENCH_LOAD_CPUS"),
                        help="e.g. 0 (default: every other CPU)")
    parser.add_argument("--locust-workers", type=int, default=int(env("SERVEBENCH_LOCUST_WORKERS", "0")),
                        help="0: one local Locust process; N: Locust master + N workers")
    parser.add_argument("--generator", choices=get_args(Generator),
                        help="locust or wrk (single-kind workloads only); default: the profile's")
    parser.add_argument("--results-dir", default=env("SERVEBENCH_RESULTS", "results"))
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
    if effective.generator == "wrk":
        if not wrk_generator.available():
            raise UserError("wrk is not installed: `make sysdeps` installs it (Debian package wrk)")
        if args.locust_workers:
            raise UserError("--locust-workers applies to the locust generator, not wrk")
        try:
            for workload in effective.workloads:
                wrk_generator.single_step(workload)
        except wrk_generator.WrkUnsupported as error:
            raise UserError(str(error)) from None
    server_cpus, load_cpus = default_cpus()
    server_cpus = _cpus(args.server_cpus) or server_cpus
    load_cpus = _cpus(args.load_cpus) or load_cpus
    if server_cpus and load_cpus and set(server_cpus) & set(load_cpus):
        raise UserError(f"server CPUs {server_cpus} and load CPUs {load_cpus} overlap")
    return RunConfig(profile=effective, stacks=tuple(args.stacks),
                     model=args.model, server_cpus=server_cpus, load_cpus=load_cpus,
                     locust_workers=args.locust_workers, results_dir=Path(args.results_dir))


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
        self.per_measurement = config.measurement_s()
        self.per_stack = config.estimate_s() / max(1, len(config.stacks))
        self.stack = ""
        self.stack_started_at = 0.0

    def stack_started(self, stack: str) -> None:
        self.stack, self.stack_started_at = stack, self.progress.tasks[0].completed
        self.progress.update(self.task, description=f"{stack}: starting")

    def measurement_started(self, label: str) -> None:
        self.progress.update(self.task, description=f"{self.stack}: {label}")

    def measurement_done(self, record: Record | None) -> None:
        self.progress.advance(self.task, self.per_measurement)
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
            self.console.print(f"[green]{outcome.stack}[/green]: ready in {outcome.time_to_ready_s:.2f}s, "
                               f"{len(outcome.records)} measurements, stopped in {outcome.shutdown_s:.2f}s")


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # a log file or pipe: keep table rows on one line
    p = config.profile
    console.print(
        f"servebench run: profile {p.name}, model {config.model}, {len(config.stacks)} stacks x "
        f"{len(p.workloads)} workloads x users {list(p.users)} x {p.repeats} repeats = "
        f"{len(config.stacks) * len(config.measurements())} measurements of {p.warmup_s:g}s warm-up + "
        f"{p.measure_s:g}s; server CPUs {config.server_cpus}, load CPUs {config.load_cpus}, "
        f"generator {p.generator}" + (f" ({config.locust_workers} workers)" if config.locust_workers
                                      else "") + f"; estimate {config.estimate_s() / 60:.1f} min")
    observer = RichObserver(console, config)
    started = time.monotonic()
    affinity = os.sched_getaffinity(0)
    try:
        if config.load_cpus:
            os.sched_setaffinity(0, config.load_cpus)  # keep this process off the server's CPUs
        with observer.progress:
            root, result = orchestrate(config, observer)
    finally:
        os.sched_setaffinity(0, affinity)
    print_summary(console, root)
    failed = [s.stack for s in result.stacks if s.status == "failed"]
    console.print(f"wall time {time.monotonic() - started:.0f}s (estimate {config.estimate_s():.0f}s); "
                  f"results in {root}")
    if failed:
        console.print(f"[red]failed stacks: {', '.join(failed)}[/red]")
    return 1 if failed else 0
