"""`servebench list`: the registered stacks, their knobs and declared deviations."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from servers.registry import STACKS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("list", help="list registered stacks and their knobs")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--markdown", action="store_true", help="the README's stacks table")
    parser.set_defaults(func=run)


def markdown_table() -> str:
    """The stacks table of README.md, rendered from the registry."""
    lines = [
        "| stack | what it is | knobs | declared deviations |",
        "|---|---|---|---|",
    ]
    for stack in STACKS.values():
        knobs = ", ".join(f"`{k}={v}`" for k, v in stack.knobs.items())
        deviations = "; ".join(d.summary for d in stack.deviations) or "none"
        lines.append(f"| `{stack.name}` | {stack.title}. {stack.description} | {knobs} | {deviations} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    if args.json:
        print(json.dumps({s.name: {"title": s.title, "knobs": dict(s.knobs),
                                   "port": s.default_port,
                                   "deviations": [d.summary for d in s.deviations]}
                          for s in STACKS.values()}, indent=2))
        return 0
    table = Table(title="servebench stacks", show_lines=True)
    for column in ("stack", "what", "knobs", "port", "declared deviations"):
        table.add_column(column)
    for stack in STACKS.values():
        knobs = "\n".join(f"{k}={v}" for k, v in stack.knobs.items())
        deviations = "\n".join(f"- {d.summary}" for d in stack.deviations) or "none"
        table.add_row(stack.name, stack.title, knobs, str(stack.default_port), deviations)
    Console().print(table)
    return 0
