"""Soak runs in the versioned schema: one stack held at a steady rate for minutes, in windows.

Layout of a soak directory, never overwritten:
    results/<run_id>-soak/soak.json             SoakRun: metadata, settings, thresholds
    results/<run_id>-soak/stacks/<stack>.json   SoakRecord: windows, per-process series, fits
    results/<run_id>-soak/logs/<stack>.log      the server's own output
    results/<run_id>-soak/locust/...            plans, raw Locust output and logs

Every window carries its epoch timestamps and, per server process (keyed by pid), the RSS and
CPU sampled inside it, so memory and latency can be plotted against time without re-running.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from servebench.results.schema import Latency, Machine, Record, StackLaunch, _Model
from servebench.results.store import RunWriter, read_versioned


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
    workload: str
    users: int
    target_rps: float | None
    target_from: Literal["probe", "given"]
    probe: Record | None  # the closed-loop capacity measurement the target came from
    capacity_rps: float | None
    locust_commands: list[list[str]]
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


SOAK_FLAGS: dict[str, str] = {
    "below_target": "the achieved rate stayed under the target: the pace was not held",
    "failures": "some answers were wrong, malformed, errors or transport failures",
    "generator_bound": "a Locust process used over 90 % of a core in some window",
    "server_cpu_contention": "other processes used over 20 % of a core on the server's CPUs "
                             "in some window",
    "probe_flagged": "the capacity probe carried flags (see its record): the target may be off",
    "server_died": "the server exited during the soak",
}


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


class SoakRun(_Model):
    schema_version: int
    kind: Literal["soak"] = "soak"
    run_id: str
    status: Literal["running", "complete", "interrupted"]
    started_at: str
    finished_at: str | None
    wall_time_s: float | None
    git_commit: str | None
    git_dirty: bool | None
    machine: Machine
    load_average: dict[str, list[float]]  # "start"/"end": the 1, 5, 15-minute load averages
    python: str
    packages: dict[str, str]
    model: dict[str, str]
    settings: SoakSettings
    stacks: list[str]  # stacks done so far; each has stacks/<name>.json


class SoakWriter(RunWriter):
    def __init__(self, results_dir: Path, run_id: str) -> None:
        super().__init__(results_dir, run_id, ("stacks", "logs", "locust"))

    def write_soak(self, run: SoakRun) -> None:
        self._write(self.root / "soak.json", run.model_dump(mode="json"))

    def write_stack(self, record: SoakRecord) -> None:
        self._write_new(self.root / "stacks" / f"{record.stack}.json", record)


def load_soak(root: Path) -> tuple[SoakRun, list[SoakRecord]]:
    """A soak directory, validated; refuses unknown or newer schema versions."""
    run = SoakRun.model_validate(read_versioned(root / "soak.json", "soak run"))
    records = [SoakRecord.model_validate_json((root / "stacks" / f"{name}.json").read_text())
               for name in run.stacks]
    return run, records
