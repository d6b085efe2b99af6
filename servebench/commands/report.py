"""`servebench report [RUN_ID|latest]`: render a run's (or a soak's) HTML page from its result
files and refresh the index of all runs. Nothing is started or measured."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from servebench.report import soak
from servebench.report.render import (
    ANY,
    kind_of,
    resolve_run,
    write_index,
    write_run_report,
    write_soak_report,
)
from servebench.results.store import load_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="render a run's or a soak's HTML report from results/")
    parser.add_argument("run", nargs="?", default="latest",
                        help="run or soak id, its directory, or 'latest' (the newest of either)")
    parser.add_argument("--reference",
                        help="stack the others are compared with (default: the first measured)")
    parser.add_argument("--users", type=int,
                        help="level of the latency distribution plot (default: the highest)")
    parser.add_argument("--results-dir", default=os.environ.get("SERVEBENCH_RESULTS", "results"))
    parser.add_argument("--reports-dir", default=os.environ.get("SERVEBENCH_REPORTS", "reports"))
    parser.set_defaults(func=report)


def report(args: argparse.Namespace) -> int:
    results, reports = Path(args.results_dir), Path(args.reports_dir)
    root = resolve_run(results, args.run, ANY)
    if kind_of(root) == "soak":
        if args.reference is not None or args.users is not None:
            raise UserError(f"{root.name} is a soak: --reference and --users apply to measurement runs only")
        page = write_soak_report(soak.load(root), reports)
    else:
        page = write_run_report(load_run(root), reports, args.reference, args.users)
    index = write_index(results, reports)
    print(f"report: {page}")
    print(f"index:  {index}")
    return 0
