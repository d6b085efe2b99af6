"""`servebench serve STACK`: run one stack in the foreground as a real service."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from servers.process import REPO_ROOT
from servers.registry import STACKS, Stack, get_stack

KNOB_ENV_PREFIX = "SERVEBENCH_KNOB_"


def parse_knobs(pairs: list[str]) -> dict[str, Any]:
    knobs: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise UserError(f"--knob takes NAME=VALUE, got {pair!r}")
        try:
            knobs[name] = int(raw)
        except ValueError:
            try:
                knobs[name] = float(raw)
            except ValueError:
                knobs[name] = raw
    return knobs


def knob_env_name(knob: str) -> str:
    return KNOB_ENV_PREFIX + knob.upper()


def env_knobs(stack: Stack, environ: Mapping[str, str]) -> dict[str, Any]:
    """Knobs set as SERVEBENCH_KNOB_<NAME> (how containers carry them); --knob still wins."""
    return parse_knobs(
        [f"{knob}={environ[knob_env_name(knob)]}" for knob in stack.knobs if knob_env_name(knob) in environ]
    )


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
