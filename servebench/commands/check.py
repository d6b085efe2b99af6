"""`servebench check` and `servebench baseline`: latency regression gate for CI.

Exit codes of `check`: 0 pass, 1 regression, 2 could not measure.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from servebench.commands.serve import parse_knobs
from servebench.errors import UserError
from servebench.provenance import git_commit, git_dirty, machine
from servebench.regression import baseline as baseline_file
from servebench.regression.compare import (
    QUANTILE,
    TAIL_NOISE_LIMIT,
    Comparison,
    compare,
    host_noise,
)
from servebench.regression.sampler import Rounds, SamplingPlan, sample_stack
from servers.process import StackFailed
from servers.registry import STACKS, get_stack
from shared_model.profiles import profile_from_env

EXIT_PASS, EXIT_REGRESSION, EXIT_UNMEASURED = 0, 1, 2
# Keep-alive stacks: gunicorn's sync workers close every connection, so their latency tail
# is mostly TCP set-up and too noisy for a gate on a shared 2-core host.
CI_STACKS = ("fastapi_batcher", "fastapi_threadpool")


def _pinning() -> tuple[list[int] | None, list[int] | None]:
    """Server on the last usable CPU, this client on the others (none on one CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    return (cpus[-1:], cpus[:-1]) if len(cpus) > 1 else (None, None)


def _provenance(server_cpus: list[int] | None, client_cpus: list[int] | None) -> dict[str, Any]:
    return {
        "created_unix": int(time.time()),
        "commit": git_commit(),
        "dirty": git_dirty(),
        "machine": machine(),
        "pinning": {"server_cpus": server_cpus, "client_cpus": client_cpus},
    }


def _measure(
    names: list[str], plan: SamplingPlan, slowdowns: dict[str, Any], runs: int
) -> tuple[dict[str, tuple[list[Rounds], dict[str, Any]]], dict[str, str], dict[str, Any]]:
    """Each stack `runs` times, restarted each time and interleaved with the other stacks
    so that a slow minute of the host hits them alike; failures are reported, not raised."""
    server_cpus, client_cpus = _pinning()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    samples: dict[str, list[Rounds]] = {name: [] for name in names}
    infos: dict[str, dict[str, Any]] = {}
    failed: dict[str, str] = {}
    for run in range(1, runs + 1):
        for name in names:
            if name in failed:
                continue
            env = {"SERVEBENCH_SLOWDOWN_US": str(slowdowns[name])} if name in slowdowns else None
            print(f"measuring {name}: run {run}/{runs}, {plan.rounds} rounds x "
                  f"{plan.pairs_per_round} pairs", flush=True)
            try:
                rounds, infos[name] = sample_stack(get_stack(name), plan, server_cpus, env)
                samples[name].append(rounds)
            except (StackFailed, RuntimeError, OSError) as error:
                failed[name] = str(error)
                print(f"{name}: could not measure: {error}")
                if isinstance(error, StackFailed):
                    print(error.log_tail)
    measured = {name: (samples[name], infos[name]) for name in names if name not in failed}
    return measured, failed, _provenance(server_cpus, client_cpus)


def register(subparsers: Any) -> None:
    check = subparsers.add_parser("check", help="compare latency with the committed baseline")
    check.add_argument("--stacks", nargs="+", choices=sorted(STACKS), help="default: the baseline's")
    check.add_argument("--baseline", type=Path, default=baseline_file.DEFAULT_PATH)
    check.add_argument("--slowdown", action="append", default=[], metavar="STACK=MICROSECONDS",
                       help="inject a CPU-bound delay per predicted row (to test the gate)")
    check.add_argument("--runs", type=int, default=6, help="independent runs per stack")
    check.add_argument("--attempts", type=int, default=2,
                       help="measure again when the host was too disturbed to judge")
    check.add_argument("--tolerance-p50", type=float)
    check.add_argument("--tolerance-p99", type=float)
    check.add_argument("--records", type=Path, default=Path("results/checks"))
    check.set_defaults(func=run_check)

    base = subparsers.add_parser("baseline", help="measure and write the latency baseline")
    base.add_argument("--stacks", nargs="+", choices=sorted(STACKS), default=list(CI_STACKS))
    base.add_argument("--out", type=Path, default=baseline_file.DEFAULT_PATH)
    base.add_argument("--rounds", type=int, default=SamplingPlan.rounds)
    base.add_argument("--pairs", type=int, default=SamplingPlan.pairs_per_round)
    # Measured once, judged against by every check: twice the runs spread it over a few
    # minutes, so one fast or slow minute of a shared host does not become every check's yardstick.
    base.add_argument("--runs", type=int, default=16, help="independent runs per stack")
    base.set_defaults(func=run_baseline)


def run_baseline(args: argparse.Namespace) -> int:
    plan = SamplingPlan(rounds=args.rounds, pairs_per_round=args.pairs)
    measured, failed, provenance = _measure(args.stacks, plan, {}, runs=args.runs)
    if failed:
        raise UserError(f"baseline not written: {', '.join(failed)} could not be measured")
    for name, (runs, _) in measured.items():
        noise = max(host_noise(run) for run in runs)
        print(f"{name}: host noise (/health p99/p50) {noise:.1f}")
        if noise > TAIL_NOISE_LIMIT["p50"]:
            raise UserError(
                f"baseline not written: the host was too busy while measuring {name} "
                f"(/health p99 is {noise:.1f}x its p50); retry on a quieter machine"
            )
        if noise > TAIL_NOISE_LIMIT["p99"]:
            print(f"warning: p99 verdicts against this baseline will be inconclusive for {name}")
    baseline_file.dump(args.out, plan, profile_from_env().name, measured, provenance)
    print(f"baseline of {', '.join(measured)} written to {args.out}")
    return 0


def run_check(args: argparse.Namespace) -> int:
    try:
        document = baseline_file.load(args.baseline)
        names = args.stacks or list(document["stacks"])
        expected = {name: baseline_file.runs_of(document, name) for name in names}
        plan = baseline_file.plan_of(document)
        if document["model"] != profile_from_env().name:
            raise baseline_file.BaselineError(
                f"the baseline was measured with model {document['model']!r}, "
                f"this check would use {profile_from_env().name!r}"
            )
    except (baseline_file.BaselineError, KeyError, TypeError) as error:
        print(f"servebench check: cannot compare: {error}")
        return EXIT_UNMEASURED
    slowdowns = parse_knobs(args.slowdown)
    tolerances = {"p50": args.tolerance_p50, "p99": args.tolerance_p99}
    started = time.monotonic()
    for attempt in range(1, args.attempts + 1):
        measured, failed, provenance = _measure(names, plan, slowdowns, args.runs)
        comparisons: list[Comparison] = [
            compare(name, expected[name], runs, metric, tolerances[metric])
            for name, (runs, _) in measured.items()
            for metric in QUANTILE
        ]
        for comparison in comparisons:
            print(comparison.line())
        for name, error in failed.items():
            print(f"{name}: COULD NOT MEASURE ({error})")
        # p99 on a shared host is reported but only gates when it is clearly measurable.
        noisy = any(c.verdict == "inconclusive" and c.metric == "p50" for c in comparisons)
        code = (
            EXIT_REGRESSION if any(c.verdict == "REGRESSION" for c in comparisons)
            else EXIT_UNMEASURED if failed or noisy
            else EXIT_PASS
        )
        if code != EXIT_UNMEASURED or failed or attempt == args.attempts:
            break
        # Only a disturbed host gets a second chance; a stack that failed does not.
        print(f"the host was too disturbed to judge (attempt {attempt}/{args.attempts}): measuring again")
    record = {
        "baseline": {"path": str(args.baseline), "commit": document.get("commit")},
        **provenance,
        "seconds": round(time.monotonic() - started, 1),
        "slowdowns_us": slowdowns,
        "attempts": attempt,
        "exit_code": code,
        "comparisons": [{**asdict(c), "verdict": c.verdict} for c in comparisons],
        "failed": failed,
        "info": {name: info for name, (_, info) in measured.items()},
    }
    args.records.mkdir(parents=True, exist_ok=True)
    path = args.records / f"check-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.getpid()}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"verdict: {['pass', 'REGRESSION', 'could not measure'][code]} "
          f"({record['seconds']} s; record {path})")
    return code
