"""fastapi_batcher's performance targets, each judged as a ratio of medians within one run.

Declared once, here. A target whose cells the run lacks (another profile, a failed stack) is
"not measured"; one that rests on a generator-bound measurement is "generator-bound": the client,
not the stack, may have set the number, so it is neither credited nor blamed. `make bench-perf`
(the perf profile, driven by wrk) measures every cell these targets need.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Literal

from servebench.report.ceiling import CEILING, PREDICTION
from servebench.report.stats import Cell, peak
from servebench.report.view import RunView
from servebench.results.summary import Spread

OURS = "fastapi_batcher"
INLINE = "fastapi_inline"
THREADPOOL = "fastapi_threadpool"
PEERS = ("bentoml", "bentoml_nobatch", "litserve", "litserve_nobatch")
LOADED = (32, 64)

Verdict = Literal["met", "missed", "not measured", "generator-bound"]


@dataclass(frozen=True)
class Judged:
    target: str
    users: int | None
    ratio: float | None  # ours / theirs, medians
    limit: str  # e.g. "<= 1.15"
    verdict: Verdict
    detail: str


def _median(spread: Spread | None) -> float | None:
    return spread.median if spread is not None else None


def _judge(target: str, users: int | None, ours: Cell | None, theirs: Cell | None,
           value: Callable[[Cell], Spread | None], limit: float, at_most: bool, detail: str) -> Judged:
    bound = f"{'<=' if at_most else '>='} {limit:g}"
    a = _median(value(ours)) if ours else None
    b = _median(value(theirs)) if theirs else None
    if ours is None or theirs is None or a is None or not b:
        return Judged(target, users, None, bound, "not measured", detail)
    ratio = a / b
    if "generator_bound" in ours.flags or "generator_bound" in theirs.flags:
        return Judged(target, users, ratio, bound, "generator-bound", detail)
    met = ratio <= limit if at_most else ratio >= limit
    return Judged(target, users, ratio, bound, "met" if met else "missed", detail)


def _best_peer(view: RunView, users: int) -> Cell | None:
    return peak(c for s in PEERS if (c := view.cell(s, PREDICTION, users)) is not None)


def judge_targets(view: RunView) -> list[Judged]:
    """Every target, judged; empty when the run did not measure fastapi_batcher at all."""
    if OURS not in view.measured_stacks:
        return []
    cell = view.cell
    rps, p50, p99 = attrgetter("rps"), attrgetter("p50_ms"), attrgetter("p99_ms")
    judged = [_judge("p50 at 1 user against fastapi_inline: no fixed wait when idle", 1,
                     cell(OURS, PREDICTION, 1), cell(INLINE, PREDICTION, 1), p50, 1.15, True,
                     "fastapi_inline's p50 at 1 user")]
    for users in LOADED:
        peer = _best_peer(view, users)
        judged.append(_judge("throughput against the best BentoML or LitServe variant", users,
                             cell(OURS, PREDICTION, users), peer, rps, 4.0, False,
                             f"best peer: {peer.stack}" if peer else "no peer measured"))
    for users in LOADED:
        judged.append(_judge("p99 against fastapi_threadpool", users, cell(OURS, PREDICTION, users),
                             cell(THREADPOOL, PREDICTION, users), p99, 0.5, True,
                             "fastapi_threadpool's p99"))
    ours, ceiling = peak(view.stack_cells(OURS, PREDICTION)), peak(view.stack_cells(OURS, CEILING))
    judged.append(_judge("peak predictions against the same server's framework ceiling",
                         ours.users if ours else None, ours, ceiling, rps, 0.6, False,
                         f"ceiling peak at {ceiling.users} users" if ceiling else "no ceiling measured"))
    return judged
