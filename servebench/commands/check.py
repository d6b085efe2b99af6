"""`servebench check` and `servebench baseline`: the latency regression gate for CI.

`check` measures the commit named by the committed baseline and the working tree here, in one
run (loadtests/gate/check.py); `baseline` names the commit later checks are judged against.

Exit codes of `check`: 0 pass, 1 regression, 2 could not measure.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from loadtests.gate import baseline as baseline_file
from loadtests.gate import checkout
from loadtests.gate.check import EXIT_UNMEASURED, CheckRequest, Slowdown, check
from servebench.commands.common import add_render_flag, render_result
from servebench.errors import UserError
from servebench.results.provenance import git_dirty
from servers.process import REPO_ROOT
from servers.registry import STACKS
from shared_model.profiles import DEFAULT_PROFILE, PROFILES


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("check", help="compare latency with the baseline's commit, here and now")
    parser.add_argument("--stacks", nargs="+", choices=sorted(STACKS), help="default: the baseline's")
    parser.add_argument("--baseline", type=Path, default=baseline_file.DEFAULT_PATH)
    parser.add_argument("--base", metavar="REVISION",
                        help="compare with this commit instead of the baseline's (e.g. HEAD)")
    parser.add_argument("--slowdown", action="append", default=[], metavar="STACK=US|PERCENT%",
                        help="inject a CPU-bound delay per predicted row into the head (to test the gate)")
    parser.add_argument("--runs", type=int,
                        help="fresh processes per stack and side (default: the baseline's)")
    parser.add_argument("--attempts", type=int, default=3,
                        help="when an interval is too wide to conclude, measure `runs` more processes "
                             "per side and judge them all together, up to this many times in all")
    parser.add_argument("--results-dir", type=Path, default=REPO_ROOT / "results")
    add_render_flag(parser)
    parser.set_defaults(func=run_check)

    base = subparsers.add_parser("baseline", help="name the commit later checks are judged against")
    base.add_argument("--commit", default="HEAD", help="default: HEAD (the working tree must be clean)")
    base.add_argument("--stacks", nargs="+", choices=sorted(STACKS),
                      default=[name for name, stack in STACKS.items() if stack.role == "ours"])
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


def _slowdowns(pairs: list[str]) -> dict[str, Slowdown]:
    found = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            if not sep or name not in STACKS:
                raise ValueError(pair)
            found[name] = Slowdown.parse(value)
        except ValueError:
            raise UserError(f"--slowdown takes STACK=MICROSECONDS or STACK=PERCENT%, got {pair!r}") from None
    return found


def run_check(args: argparse.Namespace) -> int:
    try:
        reference = baseline_file.load(args.baseline)
    except baseline_file.BaselineError as error:
        print(f"servebench check: cannot compare: {error}")
        return EXIT_UNMEASURED
    request = CheckRequest(
        reference=reference, baseline_path=args.baseline, base_revision=args.base or reference.commit,
        stacks=tuple(args.stacks or reference.stacks), runs=args.runs or reference.runs,
        attempts=args.attempts, slowdowns=_slowdowns(args.slowdown), results_dir=args.results_dir)
    root, code = check(request, lambda line: print(line, flush=True))
    if root is not None:
        print(f"verdict: {['pass', 'REGRESSION', 'could not measure'][code]}; result in {root}")
        render_result(args, root)
    return code
