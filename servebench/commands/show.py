"""`servebench show [RUN]`: the summary table of a recorded run, the capacity table of a
capacity run or the drift table of a soak (default: the latest closed-loop run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from servebench.commands.capacity import print_table
from servebench.commands.soak import drift_table
from servebench.commands.summary_table import print_summary
from servebench.errors import UserError
from servebench.report import soak
from servebench.report.render import resolve_any
from servebench.results.capacity import load_capacity_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("show", help="summary table of a recorded run")
    parser.add_argument("run_dir", nargs="?", help="run id or directory, 'latest-capacity' "
                        "(default: the latest closed-loop run under --results-dir)")
    parser.add_argument("--results-dir", default="results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    if args.run_dir:
        kind, root = resolve_any(Path(args.results_dir), args.run_dir)
        if kind == "capacity":
            loaded = load_capacity_run(root)
            if not loaded.records:
                raise UserError(f"{root}: no capacity records yet")
            print_table(console if console.is_terminal else Console(width=200), loaded.records)
            return 0
        if kind == "soak":
            soak_run = soak.load(root)
            if not soak_run.records:
                raise UserError(f"{root}: no soak records yet")
            (console if console.is_terminal else Console(width=210)).print(
                drift_table(soak_run.records, f"{soak_run.run.run_id}: drift per stack"))
            return 0
    else:
        runs = sorted(p for p in Path(args.results_dir).glob("*/run.json"))
        if not runs:
            raise UserError(f"no runs under {args.results_dir}")
        root = runs[-1].parent
    print_summary(console if console.is_terminal else Console(width=150), root)
    return 0
