"""`servebench report [RUN_ID|latest|latest-KIND]`: render a result's HTML page (any kind: run,
capacity, soak, robustness, check) from its files and refresh the index of all results.
Nothing is started or measured."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from servebench.report.render import resolve_any, write_index, write_report


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="render a run's HTML report from results/")
    parser.add_argument("run", nargs="?", default="latest",
                        help="run id, run directory, 'latest' (any kind) or 'latest-KIND' (e.g. latest-soak)")
    parser.add_argument("--reference",
                        help="stack the others are compared with (default: the one the run declared as "
                        "the reference, else the first measured)")
    parser.add_argument("--users", type=int,
                        help="level of the latency distribution plot (default: the highest)")
    parser.add_argument("--p99-budget-ms", type=float,
                        help="the p99 budget of the throughput verdict, in ms (default: a multiple of "
                        "the lowest p99 the run measured at its lowest level; see docs/reports.md)")
    parser.add_argument("--results-dir", default=os.environ.get("SERVEBENCH_RESULTS", "results"))
    parser.add_argument("--reports-dir", default=os.environ.get("SERVEBENCH_REPORTS", "reports"))
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    results, reports = Path(args.results_dir), Path(args.reports_dir)
    _, root = resolve_any(results, args.run)
    page = write_report(root, reports, args.reference, args.users, args.p99_budget_ms)
    index = write_index(results, reports)
    print(f"report: {page}")
    print(f"index:  {index}")
    return 0
