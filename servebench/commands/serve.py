"""`servebench serve STACK`: run one stack in the foreground as a real service."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from servers.knobs import env_knobs, parse_knobs
from servers.process import REPO_ROOT
from servers.registry import STACKS, get_stack


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run one stack in the foreground")
    parser.add_argument("stack", choices=sorted(STACKS))
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 to expose it")
    parser.add_argument("--port", type=int, help="default: the stack's registered port")
    parser.add_argument("--knob", action="append", default=[], metavar="NAME=VALUE")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        declared = get_stack(args.stack)
        stack = declared.with_knobs(**{**env_knobs(declared, os.environ), **parse_knobs(args.knob)})
    except ValueError as error:
        raise UserError(str(error)) from None
    argv = stack.command(args.host, args.port or stack.default_port)
    env = {**os.environ, **stack.env()}
    if stack.aggregates_metrics and "PROMETHEUS_MULTIPROC_DIR" not in env:
        # SERVEBENCH_RUN_DIR: a writable place when the code itself is read-only (an image).
        run_dir = Path(os.environ.get("SERVEBENCH_RUN_DIR") or REPO_ROOT / ".run")
        directory = run_dir / f"prometheus-{stack.name}"
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    print(" ".join(argv), file=sys.stderr, flush=True)
    os.chdir(REPO_ROOT)
    os.execvpe(argv[0], argv, env)
