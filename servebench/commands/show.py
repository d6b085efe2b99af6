"""`servebench show [RUN_DIR]`: the summary table of a recorded run (default: the latest)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from servebench.commands.summary_table import print_summary
from servebench.errors import UserError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("show", help="summary table of a recorded run")
    parser.add_argument("run_dir", nargs="?", help="default: the latest under --results-dir")
    parser.add_argument("--results-dir", default="results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.run_dir:
        root = Path(args.run_dir)
    else:
        runs = sorted(p for p in Path(args.results_dir).glob("*/run.json"))
        if not runs:
            raise UserError(f"no runs under {args.results_dir}")
        root = runs[-1].parent
    console = Console()
    print_summary(console if console.is_terminal else Console(width=150), root)
    return 0
