"""Soak runs: each stack held at a steady rate for minutes, in windows (since schema version 3).

Layout of a soak directory, never overwritten:
    results/<run_id>/soak.json                  SoakRun: header, settings, thresholds
    results/<run_id>/records/<stack>.json       SoakRecord: windows, per-process series, fits
                                                (stacks/<stack>.json before schema version 5)
    results/<run_id>/logs/<stack>.log           the server's own output
    results/<run_id>/locust/...                 plans, raw Locust output and logs

Every window carries its epoch timestamps and, per server process (keyed by pid), the RSS and
CPU sampled inside it, so memory and latency can be plotted against time without re-running.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from servebench.results.schema import Latency, Record, RunHeader, StackLaunch, Topology, _Model

# The verdict's words: a verdict is one of these, or two of them joined, and may end with
# TAIL_NOT_JUDGED when other processes took the server's CPUs during a fitted window.
STABLE = "stable"
TAIL_NOT_JUDGED = " (tail not judged)"
GROWING_MEMORY = "growing memory"
DEGRADING_TAIL = "degrading tail"
INCONCLUSIVE = "inconclusive"


class ProcessWindow(_Model):
    rss_mb: float  # mean of the samples inside the window
    uss_mb: float | None  # unique (private) memory, mean of the few readings inside the window
    cpu_percent: float | None  # 100 = one core; None if fewer than two samples


class SoakWindow(_Model):
    index: int  # from the measured phase's opening, window_s apart
    start: float  # epoch seconds
    end: float  # epoch seconds: the window's end, or the last answer for the final one
    duration_s: float
    partial: bool  # shorter than window_s (the tail end of the phase): never fitted
    requests: int  # answers that arrived inside the window
    failures: dict[str, int]
    rps: float  # successful answers per second
    latency: Latency  # successful answers of every kind
    server_rss_mb: float | None  # the tree's summed mean RSS (shared pages counted per process)
    server_uss_mb: float | None  # the tree's summed unique memory: no page counted twice
    server_cpu_percent: float | None
    processes: dict[str, ProcessWindow]  # pid -> that process's series point
    generator_cpu_percent: float | None
    generator_max_process_cpu_percent: float | None
    server_cpus_busy_percent: float | None  # whoever kept the server's CPUs busy
    samples: int


class FitResult(_Model):
    """y ~ intercept + slope * (t - t0), Theil-Sen over the listed windows."""

    method: Literal["theil-sen"] = "theil-sen"
    slope_per_s: float
    intercept: float  # fitted value at t0
    t0: float  # epoch seconds: mid-point of the first fitted window
    span_s: float
    noise: float  # median absolute residual: the scatter a trend must stand out of
    windows: list[int]


class Drift(_Model):
    rss: FitResult  # MB
    uss: FitResult | None  # MB, over the fitted windows with a USS reading, if enough of them
    p99: FitResult  # ms
    rss_start_mb: float  # fitted at the first and last fitted windows
    rss_end_mb: float
    rss_mb_per_min: float
    rss_kb_per_request: float | None  # RSS slope / achieved rate
    uss_mb_per_min: float | None
    p99_start_ms: float
    p99_end_ms: float
    p99_ms_per_min: float


class SoakProcess(_Model):
    pid: int
    name: str
    cmdline: str


class SoakRecord(StackLaunch):
    record_id: str  # the stack's name
    workload: str
    users: int
    target_rps: float | None
    target_from: Literal["probe", "given"]
    probe: Record | None  # the closed-loop capacity measurement the target came from
    capacity_rps: float | None
    generator_commands: list[list[str]]
    opened_at: float | None  # epoch seconds of the measured phase
    drained_at: float | None
    requests: int  # the measured phase's Locust total; the windows' requests sum to it
    failures: dict[str, int]
    rps: float | None  # successful answers per second over the measured phase
    latency: Latency | None  # the whole measured phase
    processes: list[SoakProcess]  # every server process seen, by pid
    windows: list[SoakWindow]
    drift: Drift | None
    verdict: str  # stable | growing memory | degrading tail | both | inconclusive | failed
    reasons: list[str]
    flags: list[str]  # see SOAK_FLAGS
    raw_dir: str | None
    log: str


class SoakSettings(_Model):
    stacks: list[str]
    workload: str
    duration_s: float
    window_s: float
    warmup_s: float
    fraction: float | None  # of the probed capacity; None when the rate was given
    rps: float | None  # the given rate, if any
    users: int
    probe_users: int
    probe_s: float
    server_cpus: list[int] | None
    load_cpus: list[int] | None
    sample_interval_s: float
    uss_interval_s: float  # unique memory is read this often (it costs a page-table walk)
    thresholds: dict[str, float]
    topology: Topology = Field(default_factory=lambda: Topology())


class SoakRun(RunHeader):
    kind: Literal["soak"] = "soak"
    load_average: dict[str, list[float]]  # "start"/"end": the 1, 5, 15-minute load averages
    model: dict[str, str]
    settings: SoakSettings
    stacks: list[str]  # stacks done so far; each has records/<name>.json
