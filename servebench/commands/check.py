"""`servebench check` and `servebench baseline`: the latency regression gate for CI.

`check` measures the commit named by the committed baseline and the working tree on this
machine, in this run: the base commit is checked out beside the working tree, and fresh
server processes of each side alternate, stack by stack, so whatever the host does meanwhile
hits both sides alike. `baseline` names the commit later checks are judged against.

Exit codes of `check`: 0 pass, 1 regression, 2 could not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from servebench.errors import UserError
from servebench.provenance import git_commit, git_dirty, machine
from servebench.regression import baseline as baseline_file
from servebench.regression import checkout
from servebench.regression.compare import GATING, METRICS, Comparison, compare, host_noise
from servebench.regression.sampler import Rounds, SamplingPlan, sample_stack
from servers.process import REPO_ROOT, StackFailed
from servers.registry import STACKS, get_stack
from shared_model.profiles import DEFAULT_PROFILE, PROFILES

EXIT_PASS, EXIT_REGRESSION, EXIT_UNMEASURED = 0, 1, 2
# Keep-alive stacks: gunicorn's sync workers close every connection, so their latency tail
# is mostly TCP set-up and too noisy for a gate on a shared 2-core host.
CI_STACKS = ("fastapi_batcher", "fastapi_threadpool")
SIDES = ("base", "head")


def _pinning() -> tuple[list[int] | None, list[int] | None]:
    """Server on the last usable CPU, this client on the others (none on one CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[-1:], cpus[:-1]) if len(cpus) > 1 else (None, None)


@dataclass
class Slowdown:
    """A CPU cost per predicted row injected into the head's processes of one stack, to test
    the gate: in microseconds, or as a share of the base's first measured p50."""

    microseconds: float | None = None
    share: float | None = None

    @classmethod
    def parse(cls, text: str) -> Slowdown:
        try:
            if text.endswith("%"):
                return cls(share=float(text[:-1]) / 100)
            return cls(microseconds=float(text))
        except ValueError:
            raise UserError(f"--slowdown takes STACK=MICROSECONDS or STACK=PERCENT%, got {text!r}") from None

    def resolve(self, base_runs: list[Rounds]) -> int:
        if self.microseconds is None:
            assert self.share is not None and base_runs, "the base is measured first"
            first = base_runs[0].predict_us
            self.microseconds = self.share * statistics.median(v for r in first for v in r)
        return round(self.microseconds)


@dataclass
class Measured:
    runs: dict[str, list[Rounds]] = field(default_factory=dict)  # side -> one Rounds per process
    info: dict[str, dict[str, Any]] = field(default_factory=dict)  # side -> last /info


def _measure(names: list[str], trees: dict[str, Path], plan: SamplingPlan, runs: int,
             slowdowns: dict[str, Slowdown]) -> tuple[dict[str, Measured], dict[str, str], dict[str, Any]]:
    """Each stack `runs` times per side, a fresh process each time, base and head alternating
    (and which goes first alternating too), so drift and order cancel; failures are reported."""
    server_cpus, client_cpus = _pinning()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    measured = {name: Measured({side: [] for side in SIDES}, {}) for name in names}
    failed: dict[str, str] = {}
    injected: dict[str, int] = {}
    for run in range(runs):
        order = SIDES if run % 2 == 0 else SIDES[::-1]
        for name in names:
            for side in order:
                if name in failed:
                    continue
                env: dict[str, str] = {}
                if side == "head" and name in slowdowns:  # the first round measures the base first
                    injected[name] = slowdowns[name].resolve(measured[name].runs["base"])
                    env["SERVEBENCH_SLOWDOWN_US"] = str(injected[name])
                print(f"measuring {name} ({side}): process {run + 1}/{runs}", flush=True)
                try:
                    rounds, info = sample_stack(get_stack(name), plan, server_cpus, trees[side], env)
                except (StackFailed, RuntimeError, OSError) as error:
                    failed[name] = f"{side}: {error}"
                    print(f"{name} ({side}): could not measure: {error}")
                    if isinstance(error, StackFailed):
                        print(error.log_tail)
                    continue
                measured[name].runs[side].append(rounds)
                measured[name].info[side] = info
    provenance = {"pinning": {"server_cpus": server_cpus, "client_cpus": client_cpus},
                  "injected_slowdown_us": injected}
    return {n: m for n, m in measured.items() if n not in failed}, failed, provenance


def register(subparsers: Any) -> None:
    check = subparsers.add_parser("check", help="compare latency with the baseline's commit, here and now")
    check.add_argument("--stacks", nargs="+", choices=sorted(STACKS), help="default: the baseline's")
    check.add_argument("--baseline", type=Path, default=baseline_file.DEFAULT_PATH)
    check.add_argument("--base", metavar="REVISION",
                       help="compare with this commit instead of the baseline's (e.g. HEAD)")
    check.add_argument("--slowdown", action="append", default=[], metavar="STACK=US|PERCENT%",
                       help="inject a CPU-bound delay per predicted row into the head (to test the gate)")
    check.add_argument("--runs", type=int,
                       help="fresh processes per stack and side (default: the baseline's)")
    check.add_argument("--attempts", type=int, default=2,
                       help="measure again when the intervals were too wide to conclude")
    check.add_argument("--records", type=Path, default=REPO_ROOT / "results" / "checks")
    check.set_defaults(func=run_check)

    base = subparsers.add_parser("baseline", help="name the commit later checks are judged against")
    base.add_argument("--commit", default="HEAD", help="default: HEAD (the working tree must be clean)")
    base.add_argument("--stacks", nargs="+", choices=sorted(STACKS), default=list(CI_STACKS))
    base.add_argument("--model", choices=sorted(PROFILES), default=DEFAULT_PROFILE)
    base.add_argument("--runs", type=int, default=baseline_file.Baseline.runs)
    base.add_argument("--out", type=Path, default=baseline_file.DEFAULT_PATH)
    base.set_defaults(func=run_baseline)


def run_baseline(args: argparse.Namespace) -> int:
    if args.commit == "HEAD" and git_dirty():
        raise UserError("the working tree has uncommitted changes: commit them, or name --commit")
    sha = checkout.resolve(args.commit)
    if sha is None:
        raise UserError(f"{args.commit!r} is not a commit of this repository")
    baseline_file.Baseline(commit=sha, stacks=tuple(args.stacks), model=args.model, runs=args.runs
                           ).dump(args.out)
    print(f"{args.out}: later checks compare the working tree with {sha[:12]} "
          f"({', '.join(args.stacks)}, model {args.model})")
    return 0


def _parse_slowdowns(pairs: list[str]) -> dict[str, Slowdown]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or name not in STACKS:
            raise UserError(f"--slowdown takes STACK=MICROSECONDS or STACK=PERCENT%, got {pair!r}")
        found[name] = Slowdown.parse(value)
    return found


def run_check(args: argparse.Namespace) -> int:
    try:
        reference = baseline_file.load(args.baseline)
    except baseline_file.BaselineError as error:
        print(f"servebench check: cannot compare: {error}")
        return EXIT_UNMEASURED
    names = args.stacks or list(reference.stacks)
    slowdowns = _parse_slowdowns(args.slowdown)
    runs = args.runs or reference.runs
    started = time.monotonic()
    try:
        trees = {"base": checkout.base_tree(args.base or reference.commit, (reference.model,)),
                 "head": REPO_ROOT}
        checkout.train(REPO_ROOT, reference.model)
    except (checkout.BaseMissing, OSError) as error:
        print(f"servebench check: cannot compare: {error}")
        return EXIT_UNMEASURED
    base_sha = checkout.resolve_in(trees["base"])
    print(f"base {str(base_sha)[:12]} ({trees['base']}) against the working tree at {git_commit()}"
          f"{' (with uncommitted changes)' if git_dirty() else ''}", flush=True)
    os.environ["SERVEBENCH_MODEL"] = reference.model
    for attempt in range(1, args.attempts + 1):
        measured, failed, provenance = _measure(names, trees, reference.plan, runs, slowdowns)
        comparisons: list[Comparison] = [
            compare(name, m.runs["base"], m.runs["head"], metric, reference.tolerances[metric])
            for name, m in measured.items()
            for metric in METRICS
        ]
        for comparison in comparisons:
            print(comparison.line())
        for name, error in failed.items():
            print(f"{name}: COULD NOT MEASURE ({error})")
        unsure = any(c.verdict == "inconclusive" and c.metric in GATING for c in comparisons)
        code = (
            EXIT_REGRESSION if any(c.verdict == "REGRESSION" for c in comparisons)
            else EXIT_UNMEASURED if failed or unsure
            else EXIT_PASS
        )
        if code != EXIT_UNMEASURED or failed or attempt == args.attempts:
            break
        # Only intervals too wide to conclude get a second chance; a stack that failed does not.
        print(f"an interval straddles its tolerance (attempt {attempt}/{args.attempts}): measuring again")
    record = {
        "baseline": {"path": str(args.baseline), **asdict(reference), "stacks": list(reference.stacks)},
        "base_commit": base_sha,
        "head_commit": git_commit(),
        "head_dirty": git_dirty(),
        "created_unix": int(time.time()),
        "machine": machine(),
        **provenance,
        "runs_per_side": runs,
        "seconds": round(time.monotonic() - started, 1),
        "attempts": attempt,
        "exit_code": code,
        "comparisons": [{**asdict(c), "verdict": c.verdict} for c in comparisons],
        "host_noise": {name: {side: [round(host_noise(r), 2) for r in m.runs[side]] for side in SIDES}
                       for name, m in measured.items()},
        "failed": failed,
        "info": {name: m.info for name, m in measured.items()},
    }
    args.records.mkdir(parents=True, exist_ok=True)
    path = args.records / f"check-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.json"
    path.write_text(json.dumps(record, indent=1))
    print(f"verdict: {['pass', 'REGRESSION', 'could not measure'][code]} "
          f"({record['seconds']} s; record {path})")
    return code
