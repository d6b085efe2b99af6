"""`servebench` command line. Each subcommand lives in servebench/commands/<name>.py and
exposes `register(subparsers)`, which sets `func` on its parser."""

from __future__ import annotations

import argparse
import importlib
import sys

from servebench.errors import UserError

COMMANDS: tuple[str, ...] = (
    "stacks", "serve", "run", "soak", "capacity", "show", "check", "robustness", "compose", "k8s",
    "monitor", "worker",
    "report", "compare",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="servebench", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"servebench.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as error:
        print(f"servebench: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
