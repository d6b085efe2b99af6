"""The versioned result schema: what every result file holds. Readers import only this layer.

Every kind of run writes one directory, never overwritten, named <UTC time>-<commit>-<kind>:
    results/<run_id>/<kind>.json              the run's header (RunHeader) and its kind's body
    results/<run_id>/records/<record_id>.json one record per measured unit
    results/<run_id>/logs/<stack>.log         each server's own output
    results/<run_id>/<generator>/<record_id>/ plans and raw load-generator output
Kinds: run (closed loop, this module), capacity (results/capacity.py), soak
(results/soak_schema.py), robustness and check (results/kinds.py).

Everything a report needs to judge a result is in it: the thresholds of every flag, the
definitions of targets and claims, what each stack was declared to be. A report of an old run
reads what that run recorded (older versions get it from results/migrations.py), so it renders
the same tomorrow whatever today's code says.

SCHEMA_HISTORY records every version; bump SCHEMA_VERSION for any change a reader could notice.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 9
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
    5: "one RunHeader for every kind (run, capacity, soak, robustness, check) with `kind`, the "
       "machine's usable CPUs, `stacks` (what the registry declared: title, role, tags, protocol, "
       "colour, package versions, targets) and `judging` (flag definitions and thresholds, "
       "claims); run ids <time>-<commit>-<kind>, headers in <kind>.json; generator-neutral "
       "record fields generator_commands and rows_sent; checks carry their case group; soak "
       "records in records/; robustness and gate results are run directories too",
    6: "closed-loop runs measure the floor (a server answering without work) per generator, "
       "workload and users (Run.floor, records floor__...), and every record carries the "
       "harness's own share of its latency (Record.client); judging.client_share_percent and "
       "the client_bound flag; each repeat is a fresh server process",
    7: "robustness results add the connection-level cases (CaseResult.detail says what happened), "
       "each stack under scarce resources (RobustnessRecord.limits, limits_status, limits_reason), "
       "the model time injected per row (RobustnessRun.row_cost_us) and record ids that name a "
       "stack's knob overrides; older files read with those empty",
    8: "closed-loop records carry the server's memory read once after the measured phase "
       "(Record.memory: RSS, USS and PSS per process), a timeline of the measured phase "
       "(Record.timeline: answers per window where the generator times each answer, CPU and RSS "
       "per sample) and the first distinct texts of each kind of failure "
       "(KindStats.failure_examples); run headers describe their workloads (Run.workloads_declared)",
    9: "every header may describe the models it served (RunHeader.model_cards, by model name): kind, "
       "estimator, input, fields, classes, in-process predict_batch latency at 1, 8 and 64 rows and "
       "the per-request cost of turning a JSON body into the model's input; Run.model, soak and "
       "robustness `model` also name the model's kind; older files read with no model cards",
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
    # failure kind -> the first few distinct answers or errors of that kind, as the generator
    # saw them (status and body, or the transport error), shortened
    failure_examples: dict[str, list[str]] = Field(default_factory=dict)


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
    # 100 = one core; summed over the server's process tree. None: unknown (an external service
    # that exports no process metrics), never 0.
    server_cpu_percent: float | None
    server_rss_mb: float | None  # highest summed RSS of the tree (shared pages counted per process)
    server_processes: int | None
    generator_cpu_percent: float  # every Locust process together
    generator_max_process_cpu_percent: float  # the busiest single Locust process
    # How busy the pinned CPUs were, whoever kept them busy (100 = one core): well above the
    # server's own share means other processes competed for the server's CPUs.
    server_cpus_busy_percent: float | None
    load_cpus_busy_percent: float | None
    samples: int
    # Where the server's figures come from: its process tree sampled here, or (a service
    # servebench did not start) the process metrics of its /metrics, or nowhere.
    server_source: Literal["processes", "metrics", "unknown"] = "processes"


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


# Opens each server process's part of a stack's log (logs/<stack>.log holds every process of
# every repeat, one after the other): the marker, the UTC time, then the command.
PROCESS_MARK = "==== servebench: process started"

FLOOR = "floor"  # the stack name of the harness's own floor (servers/floor.py) in a run's records


class ClientShare(_Model):
    """The harness's own latency at this measurement's generator, workload and concurrency:
    what the same generator measured against the floor, a server that answers without work."""

    floor_record: str
    p50_ms: float
    p99_ms: float | None
    share: float  # the floor's p50 over this measurement's p50


class GeneratorProcess(_Model):
    """A Locust process that sent users, with its own CPU over the measured phase as it measured
    it: the one figure there is for a worker on another host."""

    node: str  # Locust's worker id (hostname_...), or "local"
    host: str
    cpu_percent: float  # 100 = one core


class ProcessMemory(_Model):
    pid: int
    name: str
    rss_mb: float  # resident: pages shared with other processes counted here too
    uss_mb: float | None  # unique: pages no other process maps (None where the OS cannot tell)
    pss_mb: float | None  # proportional: each shared page split among the processes mapping it


class Memory(_Model):
    """The server's process tree read once right after the measured phase, outside it: smaps
    is walked page by page, too costly to read while measuring."""

    processes: list[ProcessMemory]
    rss_mb: float  # summed over the tree: a page shared by n processes counted n times
    uss_mb: float | None  # summed: what the tree alone holds, its shared pages left out
    pss_mb: float | None  # summed: the tree's memory with every shared page counted once overall


class TimelineWindow(_Model):
    """Answers that arrived in one stretch of the measured phase."""

    start_s: float  # from the measured phase's opening
    duration_s: float  # the window's length; shorter for the last one (the drain)
    requests: int
    failures: int
    rows: int
    p50_ms: float | None  # of the successful answers in the window
    p99_ms: float | None
    max_ms: float | None


class ResourcePoint(_Model):
    """One sampling interval of the measured phase."""

    t_s: float  # its end, from the measured phase's opening
    server_cpu_percent: float  # 100 = one core, the server's process tree
    server_rss_mb: float  # summed RSS of the tree at the sample
    generator_cpu_percent: float | None  # every generator process together


class Timeline(_Model):
    """The measured phase over time: answers per window and the sampled CPU and memory."""

    window_s: float | None  # None: the generator does not time answers one by one (wrk)
    windows: list[TimelineWindow]
    resources: list[ResourcePoint]


class Record(_Model):
    record_id: str
    stack: str
    workload: str
    users: int
    repeat: int
    knobs: dict[str, object]
    command: list[str]  # the server's argv, pinning included
    generator: str  # a name from the run header's `generators`
    generator_commands: list[list[str]]
    locust_workers: int
    time_to_ready_s: float
    shutdown_s: float | None  # known once the stack has stopped
    warmup: Phase
    measured: Phase
    resources: Resources | None
    server_metrics: ServerMetrics | None
    generator_bound: bool  # a generator process was above the threshold: the numbers may be the client's
    flags: list[str]  # see FLAGS
    rows_sent: int  # successful predicted rows the generator counted in the measured phase
    rows_server: float | None  # the server's ml_predictions_total success delta
    raw_dir: str  # relative to the run directory
    client: ClientShare | None = None  # the harness's own share of the latency, where measured
    memory: Memory | None = None  # read right after the measured phase (schema 8)
    timeline: Timeline | None = None  # the measured phase over time (schema 8)
    generator_processes: list[GeneratorProcess] = Field(default_factory=list)  # Locust's, as reported
    # Answers in the measured phase per replica, where the stack names the one that answered.
    replicas: dict[str, int] = Field(default_factory=dict)


class Check(_Model):
    name: str
    ok: bool
    detail: str
    group: str | None = None  # the bad-input case group, for checks of bad input


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
    usable_cpus: list[int] | None = None  # the CPUs servebench could use (None: not recorded)
    # GPUs and other accelerators the machine has, by name (None: not recorded; []: none)
    accelerators: list[str] | None = None


class Topology(_Model):
    """Where the load came from and what was measured, when not everything ran on loopback here."""

    server_host: str = "127.0.0.1"  # the address the stacks started here bound
    # Locust workers on other hosts: how many, and the master's address they joined.
    remote_workers: int = 0
    locust_master: str | None = None
    # A service servebench did not start: its URL and the registry stack it is an instance of.
    external_url: str | None = None
    external_kind: str | None = None


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
    generator: str  # the profile's generator; each record names the one that measured it
    topology: Topology = Field(default_factory=lambda: Topology())


RunKind = Literal["run", "capacity", "soak", "robustness", "check"]


class Flag(_Model):
    code: str  # one letter, for narrow tables
    meaning: str


class Claim(_Model):
    """One claim of the seed article, as the run will be judged against it.

    `rule` is one of the report's rule kinds; `subjects`/`versus` are stack tags (a stack is a
    subject when it has every tag); `low`/`high` bound the claimed value."""

    claim: str
    rule: Literal["p99_range", "batch_gain", "inline_blocks", "peak_throughput"]
    subjects: list[str] = Field(default_factory=list)
    versus: list[str] = Field(default_factory=list)
    low: float | None = None
    high: float | None = None
    model_ms: list[float] | None = None  # the model-call time the claim assumes: [low, high]
    comparable_model: str | None = None  # the model profile meant for it
    accelerator: str | None = None  # hardware the claimed figure was measured on ("GPU"), if any


class Judging(_Model):
    """Every threshold and definition the run's flags and verdicts rest on."""

    flags: dict[str, Flag]
    generator_bound_percent: float
    contention_percent: float
    claims: list[Claim]
    # The harness's own latency (ClientShare) over this share of a measurement's p50 flags it
    # client_bound; absent before schema version 6.
    client_share_percent: float | None = None


class Target(_Model):
    """A performance target a stack declared: its metric over another's, within one run.

    `against`: a stack name, `peers` (the best stack whose role is peer at that level) or
    `ceiling` (the same stack's framework-ceiling workload at its peak)."""

    name: str
    metric: Literal["p50_ms", "p99_ms", "rps"]
    users: list[int] | None  # levels it is judged at; None: each side at its peak
    against: str
    limit: float
    at_most: bool
    detail: str


class StackDeclaration(_Model):
    """What the registry declared about a stack when the run happened."""

    title: str
    role: Literal["ours", "peer", "reference"]
    tags: list[str]  # what the seed article's claims call this kind of stack
    protocol: str
    colour: str
    packages: dict[str, str]  # distribution -> version, in the environment it ran in
    targets: list[Target] = Field(default_factory=list)


class FieldCard(_Model):
    """One input field of a served model, as its declaration had it."""

    name: str
    type: str  # integer, number, boolean, categorical
    nullable: bool
    minimum: float | None = None
    maximum: float | None = None
    categories: list[str] | None = None


class Timing(_Model):
    """A time measured in process, `calls` times: median and 90th percentile."""

    calls: int
    median_us: float
    p90_us: float


class ModelCard(_Model):
    """A served model, described and timed in the harness's own process before the run.

    The times are the model's own, without a server: `predict_batch` (one model call on an input
    already built) at 1, 8 and 64 rows, and, per single request, the JSON body's validation
    against the model's request schema and its conversion into the model's input."""

    name: str
    kind: Literal["classifier", "regressor"]
    estimator: str
    input: str  # frame (a pandas DataFrame per batch) or matrix (float64)
    sha256: str
    builtin: bool  # one of servebench's own churn models, or a registered one
    fields: list[FieldCard]
    classes: list[str] | None  # probability labels, for a classifier
    predict_batch: dict[str, Timing]  # rows ("1", "8", "64") -> one model call
    validation: Timing  # JSON body -> validated request (one row)
    conversion: Timing  # validated request -> the model's input (one row)
    json_to_input_us: float  # validate + convert, medians: the per-request cost before the model
    versions: dict[str, str]  # the libraries the model ran on here
    note: str  # how the times were taken


class RunHeader(_Model):
    """What every result file starts with, whatever its kind."""

    schema_version: int
    kind: RunKind
    run_id: str
    status: Literal["running", "complete", "interrupted"]
    started_at: str  # ISO 8601 UTC
    finished_at: str | None
    wall_time_s: float | None
    estimate_s: float | None
    git_commit: str | None
    git_dirty: bool | None
    machine: Machine
    python: str
    packages: dict[str, str]
    stacks_declared: dict[str, StackDeclaration]
    judging: Judging
    generators: dict[str, str] = Field(default_factory=dict)  # name -> what it is
    model_cards: dict[str, ModelCard] = Field(default_factory=dict)  # the models served, by name


class Run(RunHeader):
    kind: Literal["run"] = "run"
    model: dict[str, str]  # profile, sha256, version
    settings: Settings
    stacks: list[StackOutcome]
    floor: StackOutcome | None = None  # the floor's measurements, one per workload x users
    # workload -> what each user sends, as declared when the run happened
    workloads_declared: dict[str, str] = Field(default_factory=dict)
