"""The seed article's claims, side by side with what one run measured.

A claim names frameworks, never stacks: the stacks it concerns are found by the words of
their registered title and command, and the page says which stacks matched.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from servebench.report.fmt import number, ratio, users
from servebench.report.stats import Cell, overlaps, peak
from servebench.report.view import RunView

Verdict = Literal["supported", "not supported", "not measured"]
# The article's throughput claims concern a ~50 ms model: they are judged only where the measured
# model call took within a factor of two of that; COMPARABLE_PROFILE is the profile meant for it.
COMPARABLE_MODEL_MS = (25.0, 100.0)
COMPARABLE_PROFILE = "heavy"
SINGLE, BATCH = "single", "batch"


@dataclass(frozen=True)
class Match:
    """Stacks whose title and command contain every one of these words (case-insensitive)."""

    words: tuple[str, ...]

    def stacks(self, view: RunView) -> list[str]:
        def text(stack: str) -> str:
            outcome = view.outcomes.get(stack)
            return (view.title(stack) + " " + " ".join(outcome.command if outcome else ())).lower()

        return [s for s in view.measured_stacks if all(w.lower() in text(s) for w in self.words)]

    def describe(self) -> str:
        return " + ".join(f"“{w}”" for w in self.words)


@dataclass(frozen=True)
class Evidence:
    subject: str
    measured: str
    verdict: Verdict


@dataclass(frozen=True)
class ClaimCheck:
    claim: str
    rule: str
    verdict: Verdict
    summary: str
    evidence: tuple[Evidence, ...]


def _overall(evidence: list[Evidence], none_reason: str) -> tuple[Verdict, str]:
    judged = [e for e in evidence if e.verdict != "not measured"]
    if not judged:
        return "not measured", none_reason
    held = [e.subject for e in judged if e.verdict == "supported"]
    failed = [e.subject for e in judged if e.verdict == "not supported"]
    if not failed:
        return "supported", f"holds for {', '.join(held)}"
    holds = f"; holds for {', '.join(held)}" if held else ""
    return "not supported", f"fails for {', '.join(failed)}{holds}"


def doubt(*cells: Cell) -> str:
    """A note naming the flags of the measurements behind a piece of evidence, if any."""
    flags = sorted({f for c in cells for f in c.flags if f != "failures"})
    return f" [flagged: {', '.join(flags)}]" if flags else ""


def _levels(cells: list[Cell], value: Callable[[Cell], float | None], unit: str) -> str:
    return ", ".join(f"{c.users}u {number(v, 2)}{unit}" for c in cells if (v := value(c)) is not None)


def p99_range(view: RunView, framework: str, match: Match, low: float, high: float) -> ClaimCheck:
    """Judged at the lowest level measured: the article quotes a service's latency, not the
    queueing of a saturated one; the higher levels are shown beside it."""
    evidence = []
    for stack in match.stacks(view):
        cells = [c for c in view.stack_cells(stack, SINGLE) if c.p99_ms is not None]
        if not cells:
            evidence.append(Evidence(stack, "no single-prediction measurement", "not measured"))
            continue
        judged = cells[0]
        assert judged.p99_ms
        p99 = judged.p99_ms.median
        note = " (below the claimed range: faster)" if p99 < low else ""
        measured = (f"{number(p99, 2)} ms at {users(judged.users)}{note}; all levels: "
                    + _levels(cells, lambda c: c.p99_ms.median if c.p99_ms else None, " ms") + doubt(*cells))
        evidence.append(Evidence(stack, measured, "supported" if p99 <= high else "not supported"))
    verdict, summary = _overall(evidence, f"no {framework} stack measured in this run")
    return ClaimCheck(
        f"{framework}: p99 latency {low:g}–{high:g} ms (the article's comparison table)",
        f"stacks matching {match.describe()}; single predictions; supported when the median p99 over "
        f"repeats is at or below {high:g} ms at the lowest concurrency level measured",
        verdict, summary, tuple(evidence))


def batch_gain(view: RunView) -> ClaimCheck:
    evidence = []
    for stack in view.measured_stacks:
        pairs = [(s, b) for s, b in ((view.cell(stack, SINGLE, u), view.cell(stack, BATCH, u))
                                     for u in view.users) if s and b and s.rows_per_s and b.rows_per_s]
        if not pairs:
            continue
        single, batch = pairs[-1]  # the highest level both were measured at
        assert single.rows_per_s and batch.rows_per_s
        gain = batch.rows_per_s.median / single.rows_per_s.median
        low = batch.rows_per_s.low / single.rows_per_s.high
        high = batch.rows_per_s.high / single.rows_per_s.low
        note = ", more than claimed" if gain > 5 else ""
        repeats = min(batch.rows_per_s.n, single.rows_per_s.n)
        spread = f"(repeats {ratio(low)}–{ratio(high)})" if repeats > 1 else "(one repeat)"
        evidence.append(Evidence(
            stack,
            f"{number(batch.rows_per_s.median)} rows/s in batches vs {number(single.rows_per_s.median)} "
            f"singly at {users(single.users)}: {ratio(gain)} {spread}{note}"
            + doubt(single, batch),
            "supported" if gain >= 3 else "not supported"))
    verdict, summary = _overall(evidence, "needs both the single and the batch workload")
    return ClaimCheck(
        "The batch endpoint gives 3–5× the throughput of N single calls",
        "per stack, predicted rows per second of the batch workload (5–20 rows a request) over the single "
        "workload at the highest level both ran; supported at 3× or more", verdict, summary, tuple(evidence))


def inline_blocks(view: RunView, inline: Match, pool: Match) -> ClaimCheck:
    evidence = []
    for a in inline.stacks(view):
        for b in pool.stacks(view):
            both = [(x, y) for u in view.users if u > 1 and (x := view.cell(a, SINGLE, u)) and
                    (y := view.cell(b, SINGLE, u)) and x.p99_ms and y.p99_ms]
            if not both:
                continue
            x, y = both[-1]
            assert x.p99_ms and y.p99_ms
            repeats = min(x.p99_ms.n, y.p99_ms.n)
            worse = x.p99_ms.median > y.p99_ms.median and (repeats < 2 or not overlaps(x.p99_ms, y.p99_ms))
            note = "one repeat: spread unknown" if repeats < 2 else (
                "no significant difference" if overlaps(x.p99_ms, y.p99_ms) else "beyond the repeats' spread")
            evidence.append(Evidence(
                f"{a} vs {b}", f"p99 {number(x.p99_ms.median, 2)} ms vs {number(y.p99_ms.median, 2)} ms at "
                               f"{users(x.users)} ({ratio(x.p99_ms.median / y.p99_ms.median)}, {note})"
                + doubt(x, y),
                "supported" if worse else "not supported"))
    verdict, summary = _overall(evidence, "needs an inline and a thread-pool stack at more than one user")
    return ClaimCheck(
        "Calling the model inline in async def blocks the event loop and worsens performance",
        f"stacks matching {inline.describe()} vs {pool.describe()}; single predictions at the highest "
        "concurrency; supported when the inline p99 is higher and the repeats do not overlap",
        verdict, summary, tuple(evidence))


def model_call_ms(cells: list[Cell]) -> float | None:
    """Server-side time of one model call at the lowest level measured, where it competes least."""
    for cell in cells:
        times = [r.server_metrics.mean_inference_ms for r in cell.records
                 if r.server_metrics and r.server_metrics.mean_inference_ms is not None]
        if times:
            return statistics.median(times)
    return None


def peak_throughput(view: RunView, claim: str, match: Match, test: Callable[[float], bool],
                    rule: str) -> ClaimCheck:
    low, high = COMPARABLE_MODEL_MS
    evidence, call_times = [], []
    for stack in match.stacks(view):
        cells = [c for c in view.stack_cells(stack, SINGLE) if c.rps is not None]
        best = peak(cells)
        if best is None or best.rps is None:
            continue
        call_ms = model_call_ms(cells)
        comparable = call_ms is not None and low <= call_ms <= high
        if call_ms is not None:
            call_times.append(call_ms)
        detail = (f"peak {number(best.rps.median)} req/s at {users(best.users)}, "
                  f"workers={best.records[0].knobs.get('workers', '?')}, "
                  f"{number(call_ms, 2)} ms per model call" + doubt(best))
        verdict: Verdict = ("supported" if test(best.rps.median) else "not supported") if comparable \
            else "not measured"
        evidence.append(Evidence(stack, detail, verdict))
    profile = view.loaded.run.model.get("profile", "?")
    took = f"{number(statistics.median(call_times), 2)} ms" if call_times else "an unknown time"
    reason = (f"the claim concerns a ~50 ms model; this run's {profile} model took {took} a call"
              + (f" (run with --model {COMPARABLE_PROFILE})" if profile != COMPARABLE_PROFILE else "")
              if evidence else f"no stack matching {match.describe()} measured")
    verdict, summary = _overall(evidence, reason)
    return ClaimCheck(claim, f"stacks matching {match.describe()} whose model call took {low:g}–{high:g} ms; "
                      f"{rule}", verdict, summary, tuple(evidence))


def check_claims(view: RunView) -> list[ClaimCheck]:
    fastapi = Match(("fastapi", "uvicorn"))
    return [
        p99_range(view, "FastAPI + Uvicorn", fastapi, 5, 20),
        p99_range(view, "BentoML", Match(("bentoml",)), 8, 30),
        batch_gain(view),
        inline_blocks(view, Match(("fastapi", "inline")), Match(("fastapi", "thread pool"))),
        peak_throughput(view, "Flask with 4 workers handles about 80 req/s with a 50 ms model",
                        Match(("flask",)), lambda rps: 60 <= rps <= 100,
                        "peak single-prediction throughput within 80 ± 25 % req/s"),
        peak_throughput(view, "FastAPI + Uvicorn handles 500+ req/s on the same hardware", fastapi,
                        lambda rps: rps >= 500, "peak single-prediction throughput of 500 req/s or more"),
    ]
