"""`servebench compose`: render docker-compose.yml and monitoring/ from the registry."""

from __future__ import annotations

import argparse
from typing import Any

from servebench.deploy import files
from servers.process import REPO_ROOT


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("compose", help="render docker-compose.yml and monitoring/ configs")
    parser.add_argument("--check", action="store_true", help="fail if the committed files are stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    paths = files.emit(files.compose_files(), REPO_ROOT, args.check, "make compose")
    print(("up to date: " if args.check else "wrote: ") + " ".join(paths))
    return 0
