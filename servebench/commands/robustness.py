"""`servebench robustness`: the BAD corpus against every stack, as a stacks x groups matrix."""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from servebench.provenance import git_commit, git_dirty, machine
from servebench.robustness import CaseResult, as_dicts, probe
from servers.process import ServerProcess, StackFailed
from servers.registry import STACKS

SCHEMA = "servebench-robustness"
VERSION = 1  # 1 - per stack: status, log tail if it failed, and one CaseResult per case


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("robustness", help="bad-input corpus against every stack")
    parser.add_argument("--stacks", nargs="+", choices=sorted(STACKS), default=list(STACKS))
    parser.add_argument("--out", type=Path, default=Path("results/robustness"))
    parser.set_defaults(func=run)


def _cell(results: list[CaseResult]) -> str:
    counts = defaultdict(int)
    for result in results:
        counts[result.outcome] += 1
    parts = [f"{counts['pass']}/{len(results)}"]
    parts += [f"{counts[k]} {k}" for k in ("declared", "undeclared", "fail") if counts[k]]
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    document: dict[str, Any] = {
        "schema": SCHEMA, "version": VERSION, "created_unix": int(time.time()),
        "commit": git_commit(), "dirty": git_dirty(), "machine": machine(), "stacks": {},
    }
    matrix: dict[str, list[CaseResult]] = {}
    for name in args.stacks:
        try:
            with ServerProcess(STACKS[name]) as server:
                matrix[name] = probe(server)
            document["stacks"][name] = {"status": "ok", "cases": as_dicts(matrix[name])}
        except StackFailed as error:
            document["stacks"][name] = {"status": "failed", "reason": error.reason,
                                        "log_tail": error.log_tail}
    groups = sorted({r.group for results in matrix.values() for r in results})
    table = Table(title="robustness: passed/total per case group (pass = the contract's status "
                        "and ErrorBody)")
    table.add_column("stack")
    for group in groups:
        table.add_column(group)
    for name in args.stacks:
        if name not in matrix:
            table.add_row(name, *["FAILED TO START"] + [""] * (len(groups) - 1))
            continue
        by_group = defaultdict(list)
        for result in matrix[name]:
            by_group[result.group].append(result)
        table.add_row(name, *[_cell(by_group[g]) for g in groups])
    Console().print(table)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"robustness-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(document, indent=1))
    print(f"written {path}")
    failed = any(r.outcome in ("fail", "undeclared") for results in matrix.values() for r in results)
    return 1 if failed or len(matrix) < len(args.stacks) else 0
