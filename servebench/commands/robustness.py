"""`servebench robustness`: the bad-input corpus and the connection-level cases against every
stack, as a stacks x groups matrix, then each stack under scarce resources."""

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
from servebench.errors import UserError
from servebench.results.kinds import CaseResult, RobustnessRecord
from servers.knobs import stack_variant
from servers.registry import STACKS
from shared_model.profiles import PROFILES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "robustness", help="bad input, hostile connections and scarce resources against every stack")
    parser.add_argument("--stacks", nargs="+", default=list(STACKS), metavar="STACK[:KNOB=VALUE,...]",
                        help="registered stacks, or a configuration of one (e.g. "
                        "flask_gunicorn:worker_class=sync) to compare with it in the same run")
    parser.add_argument("--no-limits", action="store_true",
                        help="skip the second session of each stack, under open-files and memory limits")
    env = os.environ.get
    parser.add_argument("--model", choices=list(PROFILES), default=env("SERVEBENCH_MODEL", "default"))
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
    groups = list(dict.fromkeys(r.group for record in records for r in record.cases))
    table = Table(title="robustness: passed/total per case group (pass = the contract's answer)")
    table.add_column("stack")
    for group in groups:
        table.add_column(group)
    for record in records:
        if record.status == "failed":
            table.add_row(record.record_id, f"FAILED: {record.reason}", *[""] * (len(groups) - 1))
            continue
        by_group = defaultdict(list)
        for result in record.cases:
            by_group[result.group].append(result)
        table.add_row(record.record_id, *[_cell(by_group[g]) for g in groups])
    console.print(table)
    problems = Table(title="answers that did not pass")
    for column in ("stack", "case", "outcome", "status", "what happened"):
        problems.add_column(column)
    for record in records:
        for case in record.cases:
            if case.outcome != "pass":
                problems.add_row(record.record_id, case.case, case.outcome,
                                 "-" if case.status is None else str(case.status), case.detail)
    if problems.row_count:
        console.print(problems)
    print_limits(console, records)


def print_limits(console: Console, records: list[RobustnessRecord]) -> None:
    table = Table(title="scarce resources: each stack loaded until it hits its limit")
    for column in ("stack", "resource", "limit", "clients", "clients saw", "recovered", "lost silently"):
        table.add_column(column)
    for record in records:
        if record.limits_status == "failed":
            table.add_row(record.record_id, "-", f"FAILED: {record.limits_reason}", "", "", "", "")
        for limit in record.limits:
            lost = f"{limit.wrong_answers} wrong answers" + (
                f", {limit.uncounted_failures} failures not counted, {limit.unreceived_predictions} "
                "predictions no client received" if limit.uncounted_failures is not None
                else ", no contract counters")
            table.add_row(record.record_id, limit.resource, limit.limit,
                          " ".join(str(s.clients) for s in limit.steps), limit.client_saw,
                          ("yes: " if limit.recovered else "NO: ") + limit.recovery, lost)
    if table.row_count:
        console.print(table)
        if any(r.limits for r in records):
            console.print(f"limits set with {next(r.limits for r in records if r.limits)[0].method}")


def run(args: argparse.Namespace) -> int:
    for spec in args.stacks:
        try:
            stack_variant(spec, STACKS)
        except ValueError as error:
            raise UserError(str(error)) from None
    records: list[RobustnessRecord] = []
    root, _ = robustness_run(args.stacks, args.model, args.results_dir, records.append,
                             limits=not args.no_limits)
    print_matrix(Console(), records)
    print(f"results in {root}")
    render_result(args, root)
    failed = any(r.outcome in ("fail", "undeclared") for record in records for r in record.cases)
    return 1 if failed or any(r.status == "failed" for r in records) else 0
