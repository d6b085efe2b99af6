"""`servebench soak`: hold every stack at a steady rate for minutes; report memory and tail drift."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtests.cpus import kept_on
from loadtests.drift import THRESHOLDS
from loadtests.generators import GENERATORS, GeneratorRefused
from loadtests.soak import SoakConfig, soak
from loadtests.workloads import WORKLOADS
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
from servebench.errors import UserError
from servebench.results.declarations import SOAK_FLAGS
from servebench.results.soak_schema import SoakRecord
from servers.registry import STACKS
from shared_model.profiles import PROFILES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "soak", help="steady paced load for minutes per stack: RSS and p99 drift, with a verdict")
    env = os.environ.get
    parser.add_argument("--stacks", nargs="+", choices=list(STACKS), default=list(STACKS))
    parser.add_argument("--duration", type=float, default=600.0,
                        help="seconds of steady load per stack (default 600)")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per window (default 10)")
    parser.add_argument("--warmup", type=float, default=10.0,
                        help="seconds of the same load before the windows start (default 10)")
    parser.add_argument("--rps", type=float, help="hold this rate instead of probing the capacity")
    parser.add_argument("--fraction", type=float, default=0.5,
                        help="share of the probed closed-loop capacity to hold (default 0.5)")
    parser.add_argument("--users", type=int, default=16, help="paced users sharing the rate")
    parser.add_argument("--workload", choices=list(WORKLOADS), default="single")
    parser.add_argument("--model", choices=list(PROFILES), default=env("SERVEBENCH_MODEL", "default"))
    add_pinning_flags(parser)
    parser.add_argument("--generator", choices=list(GENERATORS), default="locust",
                        help="a generator that can pace users (paced loop)")
    parser.add_argument("--results-dir", default=env("SERVEBENCH_RESULTS", "results"))
    add_external_flags(parser)
    add_remote_worker_flags(parser)
    add_render_flag(parser)
    parser.set_defaults(func=run)


def config_from(args: argparse.Namespace) -> SoakConfig:
    if args.window <= 0 or args.duration < args.window:
        raise UserError("--window must be positive and --duration at least one window")
    if not 0 < args.fraction <= 1 or args.users < 1 or (args.rps is not None and args.rps <= 0):
        raise UserError("--fraction in (0, 1], --users >= 1, --rps > 0")
    pinning = pinning_from(args)
    external, remote = external_from(args), remote_from(args)
    if remote is not None and args.generator != "locust":
        raise UserError("Locust workers on other hosts apply to the locust generator only")
    return SoakConfig(stacks=(external.label,) if external else tuple(args.stacks), model=args.model,
                      workload=args.workload,
                      duration_s=args.duration, window_s=args.window, warmup_s=args.warmup,
                      fraction=args.fraction, rps=args.rps, users=args.users,
                      server_cpus=pinning.server, load_cpus=pinning.load, results_dir=Path(args.results_dir),
                      generator=args.generator, remote_workers=remote, server_host=args.server_host,
                      external=external)


def _arrow(start: float | None, end: float | None, digits: int) -> str:
    if start is None or end is None:
        return "-"
    return f"{start:.{digits}f}→{end:.{digits}f}"


def drift_table(records: list[SoakRecord], title: str) -> Table:
    table = Table(title=title)
    for column in ("stack", "req/s (target)", "RSS MB start→end", "MB/min", "KB/request",
                   "USS MB/min", "p99 ms start→end", "p99 ms/min", "errors", "verdict", "flags"):
        table.add_column(column, justify="left" if column in ("stack", "verdict", "flags") else "right")
    for r in records:
        d = r.drift
        rps = f"{r.rps:.0f} ({r.target_rps:.0f})" if r.rps is not None and r.target_rps else "-"
        table.add_row(
            r.stack, rps,
            _arrow(d.rss_start_mb, d.rss_end_mb, 1) if d else "-",
            f"{d.rss_mb_per_min:+.2f}" if d else "-",
            f"{d.rss_kb_per_request:+.3f}" if d and d.rss_kb_per_request is not None else "-",
            f"{d.uss_mb_per_min:+.2f}" if d and d.uss_mb_per_min is not None else "-",
            _arrow(d.p99_start_ms, d.p99_end_ms, 2) if d else "-",
            f"{d.p99_ms_per_min:+.3f}" if d else "-",
            f"{sum(r.failures.values())}/{r.requests}",
            r.verdict if r.status == "ok" else f"FAILED: {r.reason}",
            ", ".join(r.flags),
        )
    return table


def run(args: argparse.Namespace) -> int:
    config = config_from(args)
    console = Console() if Console().is_terminal else Console(width=210)
    target = f"{config.rps:g} req/s" if config.rps else f"{config.fraction:.0%} of the probed capacity"
    console.print(
        f"servebench soak: {len(config.stacks)} stacks, {config.workload} at {target} by "
        f"{config.users} paced users, {config.warmup_s:g}s warm-up + {config.duration_s:g}s in "
        f"{config.window_s:g}s windows; server CPUs {config.server_cpus}, load CPUs "
        f"{config.load_cpus}; estimate {config.estimate_s() / 60:.1f} min")
    started = time.monotonic()

    def on_stack(record: SoakRecord) -> None:
        console.print(f"  {record.stack}: {record.verdict}" + (
            f" ({'; '.join(record.reasons)})" if record.reasons else ""), highlight=False)

    try:
        with kept_on(config.load_cpus):
            root, result, records = soak(config, on_stack)
    except GeneratorRefused as error:
        raise UserError(str(error)) from None
    console.print(drift_table(records, f"{result.run_id}: {config.duration_s:g}s soak, fits over "
                              f"full windows after the first {THRESHOLDS.skip_windows} (Theil-Sen)"))
    t = THRESHOLDS
    console.print(f"  growing memory: RSS slope >= {t.rss_mb_per_min:g} MB/min; degrading tail: p99 "
                  f"rise >= {t.p99_rise_percent:g} % and >= {t.p99_rise_ms:g} ms over the fit; either "
                  f"only if the fitted rise is >= {t.noise_ratio:g} x the median absolute residual; "
                  f"inconclusive: fewer than {t.min_windows} fitted windows", highlight=False)
    for flag in sorted({flag for r in records for flag in r.flags}):
        console.print(f"  {flag}: {SOAK_FLAGS[flag].meaning if flag in SOAK_FLAGS else ''}", highlight=False)
    console.print(f"machine load average {result.load_average}; wall time "
                  f"{time.monotonic() - started:.0f}s; results in {root}")
    render_result(args, root)
    return 1 if any(r.status == "failed" for r in records) else 0
