"""`servebench report [RUN_ID|latest]`: render a run's HTML page from its result files and
refresh the index of all runs. Nothing is started or measured."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from servebench.report.render import resolve_run, write_index, write_run_report
from servebench.results.store import load_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="render a run's HTML report from results/")
    parser.add_argument("run", nargs="?", default="latest", help="run id, run directory or 'latest'")
    parser.add_argument("--reference",
                        help="stack the others are compared with (default: the first measured)")
    parser.add_argument("--users", type=int,
                        help="level of the latency distribution plot (default: the highest)")
    parser.add_argument("--results-dir", default=os.environ.get("SERVEBENCH_RESULTS", "results"))
    parser.add_argument("--reports-dir", default=os.environ.get("SERVEBENCH_REPORTS", "reports"))
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    results, reports = Path(args.results_dir), Path(args.reports_dir)
    page = write_run_report(load_run(resolve_run(results, args.run)), reports, args.reference, args.users)
    index = write_index(results, reports)
    print(f"report: {page}")
    print(f"index:  {index}")
    return 0
