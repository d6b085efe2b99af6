"""The gate as a kind of run: the base commit and the working tree measured here, in one run.

The base commit is checked out beside the working tree, and fresh server processes of each
side alternate, stack by stack, so whatever the host does meanwhile hits both sides alike.
Each process is one session (no verification: the base may answer differently, and the gate
measures, it does not judge answers). The result is a `check` directory like any other run's.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from loadtests.cpus import Pinning, kept_on
from loadtests.gate import checkout
from loadtests.gate.baseline import Baseline
from loadtests.gate.compare import GATING, METRICS, Comparison, compare
from loadtests.gate.sampler import Rounds, sample, served_from
from loadtests.recorder import Recorder, header_fields
from loadtests.session import ModelUnderTest, Session, run_session
from servebench.results.kinds import CheckRecord, CheckRun, GateSettings
from servebench.results.kinds import Comparison as ComparisonRecord
from servebench.results.provenance import git_commit, git_dirty
from servers.process import REPO_ROOT
from servers.registry import get_stack

EXIT_PASS, EXIT_REGRESSION, EXIT_UNMEASURED = 0, 1, 2
SIDES = ("base", "head")


@dataclass
class Slowdown:
    """A CPU cost per predicted row injected into the head's processes of one stack, to test
    the gate: in microseconds, or as a share of the base's first measured p50."""

    microseconds: float | None = None
    share: float | None = None

    @classmethod
    def parse(cls, text: str) -> Slowdown:
        if text.endswith("%"):
            return cls(share=float(text[:-1]) / 100)
        return cls(microseconds=float(text))

    def resolve(self, base_runs: list[Rounds]) -> int:
        if self.microseconds is None:
            assert self.share is not None and base_runs, "the base is measured first"
            first = base_runs[0].predict_us
            self.microseconds = self.share * statistics.median(v for r in first for v in r)
        return round(self.microseconds)


@dataclass
class _Measured:
    runs: dict[str, list[Rounds]] = field(default_factory=lambda: {side: [] for side in SIDES})
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # side -> last /info


def _one_process(name: str, side: str, tree: Path, model: ModelUnderTest, reference: Baseline,
                 pinning: Pinning, log: Path, env: dict[str, str], measured: _Measured) -> str | None:
    """One fresh process of one side; the reason it failed, or None."""
    def take(session: Session) -> None:
        info = httpx.get(session.server.url_for("info"), timeout=10).json()
        measured.runs[side].append(sample(session.server, model.golden, reference.plan))
        measured.info[side] = info

    ended = run_session(served_from(tree, get_stack(name)), model, pinning.server, log, take,
                        verification="none", env={**checkout.tree_env(tree), **env}, cwd=tree)
    return f"{side}: {ended.reason}\n{ended.log_tail or ''}" if ended.failed else None


@dataclass(frozen=True)
class CheckRequest:
    reference: Baseline
    baseline_path: Path
    base_revision: str
    stacks: tuple[str, ...]
    runs: int
    attempts: int
    slowdowns: dict[str, Slowdown]
    results_dir: Path = REPO_ROOT / "results"


def check(request: CheckRequest, progress: Callable[[str], None] = print) -> tuple[Path | None, int]:
    """(result directory, exit code): 0 pass, 1 regression, 2 could not measure."""
    reference = request.reference
    try:
        trees = {"base": checkout.base_tree(request.base_revision, (reference.model,)), "head": REPO_ROOT}
        checkout.train(REPO_ROOT, reference.model)
    except (checkout.BaseMissing, OSError) as error:
        progress(f"servebench check: cannot compare: {error}")
        return None, EXIT_UNMEASURED
    base_sha = checkout.resolve_in(trees["base"])
    progress(f"base {str(base_sha)[:12]} ({trees['base']}) against the working tree at {git_commit()}"
             f"{' (with uncommitted changes)' if git_dirty() else ''}")
    pinning = Pinning.default()
    model = ModelUnderTest.load(reference.model)
    server_cpus, client_cpus = pinning.as_lists()
    header = CheckRun(
        **header_fields("check", [get_stack(n) for n in request.stacks], {}),
        settings=GateSettings(
            baseline=str(request.baseline_path), base_revision=request.base_revision,
            stacks=list(request.stacks), model=reference.model,
            tolerances=dict(reference.tolerances), rounds=reference.plan.rounds,
            pairs_per_round=reference.plan.pairs_per_round, warmup_pairs=reference.plan.warmup_pairs,
            runs_per_side=request.runs, attempts=request.attempts, server_cpus=server_cpus,
            client_cpus=client_cpus),
        base_commit=base_sha, head_commit=git_commit(), head_dirty=git_dirty(), attempts_made=0,
        exit_code=None, comparisons=[], failed={}, stacks=[])
    recorder = Recorder(request.results_dir, header)
    everything = {name: _Measured() for name in request.stacks}
    failed: dict[str, str] = {}
    injected: dict[str, int] = {}
    with recorder.running(), kept_on(pinning.load):
        for attempt in range(1, request.attempts + 1):
            # Each attempt adds `runs` processes per side to those already measured: an interval too
            # wide to conclude narrows with more processes (the spread between processes is most of
            # it), where measuring afresh would only draw another interval as wide.
            _measure(request, trees, model, pinning, recorder.root, progress, everything, failed, injected)
            measured = {n: m for n, m in everything.items() if n not in failed}
            comparisons = [compare(name, m.runs["base"], m.runs["head"], metric, reference.tolerances[metric])
                           for name, m in measured.items() for metric in METRICS]
            code = _verdict(comparisons, failed)
            if code != EXIT_UNMEASURED or failed or attempt == request.attempts:
                break
            # Only intervals too wide to conclude get more processes; a stack that failed does not.
            progress(f"an interval straddles its tolerance (attempt {attempt}/{request.attempts}): "
                     f"measuring {request.runs} more processes per side")
        for name, m in measured.items():
            recorder.record(CheckRecord(record_id=name, base=m.runs["base"], head=m.runs["head"],
                                        info=m.info, injected_slowdown_us=injected.get(name)))
        recorder.update(
            attempts_made=attempt, exit_code=code, failed=failed, stacks=list(measured),
            comparisons=[ComparisonRecord(**vars(c), verdict=c.verdict) for c in comparisons])
    for comparison in comparisons:
        progress(comparison.line())
    for name, why in failed.items():
        progress(f"{name}: COULD NOT MEASURE ({why})")
    return recorder.root, code


def _verdict(comparisons: list[Comparison], failed: dict[str, str]) -> int:
    # p99 from a few hundred samples per process gates only when it is clearly a regression.
    unsure = any(c.verdict == "inconclusive" and c.metric in GATING for c in comparisons)
    if any(c.verdict == "REGRESSION" for c in comparisons):
        return EXIT_REGRESSION
    return EXIT_UNMEASURED if failed or unsure else EXIT_PASS


def _measure(request: CheckRequest, trees: dict[str, Path], model: ModelUnderTest, pinning: Pinning,
             root: Path, progress: Callable[[str], None], measured: dict[str, _Measured],
             failed: dict[str, str], injected: dict[str, int]) -> None:
    """Each stack `runs` more times per side into `measured`, a fresh process each time, base
    and head alternating (and which goes first alternating too), so drift and order cancel."""
    for run in range(request.runs):
        order = SIDES if run % 2 == 0 else SIDES[::-1]
        for name in request.stacks:
            for side in order:
                if name in failed:
                    continue
                env: dict[str, str] = {}
                if side == "head" and name in request.slowdowns:  # the first round measures the base first
                    injected[name] = request.slowdowns[name].resolve(measured[name].runs["base"])
                    env["SERVEBENCH_SLOWDOWN_US"] = str(injected[name])
                progress(f"measuring {name} ({side}): process {run + 1}/{request.runs}")
                problem = _one_process(name, side, trees[side], model, request.reference, pinning,
                                       root / "logs" / f"{name}-{side}.log", env, measured[name])
                if problem:
                    failed[name] = problem
                    progress(f"{name} ({side}): could not measure: {problem}")
