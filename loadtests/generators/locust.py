"""Locust as a generator: subprocesses pinned to the load CPUs, both sides sampled meanwhile.

Local mode is one Locust process; with `workers > 0` it is Locust's own master/worker mode:
one master (which only coordinates) and N worker processes on loopback. The locustfiles
(loadtests/locustfile.py closed and paced, loadtests/openloop_locustfile.py open) read the plan
from SERVEBENCH_LOCUST_PLAN and write their output next to it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import psutil
from pydantic import ValidationError

from loadtests.generators.base import Driven, GeneratorSettings, Loop
from loadtests.plans import WORKERS_FILE, ClosedOutput, ClosedPlan, OpenOutput, OpenPlan
from loadtests.sampling import Sampler, Source
from loadtests.workloads import Workload
from servers.process import REPO_ROOT, free_port, tail

CLOSED_LOCUSTFILE = REPO_ROOT / "loadtests" / "locustfile.py"
OPEN_LOCUSTFILE = REPO_ROOT / "loadtests" / "openloop_locustfile.py"
STARTUP_ALLOWANCE_S = 30.0  # Locust's imports on a busy 2-core machine, with room to spare
OUTPUT = "locust-result.json"


def _base(spawn_rate: int, locustfile: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "0", "--spawn-rate", str(spawn_rate)]


def commands(settings: GeneratorSettings, host: str, users: int, run_time_s: int,
             locustfile: Path) -> list[list[str]]:
    """The master's command first, then the local workers'; none but the master's when it is
    one local process."""
    spawn_rate = max(1, users * 10)  # all users up within a fraction of the warm-up
    base = _base(spawn_rate, locustfile)
    master = [*base, "--host", host, "--users", str(users), "--run-time", f"{run_time_s}s"]
    remote = settings.remote
    if settings.workers == 0 and remote is None:
        return [settings.pin(master)]
    bind, port = (remote.bind, remote.port) if remote else ("127.0.0.1", free_port())
    master += ["--master", "--master-bind-host", bind, "--master-bind-port", str(port),
               "--expect-workers", str(settings.workers + (remote.count if remote else 0))]
    if remote:
        master += ["--expect-workers-max-wait", str(int(remote.wait_s))]
    worker = [*base, "--worker", "--master-host", bind, "--master-port", str(port)]
    return [settings.pin(master), *[settings.pin(worker) for _ in range(settings.workers)]]


def worker_command(master: str) -> list[str]:
    """What `servebench worker` runs for each measurement: a Locust worker that fetches the
    master's locustfile (Locust's `-f -`) and, once connected, the plan."""
    host, _, port = master.rpartition(":")
    return [sys.executable, "-m", "locust", "-f", "-", "--worker", "--master-host", host,
            "--master-port", port, "--loglevel", "WARNING"]


def _missing_workers(out_dir: Path, settings: GeneratorSettings) -> str | None:
    """Which workers did not come, when the master waited for some in vain."""
    remote = settings.remote
    if remote is None:
        return None
    path = out_dir / WORKERS_FILE
    connected = json.loads(path.read_text()) if path.exists() else []
    expected = settings.workers + remote.count
    if len(connected) >= expected:
        return None
    return (f"{len(connected)} of {expected} Locust workers connected within {remote.wait_s:.0f}s "
            f"({', '.join(connected) or 'none'}): {expected - len(connected)} missing; run "
            f"`servebench worker --master {remote.address}` on each load host")


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_locust(plan: ClosedPlan | OpenPlan, users: int, run_time_s: int, settings: GeneratorSettings,
               out_dir: Path, server: Source, locustfile: Path,
               uss_every_s: float | None = None) -> Driven:
    """One Locust run as the plan declares it; never hangs. `uss_every_s`: also read the server
    processes' unique memory that often."""
    out_dir.mkdir(parents=True, exist_ok=False)
    output_path = out_dir / OUTPUT
    plan = plan.model_copy(update={"out": str(output_path)})
    (out_dir / "plan.json").write_text(plan.model_dump_json(indent=1))
    argvs = commands(settings, plan.host, users, run_time_s, locustfile)
    env = {**os.environ, "SERVEBENCH_LOCUST_PLAN": str(out_dir / "plan.json"), "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    handles: list[psutil.Process] = []
    try:
        for index, argv in enumerate(argvs):
            name = "master" if index == 0 and len(argvs) > 1 else f"worker{index}" if index else "locust"
            with open(out_dir / f"{name}.log", "wb") as log:
                proc = subprocess.Popen(argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            procs.append(proc)
            handles.append(psutil.Process(proc.pid))

        def generator() -> Sequence[psutil.Process]:
            return [h for h in handles if h.is_running()]

        timed_out = False
        uss = {"server": uss_every_s} if uss_every_s else None
        with Sampler({"server": server, "generator": generator}, uss_every_s=uss) as sampler:
            waits_for_workers = settings.remote.wait_s if settings.remote else 0.0
            try:
                procs[0].wait(timeout=run_time_s + STARTUP_ALLOWANCE_S + waits_for_workers)
            except subprocess.TimeoutExpired:
                timed_out = True
            for worker in procs[1:]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(timeout=10)
    finally:
        for proc in procs:
            _stop_group(proc)
    output_type = ClosedOutput if isinstance(plan, ClosedPlan) else OpenOutput
    output: ClosedOutput | OpenOutput | None = None
    failure = None
    try:
        output = output_type.model_validate_json(output_path.read_text()) if output_path.exists() else None
    except ValidationError as error:
        failure = f"unreadable output: {error}"
    if output is None and failure is None:
        failure = _missing_workers(out_dir, settings) or (
            "timed out" if timed_out else f"no result (exit codes {[p.returncode for p in procs]})")
    logs = sorted(out_dir.glob("*.log"))
    return Driven(output, argvs, out_dir, failure, tail(logs[0]) if logs and output is None else "",
                  sampler.samples, sampler.cpus)


class Locust:
    name = "locust"
    description = ("Locust (FastHttpUser), one process or a master and workers; every answer is "
                   "checked, mixes of request kinds supported")
    loops: tuple[Loop, ...] = ("closed", "paced", "open")
    windows = True
    drains = True

    def unavailable(self) -> str | None:
        return None  # a dependency of servebench itself

    def unsupported(self, workload: Workload) -> str | None:
        return None

    def closed(self, plan: ClosedPlan, users: int, settings: GeneratorSettings, raw_dir: Path,
               server: Source, uss_every_s: float | None = None) -> Driven:
        run_time = int(plan.warmup_s + plan.measure_s + 2 * (plan.drain_timeout_s + 5) + 10)
        return run_locust(plan, users, run_time, settings, raw_dir, server, CLOSED_LOCUSTFILE, uss_every_s)

    def open(self, plan: OpenPlan, settings: GeneratorSettings, raw_dir: Path,
             server: Source) -> Driven:
        total = sum(segment.duration_s for segment in plan.segments)
        run_time = int(total + 2 * (plan.drain_timeout_s + 5) + 10)
        return run_locust(plan, plan.processes, run_time, settings, raw_dir, server, OPEN_LOCUSTFILE)
