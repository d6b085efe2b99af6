"""Capacity runs: open-loop latency-vs-offered-rate curves per stack (since schema version 2).

Layout of a capacity run directory, never overwritten:
    results/<run_id>/capacity.json               CapacityRun: header, settings, record ids
    results/<run_id>/records/<record_id>.json    CapacityRecord: one stack x model x workers
    results/<run_id>/logs/<record_id>.log        the server's own output
    results/<run_id>/locust/<record_id>/<step>/  plan, raw per-request columns, Locust logs

Latency is measured from each request's *intended* send time (open loop); Locust's own
response time (from the actual send) is kept beside it as `service_latency`. A request due
while the generator's outstanding cap was reached waited for a connection (`capped`; the wait
is part of its latency) or was given up after the timeout (`not_sent`, `never_sent`): nothing
due is left out of a window.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from servebench.results.schema import Latency, Resources, RunHeader, StackLaunch, Topology, _Model

Verdict = Literal["pass", "fail", "invalid"]


class GeneratorCheck(_Model):
    """Did the load generator send on schedule? A step it could not drive is invalid."""

    target_rps: float
    achieved_rps: float  # sends attempted / time from the window's start to the last send
    send_lag_ms: dict[str, float]  # actual minus intended send time: p50 p99 max
    valid: bool
    reasons: list[str]  # why not valid: rate_short, send_lag, generator_bound, not_drained, ...


class Window(_Model):
    """One stretch of a step at one offered rate (warm-up, measured, overload, recovery)."""

    name: str
    offered_rps: float
    duration_s: float
    attempts: int  # requests whose intended time fell in the window
    sent: int  # attempts minus those never sent (no free connection within the timeout)
    ok: int
    errors: dict[str, int]  # status_503, status_504, transport_..., not_sent, wrong_class ...
    error_rate: float  # errors / attempts
    throughput_rps: float  # successful answers / duration
    goodput_rps: float  # successful answers within the SLO / duration
    latency: Latency  # successful answers, from the intended send time
    failed_latency: Latency
    service_latency: Latency  # Locust's response time of successful answers (from actual send)
    # Every due request, from its intended time until answered, failed or given up (never sent)
    due_latency: Latency | None = None
    # p99 of every due request (as due_latency), by intended send time
    first_half_p99_ms: float | None
    second_half_p99_ms: float | None
    generator: GeneratorCheck
    capped: int = 0  # due while the outstanding cap was reached: waited for a connection
    never_sent: int = 0  # of those, given up after the timeout without being sent (not_sent)
    # due and unfinished (in flight or waiting for a connection): q2_mean, q4_mean (mean over the
    # window's second and last quarter), max
    outstanding: dict[str, float] = Field(default_factory=dict)

    @property
    def saturated(self) -> bool:
        """The generator's outstanding cap was reached: requests waited or were never sent."""
        return self.capped > 0


class Step(_Model):
    step_id: str
    arrival: Literal["constant", "poisson"]
    windows: list[Window]
    measured: str  # name of the window judged against the SLO
    verdict: Verdict  # pass: valid and within SLO and error budget
    # server_cpu_contention / load_cpu_contention: other processes used over 20 % of a core on
    # the pinned CPUs (see schema.FLAGS); the step stands but was not measured on a quiet machine
    flags: list[str]
    resources: Resources | None
    generator_commands: list[list[str]]
    raw_dir: str  # relative to the run directory


class Overload(_Model):
    factor: float  # offered rate = factor x capacity
    step: Step
    goodput_rps: float
    errors: dict[str, int]  # not_sent included: due requests that never found a connection
    first_half_p99_ms: float | None  # every due request of the overload window, see Window
    second_half_p99_ms: float | None
    # an unbounded queue: p99 of the second half well above the first, or the outstanding count
    # still growing (it keeps growing when the cap stops requests being sent), see growth_by
    queue_grows: bool
    recovery_s: float | None  # from the end of the overload until latency is back under SLO
    valid: bool  # the generator kept to the schedule during the overload window
    # latency, outstanding: the signals that found the queue growing
    growth_by: list[str] = Field(default_factory=list)
    capped: int = 0  # due while the outstanding cap was reached (overload and recovery windows)
    never_sent: int = 0  # of those, never sent at all
    outstanding_growth: float | None = None  # mean outstanding, last quarter / second quarter

    @property
    def saturated(self) -> bool:
        return self.capped > 0


class CapacityRecord(StackLaunch):
    record_id: str
    model: str  # profile
    model_sha256: str
    workers: int | None  # the `workers` knob when it was set by --workers
    server_cpus: list[int] | None
    load_cpus: list[int] | None
    shared_cpus: bool  # server and generator share CPUs (not enough CPUs to keep them apart)
    slo_ms: float
    max_error_rate: float
    steps: list[Step]  # the sweep in the order run: the latency-vs-offered-rate curve
    capacity_rps: float | None  # highest offered rate whose step passed
    capacity_step: str | None
    capacity_p50_ms: float | None
    capacity_p99_ms: float | None
    # slo or errors: a higher rate missed them; generator: a step could not be driven (capacity is
    # a lower bound); max_rate, min_rate, steps: the search stopped there; failed: see reason
    limited_by: Literal["slo", "errors", "generator", "max_rate", "min_rate", "steps", "failed"]
    overload: list[Overload]
    log: str


class CapacitySettings(_Model):
    stacks: list[str]
    models: list[str]
    workers: list[int] | None
    workload: str
    arrival: Literal["constant", "poisson"]
    slo_ms: float
    max_error_rate: float
    start_rps: float
    growth: float
    max_rps: float
    resolution: float  # bisection stops when high / low <= 1 + resolution
    warmup_s: float
    step_s: float
    overload_factors: list[float]
    overload_s: float
    recovery_s: float
    max_outstanding: int
    timeout_s: float
    max_send_lag_ms: float
    min_achieved: float  # achieved / target below this: invalid step
    server_cpus: list[int] | None
    load_cpus: list[int] | None
    locust_workers: int
    generator_bound_percent: float
    topology: Topology = Field(default_factory=lambda: Topology())


class CapacityRun(RunHeader):
    kind: Literal["capacity"] = "capacity"
    models: dict[str, dict[str, str]]  # profile -> sha256, version
    settings: CapacitySettings
    records: list[str]
