"""`servebench k8s [--stack NAME]`: render the Kubernetes example for one stack."""

from __future__ import annotations

import argparse
from typing import Any

from servebench.deploy import files
from servebench.deploy.k8s import DEFAULT_STACK
from servers.process import REPO_ROOT
from servers.registry import STACKS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("k8s", help="render deploy/k8s/<stack>.yaml (Deployment, Service, HPA)")
    parser.add_argument("--stack", choices=sorted(STACKS), default=DEFAULT_STACK)
    parser.add_argument("--image", help="image reference the Deployment runs (default: the stack's, "
                        "servebench:latest or servebench-<environment>:latest)")
    parser.add_argument("--stdout", action="store_true", help="print instead of writing the file")
    parser.add_argument("--check", action="store_true", help="fail if the committed file is stale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rendered = files.k8s_files(args.stack, args.image)
    if args.stdout:
        print("".join(rendered.values()), end="")
        return 0
    paths = files.emit(rendered, REPO_ROOT, args.check, f"servebench k8s --stack {args.stack}")
    print(("up to date: " if args.check else "wrote: ") + " ".join(paths))
    return 0
