"""The versioned result schema. Readers (reports, the CI latency check) import only this.

Layout of a run directory, never overwritten:
    results/<run_id>/run.json                 Run: metadata, settings, one StackOutcome per stack
    results/<run_id>/records/<record_id>.json Record: one stack x workload x users x repeat
    results/<run_id>/logs/<stack>.log         the server's own output
    results/<run_id>/locust/<record_id>/      plan, raw Locust output and logs
A capacity run directory holds capacity.json instead of run.json: see results/capacity.py.
Soak runs (servebench/results/soak_schema.py) have their own directory and record types.

SCHEMA_HISTORY records every version; bump SCHEMA_VERSION for any change a reader could notice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Generator = Literal["locust", "wrk"]  # the load generators a run can use

SCHEMA_VERSION = 4
SCHEMA_HISTORY: dict[int, str] = {
    1: "first format: run.json plus one record per stack x workload x users x repeat; latency as "
       "base64 HdrHistograms in microseconds (successful and failed answers apart), warm-up and "
       "measured phases kept apart",
    2: "adds capacity runs (servebench/results/capacity.py): capacity.json plus one record per "
       "stack x model x workers with open-loop steps timed from intended send times; run.json "
       "and its records are unchanged",
    3: "adds soak runs: <run_id>-soak/soak.json (SoakRun) and stacks/<stack>.json (SoakRecord) with "
       "per-window latency histograms, per-process RSS/CPU series, Theil-Sen fits, thresholds "
       "and a verdict; run and capacity directories unchanged",
    4: "adds `generator` (locust or wrk) to Settings and Record, default locust for older "
       "files; wrk records keep their raw files under wrk/<record_id>/ and their commands in "
       "locust_commands; rows_locust is the generator's count whichever it is",
}


# flag -> (one-letter code for narrow tables, meaning)
FLAGS: dict[str, tuple[str, str]] = {
    "generator_bound": ("G", "a load-generator process used over 90 % of a core: the client may have "
                             "been the limit"),
    "server_cpu_contention": ("S", "other processes used over 20 % of a core on the server's CPUs"),
    "load_cpu_contention": ("L", "other processes used over 20 % of a core on the load generator's CPUs"),
    "not_drained": ("D", "requests were still in flight at a phase boundary after the drain timeout"),
    "count_mismatch": ("C", "the generator's predicted rows differ from the server's "
                            "ml_predictions_total delta (wrk: by more than a request per connection)"),
    "no_server_metrics": ("M", "/metrics did not answer at a phase boundary"),
    "users_short": ("U", "fewer users than declared were running when the measured phase began"),
    "failures": ("F", "some answers were wrong, malformed, errors or transport failures"),
    "no_resource_samples": ("R", "too few CPU/RSS samples fell inside the measured phase"),
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Model):
    """A latency distribution: the histogram is the truth, the numbers are read from it."""

    unit: Literal["us"] = "us"
    resolution: str
    count: int
    histogram: str  # base64 HdrHistogram (hdrhistogram package `encode`)
    percentiles_ms: dict[str, float]  # p50 p90 p99 p99.9 min max mean


class KindStats(_Model):
    """One request kind (single, batch, ready) within one phase."""

    requests: int
    rows: int  # predicted rows in successful answers
    failures: dict[str, int]  # by kind: status_503, wrong_class, schema, transport_...
    latency: Latency  # successful answers
    failed_latency: Latency  # failed answers, kept apart


class Phase(_Model):
    users: int
    nominal_s: float  # the declared duration
    duration_s: float  # first request sent to last answer received
    drained: bool  # every process reported no request in flight at the boundary
    requests: int
    failures: dict[str, int]
    rps: float  # successful answers per second over duration_s
    latency: Latency  # successful answers of all kinds together
    failed_latency: Latency
    kinds: dict[str, KindStats]


class Resources(_Model):
    server_cpu_percent: float  # 100 = one core; summed over the server's process tree
    server_rss_mb: float  # highest summed RSS of the tree (shared pages counted per process)
    server_processes: int
    generator_cpu_percent: float  # every Locust process together
    generator_max_process_cpu_percent: float  # the busiest single Locust process
    # How busy the pinned CPUs were, whoever kept them busy (100 = one core): well above the
    # server's own share means other processes competed for the server's CPUs.
    server_cpus_busy_percent: float | None
    load_cpus_busy_percent: float | None
    samples: int


class HistogramDelta(_Model):
    count: float
    sum: float
    buckets: dict[str, float]  # cumulative, by upper bound "le"


class ServerMetrics(_Model):
    """Deltas of the contract's Prometheus metrics over the measured phase."""

    predictions: dict[str, float]  # "endpoint/outcome" -> rows
    errors: dict[str, float]  # "endpoint/error" -> answers
    inference_seconds: HistogramDelta
    batch_size: HistogramDelta
    queue_wait_seconds: HistogramDelta
    mean_inference_ms: float | None
    mean_batch_size: float | None
    mean_queue_wait_ms: float | None


class Record(_Model):
    record_id: str
    stack: str
    workload: str
    users: int
    repeat: int
    knobs: dict[str, object]
    command: list[str]  # the server's argv, pinning included
    generator: Generator = "locust"
    locust_commands: list[list[str]]  # the load generator's commands, whichever it is
    locust_workers: int
    time_to_ready_s: float
    shutdown_s: float | None  # known once the stack has stopped
    warmup: Phase
    measured: Phase
    resources: Resources | None
    server_metrics: ServerMetrics | None
    generator_bound: bool  # a generator process was above the threshold: the numbers may be the client's
    flags: list[str]  # see FLAGS
    rows_locust: int  # successful predicted rows the generator counted in the measured phase
    rows_server: float | None  # the server's ml_predictions_total success delta
    raw_dir: str  # relative to the run directory


class Check(_Model):
    name: str
    ok: bool
    detail: str


class StackLaunch(_Model):
    """How a stack was started, verified and stopped: shared by run and soak results."""

    stack: str
    title: str
    status: Literal["ok", "failed"]
    reason: str | None
    log_tail: str | None
    knobs: dict[str, object]
    command: list[str]
    time_to_ready_s: float | None
    shutdown_s: float | None
    checks: list[Check]


class StackOutcome(StackLaunch):
    records: list[str]  # record ids
    log: str  # relative path


class Machine(_Model):
    cpu_model: str
    cores: int
    memory_gb: float
    kernel: str
    platform: str
    hostname: str


class Settings(_Model):
    profile: str
    stacks: list[str]
    workloads: list[str]
    users: list[int]
    warmup_s: float
    measure_s: float
    repeats: int
    drain_timeout_s: float
    server_cpus: list[int] | None
    load_cpus: list[int] | None
    locust_workers: int
    generator_bound_percent: float
    sample_interval_s: float
    generator: Generator = "locust"


class Run(_Model):
    schema_version: int
    run_id: str
    status: Literal["running", "complete", "interrupted"]
    started_at: str  # ISO 8601 UTC
    finished_at: str | None
    wall_time_s: float | None
    estimate_s: float
    git_commit: str | None
    git_dirty: bool | None
    machine: Machine
    python: str
    packages: dict[str, str]
    model: dict[str, str]  # profile, sha256, version
    settings: Settings
    stacks: list[StackOutcome]
