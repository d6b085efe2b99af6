"""Performance targets a stack declared, each judged as a ratio of medians within one run.

The targets are those the run recorded for each stack (the registry's declaration when it
ran). A target whose cells the run lacks (another profile, a failed stack) is "not measured";
one that rests on a generator-bound measurement is "generator-bound": the client, not the
stack, may have set the number, so it is neither credited nor blamed. `make bench-perf`
measures every cell the batcher's targets need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from servebench.report.ceiling import CEILING, PREDICTION
from servebench.report.stats import Cell, peak
from servebench.report.view import RunView
from servebench.results.schema import Target
from servebench.results.summary import Spread

Verdict = Literal["met", "missed", "not measured", "generator-bound"]


@dataclass(frozen=True)
class Judged:
    stack: str
    target: str
    users: int | None
    ratio: float | None  # ours / theirs, medians
    limit: str  # e.g. "<= 1.15"
    verdict: Verdict
    detail: str


def _value(cell: Cell | None, metric: str) -> float | None:
    spread: Spread | None = getattr(cell, metric) if cell else None
    return spread.median if spread is not None else None


def _judge(stack: str, target: Target, users: int | None, ours: Cell | None, theirs: Cell | None,
           detail: str) -> Judged:
    bound = f"{'<=' if target.at_most else '>='} {target.limit:g}"
    a, b = _value(ours, target.metric), _value(theirs, target.metric)
    if ours is None or theirs is None or a is None or not b:
        return Judged(stack, target.name, users, None, bound, "not measured", detail)
    ratio = a / b
    if "generator_bound" in ours.flags or "generator_bound" in theirs.flags:
        return Judged(stack, target.name, users, ratio, bound, "generator-bound", detail)
    met = ratio <= target.limit if target.at_most else ratio >= target.limit
    return Judged(stack, target.name, users, ratio, bound, "met" if met else "missed", detail)


def _best_peer(view: RunView, users: int) -> Cell | None:
    declared = view.loaded.run.stacks_declared
    peers = [name for name, stack in declared.items() if stack.role == "peer"]
    return peak(c for s in peers if (c := view.cell(s, PREDICTION, users)) is not None)


def _judge_target(view: RunView, stack: str, target: Target) -> list[Judged]:
    if target.against == "ceiling":
        ours, ceiling = peak(view.stack_cells(stack, PREDICTION)), peak(view.stack_cells(stack, CEILING))
        return [_judge(stack, target, ours.users if ours else None, ours, ceiling,
                       f"ceiling peak at {ceiling.users} users" if ceiling else "no ceiling measured")]
    judged = []
    for users in target.users or ():
        ours = view.cell(stack, PREDICTION, users)
        if target.against == "peers":
            theirs = _best_peer(view, users)
            detail = f"best peer: {theirs.stack}" if theirs else "no peer measured"
        else:
            theirs, detail = view.cell(target.against, PREDICTION, users), target.detail
        judged.append(_judge(stack, target, users, ours, theirs, detail))
    return judged


def judge_targets(view: RunView) -> list[Judged]:
    """Every declared target of every measured stack, judged."""
    declared = view.loaded.run.stacks_declared
    return [judged for stack in view.measured_stacks if stack in declared
            for target in declared[stack].targets for judged in _judge_target(view, stack, target)]
