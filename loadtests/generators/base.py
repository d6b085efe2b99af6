"""What a load generator is to the engine: a declaration and two ways of driving a stack.

A generator says which loops it can drive (closed: each user sends when its answer is in;
paced: closed, at a set rate per user, the measured phase cut into windows; open: requests
on a schedule, answered or not) and which workloads; the engine refuses the rest with the
generator's own reason before anything starts. Its output is the same typed data whichever
generator produced it, so a record never depends on which one did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from loadtests.plans import ClosedOutput, ClosedPlan, OpenOutput, OpenPlan
from loadtests.sampling import CpuSample, Sample, Source
from loadtests.workloads import Workload

Loop = Literal["closed", "paced", "open"]


@dataclass(frozen=True)
class RemoteWorkers:
    """Locust workers on other hosts: each runs `servebench worker --master BIND:PORT`, and
    every measurement's master binds there and waits for `count` of them."""

    bind: str  # an address of this host the workers reach
    port: int
    count: int
    wait_s: float = 120.0  # per measurement: how long the master waits for them to connect

    @property
    def address(self) -> str:
        return f"{self.bind}:{self.port}"


@dataclass(frozen=True)
class GeneratorSettings:
    load_cpus: tuple[int, ...] | None
    workers: int = 0  # Locust: 0 is one local process; N a master and N worker processes
    remote: RemoteWorkers | None = None  # Locust: workers on other hosts, besides the local ones

    def pin(self, argv: list[str]) -> list[str]:
        if not self.load_cpus:
            return argv
        return ["taskset", "--cpu-list", ",".join(map(str, self.load_cpus)), *argv]


@dataclass
class Driven:
    """One drive of a stack: the generator's output (None when it gave none, with `failure`),
    its commands, and the server's and the generator's processes sampled meanwhile."""

    output: ClosedOutput | OpenOutput | None
    commands: list[list[str]]
    raw_dir: Path
    failure: str | None = None
    log_tail: str = ""
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    cpu_samples: list[CpuSample] = field(default_factory=list)
    # Rows the server's count may differ from the generator's, either way: requests in flight at
    # the window's edges, for a generator that cannot drain.
    slack_rows: int = 0


class Generator(Protocol):
    name: str
    description: str
    loops: tuple[Loop, ...]
    windows: bool  # times each answer as it comes, so a phase can be cut into windows
    # Ends a phase only once its own requests are answered; if not, the phase's end is judged
    # by the server's prediction counter, which a stack without one cannot give.
    drains: bool

    def unavailable(self) -> str | None:
        """Why it cannot run on this machine (not installed...), or None."""

    def unsupported(self, workload: Workload) -> str | None:
        """Why it cannot drive this workload, or None."""

    def closed(self, plan: ClosedPlan, users: int, settings: GeneratorSettings, raw_dir: Path,
               server: Source, uss_every_s: float | None = None) -> Driven:
        """A closed-loop (or paced) measurement: warm-up, then the measured phase."""

    def open(self, plan: OpenPlan, settings: GeneratorSettings, raw_dir: Path,
             server: Source) -> Driven:
        """An open-loop step: every request sent at its scheduled time."""


class GeneratorRefused(ValueError):
    """A generator asked for a loop, a workload or a machine it cannot handle."""
