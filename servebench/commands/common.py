"""Flags and steps the run commands share: CPU pinning, a service already running, Locust workers
on other hosts, and rendering the report at the end."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from urllib.parse import urlsplit

from loadtests.cpus import CpuError, Pinning
from loadtests.generators.base import RemoteWorkers
from loadtests.session import External
from servebench.errors import UserError
from servebench.report.render import write_index, write_report
from servers.process import ExternalServer
from servers.registry import STACKS, flagship


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


def add_external_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("a service already running (servebench does not start it)")
    group.add_argument("--url", help="its base URL, http://HOST:PORT; measured instead of --stacks")
    group.add_argument("--label", help="its name in the results (default: HOST_PORT of the URL)")
    group.add_argument("--stack", dest="kind", choices=list(STACKS), default=flagship().name,
                       help="the registered stack it runs: its protocol, paths and declared "
                       "deviations (default: %(default)s)")
    group.add_argument("--no-bad-inputs", action="store_true",
                       help="verify with the golden answers and /info only, no bad inputs")


def external_from(args: argparse.Namespace) -> External | None:
    if not args.url:
        return None
    parsed = urlsplit(args.url)
    label = args.label or f"{parsed.hostname}_{parsed.port or 80}".replace(".", "_")
    if label in STACKS:
        raise UserError(f"--label {label}: a registered stack's name; choose another")
    try:
        ExternalServer(STACKS[args.kind], args.url, args.kind, Path(os.devnull))
    except ValueError as error:
        raise UserError(str(error)) from None
    return External(label=label, kind=args.kind, url=args.url.rstrip("/"), bad_inputs=not args.no_bad_inputs)


def add_remote_worker_flags(parser: argparse.ArgumentParser) -> None:
    env = os.environ.get
    group = parser.add_argument_group("Locust workers on other hosts (`servebench worker` on each)")
    group.add_argument("--locust-master", metavar="ADDRESS:PORT", default=env("SERVEBENCH_LOCUST_MASTER"),
                       help="where each measurement's Locust master binds: an address of this host "
                       "the workers reach")
    group.add_argument("--remote-workers", type=int, default=0,
                       help="how many workers each measurement waits for")
    group.add_argument("--workers-wait-s", type=float, default=RemoteWorkers.wait_s,
                       help="how long it waits for them (default %(default)gs)")
    group.add_argument("--server-host", default=env("SERVEBENCH_SERVER_HOST", "127.0.0.1"),
                       help="the address the stacks started here bind (one the workers reach)")


def remote_from(args: argparse.Namespace) -> RemoteWorkers | None:
    if not args.remote_workers and not args.locust_master:
        return None
    host, _, port = (args.locust_master or "").rpartition(":")
    if args.remote_workers < 1 or not host or not port.isdigit() or args.workers_wait_s <= 0:
        raise UserError("workers on other hosts need --locust-master ADDRESS:PORT, --remote-workers N "
                        "(at least 1) and a positive --workers-wait-s")
    return RemoteWorkers(bind=host, port=int(port), count=args.remote_workers, wait_s=args.workers_wait_s)
