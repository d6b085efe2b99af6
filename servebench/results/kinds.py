"""Robustness runs (the bad-input matrix) and gate checks (a commit against another), as results.

    results/<run_id>/robustness.json           RobustnessRun: header, model, record ids
    results/<run_id>/records/<stack>.json      RobustnessRecord: the stack's launch and every case
    results/<run_id>/check.json                CheckRun: both commits, the verdicts
    results/<run_id>/records/<stack>.json      CheckRecord: every process's paired latencies
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from servebench.results.schema import RunHeader, StackLaunch, _Model

CaseOutcome = Literal["pass", "declared", "undeclared", "fail"]


class CaseResult(_Model):
    case: str
    group: str
    expected: int  # the contract's status
    declared: int  # the status the stack declares (differs only for a declared deviation)
    status: int | None  # None: no answer (hang, reset)
    error_body: bool
    latency_ms: float
    ready_after: bool
    outcome: CaseOutcome
    detail: str = ""  # what happened, in words, with what was measured (connection-level cases)


class LimitStep(_Model):
    """One step of load under a resource limit: this many clients, what each request met."""

    clients: int
    requests: int
    # ok, wrong_answer, refused_as_bad (a bad body refused with a 4xx, as it should be),
    # status_<n>, closed (no answer, connection closed), reset, timeout (hung), refused (connect)
    outcomes: dict[str, int]
    seconds: float
    timeout_s: float  # past this a request counted as hung (relative to the stack's baseline)


class LimitResult(_Model):
    """A stack under one scarce resource (loadtests/limits.py)."""

    resource: Literal["open_files", "memory"]
    method: str  # how the limit was set on this machine
    limit: str
    idle: str  # what the stack held idle, the limit's starting point
    steps: list[LimitStep]
    hit: bool  # some request failed: the limit was reached
    client_saw: str  # the failures by kind, across the steps
    recovered: bool  # ready again, and a golden answer, once the load stopped
    recovery: str
    wrong_answers: int  # answers that were not the golden one: silent corruption
    # From the stack's contract metrics (None: it has none, or it was gone): predictions it
    # counted as made that no client received, and requests that failed at the client (no
    # answer, a 5xx) that it did not count as errors: both lost silently for its operator.
    unreceived_predictions: int | None
    uncounted_failures: int | None
    processes_before: int
    processes_after: int


class RobustnessRecord(StackLaunch):
    record_id: str  # the stack's name, with its knob overrides if any (name:knob=value,...)
    cases: list[CaseResult]
    # The second session: the stack under scarce resources (loadtests/limits.py).
    limits: list[LimitResult] = Field(default_factory=list)
    limits_status: Literal["ok", "failed", "skipped"] = "skipped"
    limits_reason: str | None = None  # why that session failed


class RobustnessRun(RunHeader):
    kind: Literal["robustness"] = "robustness"
    model: dict[str, str]
    stacks: list[str]  # record ids, in run order
    row_cost_us: int = 0  # model time injected per row during the run (SERVEBENCH_SLOWDOWN_US)


GateMetric = Literal["p50", "p99", "health_p50"]
GateVerdict = Literal["REGRESSION", "improved", "ok", "inconclusive"]


class Comparison(_Model):
    stack: str
    metric: GateMetric
    effect: float  # relative change of head against base
    low: float  # 95 % bootstrap interval of the effect
    high: float
    tolerance: float
    base_value: float
    head_value: float
    base_noise: float  # worst /health p99 over p50 of the side's processes
    head_noise: float
    verdict: GateVerdict


class ProcessRounds(_Model):
    """One server process's paired latencies, microseconds, one list per round."""

    predict_us: list[list[int]]
    health_us: list[list[int]]


class CheckRecord(_Model):
    record_id: str  # the stack's name
    base: list[ProcessRounds]
    head: list[ProcessRounds]
    info: dict[str, dict[str, object]]  # side -> the last process's /info
    injected_slowdown_us: int | None


class GateSettings(_Model):
    baseline: str  # the baseline file
    base_revision: str  # as asked for
    stacks: list[str]
    model: str
    tolerances: dict[str, float]
    rounds: int
    pairs_per_round: int
    warmup_pairs: int
    runs_per_side: int
    attempts: int
    server_cpus: list[int] | None
    client_cpus: list[int] | None


class CheckRun(RunHeader):
    kind: Literal["check"] = "check"
    settings: GateSettings
    base_commit: str | None
    head_commit: str | None
    head_dirty: bool
    attempts_made: int
    exit_code: int | None
    comparisons: list[Comparison]
    failed: dict[str, str]  # stack -> why it could not be measured
    stacks: list[str]  # record ids
