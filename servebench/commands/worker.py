"""`servebench worker --master ADDRESS:PORT`: lend this host's CPUs to runs on another host.

Each measurement of a run has its own Locust master; this command starts a Locust worker that
joins it (fetching the master's locustfile and the plan from it), and when the measurement is
over starts the next one, until interrupted or `--measurements` have been served. Run it on
each load host, then `servebench run --locust-master ADDRESS:PORT --remote-workers N ...` on
the host that measures. Both hosts need the same servebench checkout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import threading
import time
from types import FrameType
from typing import Any

from loadtests.cpus import CpuError, parse
from loadtests.generators.base import GeneratorSettings
from loadtests.generators.locust import worker_command
from servebench.errors import UserError
from servers.process import REPO_ROOT

RETRY_AFTER_S = 1.0  # after a worker that could not join (no master yet): do not spin


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="join runs on another host as Locust workers")
    parser.add_argument("--master", required=True, metavar="ADDRESS:PORT",
                        help="the run's --locust-master")
    parser.add_argument("--processes", type=int, default=1,
                        help="Locust worker processes on this host (one per spare core)")
    parser.add_argument("--load-cpus", default=os.environ.get("SERVEBENCH_LOAD_CPUS"),
                        help="pin the workers to these CPUs, e.g. 0,1")
    parser.add_argument("--measurements", type=int,
                        help="stop after this many measurements per process (default: never)")
    parser.set_defaults(func=work)


class Slot:
    """One worker process at a time, restarted for each measurement."""

    def __init__(self, argv: list[str], measurements: int | None, stopping: threading.Event) -> None:
        self.argv = argv
        self.measurements = measurements
        self.stopping = stopping
        self.proc: subprocess.Popen[bytes] | None = None
        self.served = 0

    def run(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, (str(REPO_ROOT), os.environ.get("PYTHONPATH"))))}
        while not self.stopping.is_set() and (self.measurements is None or self.served < self.measurements):
            started = time.monotonic()
            self.proc = subprocess.Popen(self.argv, cwd=REPO_ROOT, env=env, start_new_session=True)
            code = self.proc.wait()
            if self.stopping.is_set():
                return
            self.served += 1
            print(f"servebench worker: measurement {self.served} done (exit code {code}, "
                  f"{time.monotonic() - started:.0f}s)", flush=True)
            if code != 0:
                self.stopping.wait(RETRY_AFTER_S)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def work(args: argparse.Namespace) -> int:
    host, _, port = args.master.rpartition(":")
    if not host or not port.isdigit() or args.processes < 1:
        raise UserError("--master ADDRESS:PORT and --processes of at least 1")
    try:
        cpus = parse(args.load_cpus)
    except CpuError as error:
        raise UserError(str(error)) from None
    argv = GeneratorSettings(cpus).pin(worker_command(args.master))
    stopping = threading.Event()
    slots = [Slot(argv, args.measurements, stopping) for _ in range(args.processes)]

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"servebench worker: {args.processes} Locust worker process(es) for the master at "
          f"{args.master}, CPUs {cpus or 'any'}; Ctrl-C to stop", flush=True)
    threads = [threading.Thread(target=slot.run, daemon=True) for slot in slots]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads) and not stopping.is_set():
        stopping.wait(0.5)
    for slot in slots:
        slot.stop()
    for thread in threads:
        thread.join(timeout=15)
    return 0
