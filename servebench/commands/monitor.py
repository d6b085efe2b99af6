"""`servebench monitor`: a real Prometheus on loopback scraping the stacks you run.

Without --target it scrapes every registered stack on its default port, where
`servebench serve STACK` (and `make serve`) puts it; stacks not running show as down.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from servebench.deploy.prometheus_config import ScrapeTarget
from servebench.errors import UserError
from servebench.prometheus import PrometheusError, PrometheusServer
from servers.registry import STACKS, get_stack


def parse_target(text: str) -> ScrapeTarget:
    name, sep, address = text.partition("=")
    if not sep or ":" not in address:
        raise UserError(f"--target takes STACK=HOST:PORT, got {text!r}")
    try:
        return ScrapeTarget(get_stack(name), address)
    except KeyError as error:
        raise UserError(str(error.args[0])) from None


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("monitor", help="run Prometheus on loopback, scraping the stacks")
    parser.add_argument("--target", action="append", default=[], metavar="STACK=HOST:PORT",
                        help="repeatable; default: every stack on 127.0.0.1:<its default port>")
    parser.add_argument("--port", type=int, default=9090, help="Prometheus's own port (loopback)")
    parser.add_argument("--scrape-interval", default="5s")
    parser.add_argument("--storage", type=Path, help="keep the data here (default: a temp dir, removed)")
    parser.add_argument("--duration", type=float, default=0.0, help="seconds to run; 0 = until Ctrl-C")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    targets = [parse_target(t) for t in args.target] or [
        ScrapeTarget(stack, f"127.0.0.1:{stack.default_port}") for stack in STACKS.values()
    ]
    server = PrometheusServer(targets, port=args.port, scrape_interval=args.scrape_interval,
                              workdir=args.storage)
    try:
        with server:
            print(f"prometheus on {server.url} (config {server.config_path}); Ctrl-C stops it")
            for target in targets:
                print(f"  scraping {target.stack.name} at http://{target.address}{target.metrics_path}")
            deadline = time.monotonic() + args.duration if args.duration else None
            while deadline is None or time.monotonic() < deadline:
                time.sleep(0.5)
    except PrometheusError as error:
        raise UserError(str(error)) from None
    return 0
