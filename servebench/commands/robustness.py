"""`servebench robustness`: the bad-input corpus against every stack, as a stacks x groups matrix."""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadtests.robustness import robustness_run
from servebench.commands.common import add_render_flag, render_result
from servebench.results.kinds import CaseResult, RobustnessRecord
from servers.registry import STACKS
from shared_model.models import model_names


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("robustness", help="bad-input corpus against every stack")
    parser.add_argument("--stacks", nargs="+", choices=sorted(STACKS), default=list(STACKS))
    env = os.environ.get
    parser.add_argument("--model", choices=model_names(), default=env("SERVEBENCH_MODEL", "default"))
    parser.add_argument("--results-dir", type=Path, default=Path(env("SERVEBENCH_RESULTS", "results")))
    add_render_flag(parser)
    parser.set_defaults(func=run)


def _cell(results: list[CaseResult]) -> str:
    counts: dict[str, int] = defaultdict(int)
    for result in results:
        counts[result.outcome] += 1
    parts = [f"{counts['pass']}/{len(results)}"]
    parts += [f"{counts[k]} {k}" for k in ("declared", "undeclared", "fail") if counts[k]]
    return " ".join(parts)


def print_matrix(console: Console, records: list[RobustnessRecord]) -> None:
    groups = sorted({r.group for record in records for r in record.cases})
    table = Table(title="robustness: passed/total per case group (pass = the contract's status "
                        "and ErrorBody)")
    table.add_column("stack")
    for group in groups:
        table.add_column(group)
    for record in records:
        if record.status == "failed":
            table.add_row(record.stack, f"FAILED: {record.reason}", *[""] * (len(groups) - 1))
            continue
        by_group = defaultdict(list)
        for result in record.cases:
            by_group[result.group].append(result)
        table.add_row(record.stack, *[_cell(by_group[g]) for g in groups])
    console.print(table)


def run(args: argparse.Namespace) -> int:
    records: list[RobustnessRecord] = []
    root, _ = robustness_run(args.stacks, args.model, args.results_dir, records.append)
    print_matrix(Console(), records)
    print(f"results in {root}")
    render_result(args, root)
    failed = any(r.outcome in ("fail", "undeclared") for record in records for r in record.cases)
    return 1 if failed or any(r.status == "failed" for r in records) else 0
