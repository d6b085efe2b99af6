"""What crosses the process boundary to a load generator and back, as typed models.

The engine builds a plan (every request already encoded in the stack's protocol, with the
answers it expects), a generator process reads it, and writes its output in the same terms;
both sides import these models, so neither can misread the other.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Kind = Literal["single", "batch", "ready", "health"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannedRequest(_Model):
    """One request, built once in the stack's protocol and sent many times."""

    kind: Kind
    method: str
    path: str
    body: str  # UTF-8 text; empty for a GET
    headers: dict[str, str]
    rows: int  # predicted rows it asks for (0 for probes)
    expected: list[Any]  # the prediction each row must get (golden answers)


class MixEntry(_Model):
    kind: Kind
    weight: int


class Traffic(_Model):
    """What each simulated user sends: a weighted mix of kinds, each drawn from its pool."""

    mix: list[MixEntry]
    pool: dict[str, list[PlannedRequest]]  # kind -> the pre-built requests of that kind
    protocol: str  # the stack's protocol name: how answers are decoded and checked
    seed: str
    # The served model's declaration (shared_model/model_schema.py), as JSON: how the protocol
    # reads its answers (probability labels, a regressor's values). None: the default model.
    model: dict[str, Any] | None = None

    def declaration(self) -> Any:
        """The declaration as a ModelSchema (None for plans without one)."""
        from shared_model.model_schema import ModelSchema

        return ModelSchema.model_validate(self.model) if self.model is not None else None


class ClosedPlan(_Model):
    """A closed-loop measurement (warm-up, then measured), optionally paced and windowed."""

    traffic: Traffic
    host: str
    metrics_url: str  # the stack's /metrics (some frameworks serve it on a port of their own)
    warmup_s: float
    measure_s: float
    drain_timeout_s: float
    out: str = ""  # set by the generator: where the output goes
    window_s: float | None = None  # cut the measured phase into windows (soak)
    user_rps: float | None = None  # paced users: each starts a request at most this often (soak)


class KindTallyData(_Model):
    requests: int
    rows: int
    failures: dict[str, int]
    histogram: str
    failed_histogram: str
    examples: dict[str, list[str]] = Field(default_factory=dict)  # failure -> first distinct texts


class TallyData(_Model):
    kinds: dict[str, KindTallyData]
    first_start: float | None
    last_end: float | None


class ProcessLoad(_Model):
    """One Locust process's own CPU over a phase, as it measured it (wherever it runs)."""

    node: str  # Locust's worker id (hostname_uuid), or "local"
    host: str
    cpu_s: float
    wall_s: float

    @property
    def cpu_percent(self) -> float:
        return 100 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


# Next to a master's output: the workers that connected, as they did.
WORKERS_FILE = "workers.json"
# A stack with several replicas behind one address may name the one that answered (Ray Serve's
# stacks do): answers are counted per replica.
REPLICA_HEADER = "X-Replica"


class PhaseOutput(_Model):
    tally: TallyData
    opened_at: float
    users: int
    paused_at: float
    drained_at: float
    windows: dict[str, TallyData] | None  # window index -> tally, when the plan asked for them
    processes: int
    expected_processes: int
    drained: bool
    loads: list[ProcessLoad] = Field(default_factory=list)  # each process that sent users
    replicas: dict[str, int] = Field(default_factory=dict)  # answers per replica (REPLICA_HEADER)


class ClosedOutput(_Model):
    phases: dict[Literal["warmup", "measured"], PhaseOutput]
    metrics_before: str | None  # /metrics at the phase boundaries
    metrics_after: str | None


class PlannedSegment(_Model):
    name: str
    rate: float
    duration_s: float


class OpenPlan(_Model):
    """An open-loop step: requests sent on a schedule, answered or not."""

    traffic: Traffic
    host: str
    arrival: Literal["constant", "poisson"]
    processes: int
    segments: list[PlannedSegment]
    max_outstanding: int
    timeout_s: float
    startup_s: float
    drain_timeout_s: float
    out: str = ""


class OpenColumns(_Model):
    """One generator process's requests, column by column (see openloop_locustfile.Columns)."""

    index: int
    drained: bool
    in_flight: int
    intended_s: list[float] = Field(default_factory=list)
    segment: list[int] = Field(default_factory=list)
    lag_us: list[int] = Field(default_factory=list)
    wait_us: list[int] = Field(default_factory=list)
    capped: list[int] = Field(default_factory=list)
    latency_us: list[int] = Field(default_factory=list)
    service_us: list[int] = Field(default_factory=list)
    kind: list[str] = Field(default_factory=list)
    outcome: list[str] = Field(default_factory=list)


class OpenOutput(_Model):
    start_at: float | None
    processes: list[OpenColumns]
    expected_processes: int
