"""`servebench list`: the registered stacks, their knobs and declared deviations."""

from __future__ import annotations

import argparse
import json
import sys
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
    """The README's stacks table: one line per stack (docs/stacks.md has every detail)."""
    lines = [
        "| stack | what it is | role | protocol | declared deviations |",
        "|---|---|---|---|---|",
    ]
    for stack in STACKS.values():
        count = len(stack.deviations)
        deviations = f"[{count}](docs/stacks.md#{stack.name})" if count else "none"
        lines.append(f"| `{stack.name}` | {stack.title} | {stack.role} | {stack.protocol.name} "
                     f"| {deviations} |")
    return "\n".join(lines)


def markdown_details() -> str:
    """docs/stacks.md: every stack with its description, knobs and declared deviations."""
    parts = ["# The stacks\n", "Generated from `servers/registry.py` by `make readme`; `make stacks` shows "
             "the same with the exact command each one runs.\n"]
    for stack in STACKS.values():
        knobs = ", ".join(f"`{k}={v}`" for k, v in stack.knobs.items())
        own = ", its own environment" if stack.python != sys.executable else ""
        parts.append(f"## {stack.name}\n\n**{stack.title}** ({stack.role}, protocol "
                     f"`{stack.protocol.name}`{own}). {stack.description}\n\nKnobs: {knobs}.\n")
        if stack.deviations:
            listed = "\n".join(f"- {d.summary}" for d in stack.deviations)
            parts.append(f"Declared deviations:\n\n{listed}\n")
    return "\n".join(parts)


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
