"""`servebench compare RUN_A RUN_B`: per stack x workload x users deltas of B against A, as a
page and as a terminal table, with a warning for every way the two runs' setups differ."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from servebench.report.compare import compare_context
from servebench.report.render import render, resolve_run
from servebench.report.view import RunView
from servebench.results.store import load_run


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("compare", help="compare two runs (B relative to A)")
    parser.add_argument("run_a", help="run id, run directory or 'latest'")
    parser.add_argument("run_b", help="run id, run directory or 'latest'")
    parser.add_argument("--results-dir", default=os.environ.get("SERVEBENCH_RESULTS", "results"))
    parser.add_argument("--reports-dir", default=os.environ.get("SERVEBENCH_REPORTS", "reports"))
    parser.set_defaults(func=compare)


def _style(better: bool | None) -> str:
    return {True: "green", False: "red", None: ""}[better]


def print_comparison(console: Console, context: dict[str, Any]) -> None:
    table = Table(title=f"B {context['b'].run_id} vs A {context['a'].run_id}: change of the median "
                        "(* significant, ~ repeats overlap, ? one repeat)")
    for column in ("stack", "workload", "users", "req/s", "p50", "p99", "notes"):
        table.add_column(column, justify="left" if column in ("stack", "workload", "notes") else "right")
    for row in context["rows"]:
        cells = [f"[{_style(c.better)}]{c.text()}[/]" if _style(c.better) else c.text()
                 for c in (row.rps, row.p50, row.p99)]
        table.add_row(row.stack, row.workload, str(row.users), *cells, row.note)
    for warning in context["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    console.print(table)


def compare(args: argparse.Namespace) -> int:
    results, reports = Path(args.results_dir), Path(args.reports_dir)
    a = RunView(load_run(resolve_run(results, args.run_a)))
    b = RunView(load_run(resolve_run(results, args.run_b)))
    context = compare_context(a, b)
    out = reports / "compare" / f"{a.run_id}__{b.run_id}.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render("compare.html", context))
    print_comparison(Console(), context)
    print(f"page: {out}")
    return 0
