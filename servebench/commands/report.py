"""`servebench report [RUN_ID|latest|latest-capacity|latest-soak]`: render a run's HTML page
(closed-loop, capacity or soak run) from its result files and refresh the index of all runs.
Nothing is started or measured."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from servebench.report import soak
from servebench.report.render import (
    resolve_any,
    write_capacity_report,
    write_index,
    write_run_report,
    write_soak_report,
)
from servebench.results.capacity import load_capacity_run
from servebench.results.store import load_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="render a run's HTML report from results/")
    parser.add_argument("run", nargs="?", default="latest",
                        help="run id, run directory, 'latest' (any kind), 'latest-capacity' or 'latest-soak'")
    parser.add_argument("--reference",
                        help="stack the others are compared with (default: the first measured)")
    parser.add_argument("--users", type=int,
                        help="level of the latency distribution plot (default: the highest)")
    parser.add_argument("--results-dir", default=os.environ.get("SERVEBENCH_RESULTS", "results"))
    parser.add_argument("--reports-dir", default=os.environ.get("SERVEBENCH_REPORTS", "reports"))
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    results, reports = Path(args.results_dir), Path(args.reports_dir)
    kind, root = resolve_any(results, args.run)
    if kind == "capacity":
        if args.reference or args.users:
            raise UserError("--reference and --users apply to closed-loop runs, not capacity runs")
        page = write_capacity_report(load_capacity_run(root), reports)
    elif kind == "soak":
        if args.reference or args.users:
            raise UserError("--reference and --users apply to closed-loop runs, not soak runs")
        page = write_soak_report(soak.load(root), reports)
    else:
        page = write_run_report(load_run(root), reports, args.reference, args.users)
    index = write_index(results, reports)
    print(f"report: {page}")
    print(f"index:  {index}")
    return 0
