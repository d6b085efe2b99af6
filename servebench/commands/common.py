"""Flags and steps every run command shares: CPU pinning, and rendering the report at the end."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from loadtests.cpus import CpuError, Pinning
from servebench.errors import UserError
from servebench.report.render import write_index, write_report


def add_pinning_flags(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    parser.add_argument("--server-cpus", default=env("SERVEBENCH_SERVER_CPUS"),
                        help="e.g. 1 (default: the last CPU)")
    parser.add_argument("--load-cpus", default=env("SERVEBENCH_LOAD_CPUS"),
                        help="e.g. 0 (default: every other CPU)")


def pinning_from(args: argparse.Namespace) -> Pinning:
    try:
        return Pinning.from_flags(args.server_cpus, args.load_cpus)
    except CpuError as error:
        raise UserError(str(error)) from None


def add_render_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-report", action="store_true", help="do not render the HTML report")
    parser.add_argument("--reports-dir", type=Path,
                        default=Path(os.environ.get("SERVEBENCH_REPORTS", "reports")))


def render_result(args: argparse.Namespace, root: Path) -> None:
    """The result's page and the index of every result; a rendering fault never hides the
    measurement, which is on disk either way, and a page that cannot be drawn never costs the
    index (which says why the page is missing)."""
    if args.no_report:
        return
    try:
        print(f"report: {write_report(root, args.reports_dir)}")
    except Exception as error:
        print(f"report not rendered ({type(error).__name__}: {error}); "
              f"retry with `servebench report {root.name}`")
    try:
        print(f"index:  {write_index(root.parent, args.reports_dir)}")
    except Exception as error:
        print(f"index not rendered ({type(error).__name__}: {error}); retry with `servebench report`")
