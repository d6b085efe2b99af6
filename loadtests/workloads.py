"""Workloads and run profiles, declared once.

A workload says *what* each simulated user sends (a weighted mix of request kinds); a run
profile says *how long and how hard* (concurrency levels, warm-up and measured seconds,
repeats). Users are closed-loop with no think time: each sends its next request as soon as
the previous answer arrives, so the offered load is set by the number of users.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Kind = Literal["single", "batch", "ready", "health"]
KINDS: tuple[Kind, ...] = ("single", "batch", "ready", "health")
PREDICTION_KINDS: tuple[Kind, ...] = ("single", "batch")
# The contract path (servers/contract.py PATHS) each kind is sent to.
PATH_OF: Mapping[Kind, str] = MappingProxyType(
    {"single": "predict", "batch": "batch", "ready": "ready", "health": "health"}
)


@dataclass(frozen=True)
class Step:
    """One kind of request and its relative weight in the mix."""

    kind: Kind
    weight: int
    batch_min: int = 1  # rows per batch request, drawn uniformly in [batch_min, batch_max]
    batch_max: int = 1


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    mix: tuple[Step, ...]

    def kinds(self) -> tuple[Kind, ...]:
        return tuple(step.kind for step in self.mix)


@dataclass(frozen=True)
class RunProfile:
    name: str
    description: str
    workloads: tuple[str, ...]
    users: tuple[int, ...]
    warmup_s: float
    measure_s: float
    repeats: int
    drain_timeout_s: float = 30.0  # longest wait for in-flight requests at a phase boundary
    # A name in loadtests.generators, or "auto": per workload, the least intrusive generator
    # that can drive it here (wrk for one kind of request where installed, Locust for mixes).
    generator: str = "auto"


_WORKLOADS = (
    Workload("single", "single predictions only, one payload row (its answer known) per request",
             (Step("single", 1),)),
    Workload("batch", "batch predictions only, 5-20 payload rows per request",
             (Step("batch", 1, 5, 20),)),
    Workload(
        "seed_mix",
        "the seed article's mix: 8 single : 2 batch (5-20 rows) : 1 readiness probe",
        (Step("single", 8), Step("batch", 2, 5, 20), Step("ready", 1)),
    ),
    Workload(
        "ceiling",
        "liveness probes only: the same server's framework ceiling, with no model and no body "
        "to validate, measured in the same run as the predictions it bounds",
        (Step("health", 1),),
    ),
)
WORKLOADS: Mapping[str, Workload] = MappingProxyType({w.name: w for w in _WORKLOADS})
PREDICTION_WORKLOADS = ("single", "batch", "seed_mix")

# Durations: `quick` fits in ~3 minutes; `full` measures 1 s windows after 0.5 s warm-ups in
# three fresh processes: every registered stack (15) in 18.6 minutes on a 2-core machine. Its
# 1 s windows did not widen the repeats' median spread at p50 and req/s by more than a point
# against 2 s windows, nor did the 0.5 s wrk warm-up (1 s before) widen that median. `servebench
# run` prints the estimate computed from loadtests/run.py's overheads.
_PROFILES = (
    RunProfile("quick", "one short look at each stack: single and seed_mix at 16 users, once",
               workloads=("single", "seed_mix"), users=(16,), warmup_s=0.5, measure_s=2.0, repeats=1),
    RunProfile("full", "every prediction workload at 1, 8 and 64 users, three repeats each",
               workloads=PREDICTION_WORKLOADS, users=(1, 8, 64), warmup_s=0.5, measure_s=1.0, repeats=3),
    # wrk: our stacks answer more requests a second than one core of Locust can send and time.
    RunProfile("perf", "single predictions against the framework ceiling at 1, 8, 32 and 64 users, "
               "three repeats each, driven by wrk", workloads=("single", "ceiling"),
               users=(1, 8, 32, 64), warmup_s=1.0, measure_s=3.0, repeats=3, generator="wrk"),
)
RUN_PROFILES: Mapping[str, RunProfile] = MappingProxyType({p.name: p for p in _PROFILES})
