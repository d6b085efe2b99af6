"""Robustness runs (the bad-input matrix) and gate checks (a commit against another), as results.

    results/<run_id>/robustness.json           RobustnessRun: header, model, record ids
    results/<run_id>/records/<stack>.json      RobustnessRecord: the stack's launch and every case
    results/<run_id>/check.json                CheckRun: both commits, the verdicts
    results/<run_id>/records/<stack>.json      CheckRecord: every process's paired latencies
"""

from __future__ import annotations

from typing import Literal

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


class RobustnessRecord(StackLaunch):
    record_id: str  # the stack's name
    cases: list[CaseResult]


class RobustnessRun(RunHeader):
    kind: Literal["robustness"] = "robustness"
    model: dict[str, str]
    stacks: list[str]  # record ids, in run order


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
