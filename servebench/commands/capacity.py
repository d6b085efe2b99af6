"""`servebench capacity`: open-loop sweeps; the highest offered rate each stack serves with
p99 within the SLO, its latency-vs-rate curve, and how it behaves past that rate.

Effective settings: dataclass defaults, then SERVEBENCH_* environment, then flags.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtests.arrivals import ARRIVALS
from loadtests.capacity import SweepSettings
from loadtests.capacity_run import CapacityConfig, capacity_run
from loadtests.capacity_search import SearchSettings
from loadtests.cpus import CpuError, kept_on, parse
from loadtests.generators import GENERATORS, GeneratorRefused, GeneratorSettings
from loadtests.openloop import SEND_LAG_SHARE, OpenLoopSettings
from loadtests.workloads import WORKLOADS
from servebench.commands.common import (
    add_external_flags,
    add_pinning_flags,
    add_render_flag,
    external_from,
    pinning_from,
    render_result,
)
from servebench.errors import UserError
from servebench.report.capacity import contended, overload_text, verdict_reasons, workers
from servebench.results.capacity import CapacityRecord
from servebench.results.store import load_capacity
from servers.registry import STACKS
from shared_model.models import model_names


def _ints(text: str | None) -> tuple[int, ...] | None:
    try:
        values = parse(text)
    except CpuError:
        values = (0,)
    if values is not None and any(v < 1 for v in values):
        raise UserError("--workers takes counts of at least 1, e.g. 1,2")
    return values


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "capacity", help="open-loop sweeps: max throughput with p99 within the SLO, per stack")
    env = os.environ.get
    parser.add_argument("--stacks", nargs="+", choices=list(STACKS), default=list(STACKS))
    parser.add_argument("--model", nargs="+", choices=model_names(),
                        default=env("SERVEBENCH_MODEL", "default").split(","),
                        help="one or more model profiles, each swept in turn")
    parser.add_argument("--slo-ms", type=float, default=float(env("SERVEBENCH_SLO_MS", "50")))
    parser.add_argument("--workers", default=env("SERVEBENCH_WORKERS"),
                        help="e.g. 1,2: sweep stacks with a workers knob at each count, pinned to "
                        "as many CPUs (default: as registered)")
    parser.add_argument("--workload", choices=list(WORKLOADS), default="single")
    parser.add_argument("--arrival", choices=list(ARRIVALS), default="poisson")
    parser.add_argument("--start-rps", type=float, default=SearchSettings.start_rps)
    parser.add_argument("--step-s", type=float, default=SweepSettings.step_s)
    parser.add_argument("--overload", type=float, nargs="*", default=list(SweepSettings.overload_factors),
                        help="overload factors of the measured capacity (none: skip)")
    parser.add_argument("--max-send-lag-ms", type=float,
                        help="a step whose p99 send lag (actual - intended) exceeds this is invalid "
                        f"(default: {SEND_LAG_SHARE * 100:.0f} %% of the SLO)")
    add_pinning_flags(parser)
    parser.add_argument("--locust-workers", type=int, default=int(env("SERVEBENCH_LOCUST_WORKERS", "0")),
                        help="0: one Locust process; N: N processes share the schedule")
    parser.add_argument("--generator", choices=list(GENERATORS), default="locust",
                        help="a generator that can send on a schedule (open loop)")
    parser.add_argument("--results-dir", default=env("SERVEBENCH_RESULTS", "results"))
    add_external_flags(parser)
    add_render_flag(parser)
    parser.set_defaults(func=capacity)


def config_from(args: argparse.Namespace) -> CapacityConfig:
    if args.slo_ms <= 0 or args.start_rps <= 0 or args.step_s <= 0 or args.locust_workers < 0:
        raise UserError("--slo-ms, --start-rps and --step-s must be positive, --locust-workers >= 0")
    pinning = pinning_from(args)
    server_cpus, load_cpus = pinning.server, pinning.load
    openloop = OpenLoopSettings(GeneratorSettings(load_cpus, args.locust_workers),
                                workload=args.workload, arrival=args.arrival, slo_ms=args.slo_ms,
                                max_send_lag_ms=args.max_send_lag_ms)
    sweep = SweepSettings(openloop, SearchSettings(start_rps=args.start_rps), step_s=args.step_s,
                          overload_factors=tuple(args.overload))
    external = external_from(args)
    if external and (args.workers or len(set(args.model)) > 1):
        raise UserError("a service already running has its own workers and model: no --workers, one --model")
    return CapacityConfig(sweep=sweep, stacks=(external.label,) if external else tuple(args.stacks),
                          models=tuple(dict.fromkeys(args.model)), workers=_ints(args.workers),
                          server_cpus=None if external else server_cpus, load_cpus=load_cpus,
                          results_dir=Path(args.results_dir), generator=args.generator, external=external)


def _fmt(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_table(console: Console, records: list[CapacityRecord]) -> None:
    table = Table(title=f"capacity at p99 <= {records[0].slo_ms:g} ms and errors <= "
                  f"{records[0].max_error_rate:.0%} (open loop, latency from intended send time)")
    for column in ("stack", "model", "workers", "capacity req/s", "p50 ms", "p99 ms", "verdict",
                   "steps (invalid, contended)",
                   "overload: goodput, errors, p99 1st->2nd half, recovery"):
        table.add_column(column)
    for r in records:
        overload = "\n".join(overload_text(o) for o in r.overload)
        invalid = sum(s.verdict == "invalid" for s in r.steps)
        table.add_row(r.stack, r.model, workers(r), _fmt(r.capacity_rps, ".0f"),
                      _fmt(r.capacity_p50_ms, ".2f"), _fmt(r.capacity_p99_ms, ".2f"),
                      (r.limited_by + "\n" + "\n".join(verdict_reasons(r))) if r.status == "ok"
                      else f"FAILED: {r.reason}",
                      f"{len(r.steps)} ({invalid}, {contended(r)})", overload or "-")
    console.print(table)
    console.print("contended: other processes used over 20 % of a core on the server's or the load "
                  "generator's CPUs during the step; p99 halves cover every due request (answered, "
                  "failed or given up); GROWS: a queue without bound, by latency (2nd-half p99 over "
                  "1.5x the 1st and over the SLO) or by outstanding requests (still growing, above "
                  "rate x SLO); SATURATED: the generator's outstanding cap was reached, requests "
                  "waited for a connection (counted in their latency) or were never sent (errors)")


def capacity(args: argparse.Namespace) -> int:
    config = config_from(args)
    console = Console() if Console().is_terminal else Console(width=200)
    console.print(
        f"servebench capacity: {len(config.stacks)} stacks x models {list(config.models)}"
        f"{f' x workers {list(config.workers)}' if config.workers else ''}; SLO p99 <= "
        f"{config.sweep.openloop.slo_ms:g} ms; {config.sweep.openloop.arrival} arrivals; server CPUs "
        f"{config.server_cpus}, load CPUs {config.load_cpus}; estimate {config.estimate_s() / 60:.1f} min")
    started = time.monotonic()
    try:
        with kept_on(config.load_cpus), console.status("starting") as status:
            root, _ = capacity_run(config, progress=lambda text: status.update(text),
                                   done=lambda r: console.print(f"  done: {r.record_id}"))
    except GeneratorRefused as error:
        raise UserError(str(error)) from None
    loaded = load_capacity(root)
    if loaded.records:
        print_table(console, loaded.records)
    console.print(f"wall time {time.monotonic() - started:.0f}s (estimate {config.estimate_s():.0f}s); "
                  f"results in {root}")
    render_result(args, root)
    return 1 if any(r.status == "failed" for r in loaded.records) else 0
