"""Run one Locust measurement as subprocesses pinned to the load CPUs, sampling both sides.

Local mode is one Locust process; with `workers > 0` it is Locust's own master/worker mode:
one master (which only coordinates) and N worker processes on loopback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from loadtests.sampling import CpuSample, ProcessSource, Sample, Sampler
from servebench.results.schema import Generator
from servers.process import REPO_ROOT, free_port

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
STARTUP_ALLOWANCE_S = 30.0  # Locust's imports on a busy 2-core machine, with room to spare


@dataclass(frozen=True)
class GeneratorSettings:
    load_cpus: tuple[int, ...] | None
    workers: int = 0  # 0: a single local Locust process
    tool: Generator = "locust"  # wrk: see loadtests/wrk_generator.py

    def pin(self, argv: list[str]) -> list[str]:
        if not self.load_cpus:
            return argv
        return ["taskset", "--cpu-list", ",".join(map(str, self.load_cpus)), *argv]


@dataclass
class LocustRun:
    commands: list[list[str]]
    exit_codes: list[int | None]
    output: dict[str, Any] | None
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    cpu_samples: list[CpuSample] = field(default_factory=list)
    timed_out: bool = False


def _base(spawn_rate: int, locustfile: Path) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless", "--only-summary",
            "--loglevel", "WARNING", "--exit-code-on-error", "0", "--spawn-rate", str(spawn_rate)]


def commands(settings: GeneratorSettings, host: str, users: int, run_time_s: int,
             locustfile: Path = LOCUSTFILE) -> list[list[str]]:
    spawn_rate = max(1, users * 10)  # all users up within a fraction of the warm-up
    base = _base(spawn_rate, locustfile)
    master = [*base, "--host", host, "--users", str(users), "--run-time", f"{run_time_s}s"]
    if settings.workers == 0:
        return [settings.pin(master)]
    port = free_port()
    master += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
               "--expect-workers", str(settings.workers)]
    worker = [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return [settings.pin(master), *[settings.pin(worker) for _ in range(settings.workers)]]


def _stop_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def run_locust(plan: dict[str, Any], users: int, settings: GeneratorSettings, out_dir: Path,
               server: ProcessSource, locustfile: Path = LOCUSTFILE,
               server_uss_every_s: float | None = None) -> LocustRun:
    """One measurement: warm-up then measured phase, as declared in `plan`; never hangs.

    `server_uss_every_s`: also read the server processes' unique memory that often."""
    out_dir.mkdir(parents=True, exist_ok=False)
    output_path = out_dir / "locust-result.json"
    plan = {**plan, "out": str(output_path)}
    (out_dir / "plan.json").write_text(json.dumps(plan, indent=1))
    run_time = int(plan["warmup_s"] + plan["measure_s"] + 2 * (plan["drain_timeout_s"] + 5) + 10)
    argvs = commands(settings, plan["host"], users, run_time, locustfile)
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
        uss = {"server": server_uss_every_s} if server_uss_every_s else None
        with Sampler({"server": server, "generator": generator}, uss_every_s=uss) as sampler:
            try:
                procs[0].wait(timeout=run_time + STARTUP_ALLOWANCE_S)
            except subprocess.TimeoutExpired:
                timed_out = True
            for worker in procs[1:]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    worker.wait(timeout=10)
    finally:
        for proc in procs:
            _stop_group(proc)
    output = json.loads(output_path.read_text()) if output_path.exists() else None
    return LocustRun(argvs, [p.returncode for p in procs], output, sampler.samples, sampler.cpus,
                     timed_out)
