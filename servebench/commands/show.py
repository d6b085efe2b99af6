"""`servebench show [RUN]`: the summary table of a recorded run, the capacity table of a
capacity run or the drift table of a soak (default: the latest closed-loop run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from servebench.commands.capacity import print_table
from servebench.commands.robustness import print_matrix
from servebench.commands.soak import drift_table
from servebench.commands.summary_table import print_summary
from servebench.errors import UserError
from servebench.report.render import resolve_any
from servebench.results.store import load, load_capacity, load_soak


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("show", help="summary table of a recorded run")
    parser.add_argument("run_dir", nargs="?", default="latest-run",
                        help="run id or directory, 'latest' or 'latest-KIND' (default: latest-run)")
    parser.add_argument("--results-dir", default="results")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    console = Console()
    wide = console if console.is_terminal else Console(width=210)
    kind, root = resolve_any(Path(args.results_dir), args.run_dir)
    if kind == "run":
        print_summary(wide, root)
        return 0
    loaded = load(root)
    if not loaded.records:
        raise UserError(f"{root}: no records yet")
    if kind == "capacity":
        print_table(wide, load_capacity(root).records)
    elif kind == "soak":
        wide.print(drift_table(load_soak(root).records, f"{root.name}: drift per stack"))
    elif kind == "robustness":
        print_matrix(wide, loaded.records)
    else:
        for comparison in loaded.run.comparisons:
            wide.print(f"{comparison.stack} {comparison.metric} {comparison.effect:+.1%} "
                       f"[{comparison.low:+.1%}, {comparison.high:+.1%}]: {comparison.verdict}")
    return 0
