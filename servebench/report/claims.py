"""The seed article's claims, side by side with what one run measured.

A claim names frameworks, never stacks: the stacks it concerns are those the run recorded with
all of the claim's tags, and the page says which stacks matched. The claims themselves (their
words and numbers) are those the run recorded, so an old run is judged by what held then.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from servebench.report.fmt import number, ratio, users
from servebench.report.stats import Cell, overlaps, peak
from servebench.report.view import RunView
from servebench.results.schema import Claim

Verdict = Literal["supported", "not supported", "not measured"]
SINGLE, BATCH = "single", "batch"


@dataclass(frozen=True)
class Match:
    """Stacks the run recorded with every one of these tags."""

    tags: tuple[str, ...]

    def stacks(self, view: RunView) -> list[str]:
        declared = view.loaded.run.stacks_declared
        return [s for s in view.measured_stacks
                if s in declared and all(t in declared[s].tags for t in self.tags)]

    def describe(self) -> str:
        return " + ".join(f"“{t}”" for t in self.tags)


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


def p99_range(view: RunView, claim: Claim) -> ClaimCheck:
    """Judged at the lowest level measured: the article quotes a service's latency, not the
    queueing of a saturated one; the higher levels are shown beside it."""
    match, low, high = Match(tuple(claim.subjects)), claim.low or 0.0, claim.high or float("inf")
    framework = claim.claim.split(":", 1)[0]
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
        comparable = _on_claimed_hardware(view, claim)
        evidence.append(Evidence(stack, measured if comparable else f"{measured} (on CPU only)",
                                 ("supported" if p99 <= high else "not supported") if comparable
                                 else "not measured"))
    none_reason = f"no {framework} stack measured in this run"
    if evidence and not _on_claimed_hardware(view, claim):
        none_reason = (f"a {claim.accelerator} figure; this run's machine has no {claim.accelerator}, "
                       f"so its CPU numbers are shown but cannot support or refute it")
    verdict, summary = _overall(evidence, none_reason)
    hardware = f" on a machine with a {claim.accelerator}" if claim.accelerator else ""
    return ClaimCheck(
        claim.claim,
        f"stacks matching {match.describe()}; single predictions; supported when the median p99 over "
        f"repeats is at or below {high:g} ms at the lowest concurrency level measured{hardware}",
        verdict, summary, tuple(evidence))


def _on_claimed_hardware(view: RunView, claim: Claim) -> bool:
    """A claim measured on an accelerator is judged only on a machine the run recorded with one."""
    return claim.accelerator is None or bool(view.loaded.run.machine.accelerators)


def batch_gain(view: RunView, claim: Claim) -> ClaimCheck:
    low_gain, high_gain = claim.low or 0.0, claim.high or float("inf")
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
        note = ", more than claimed" if gain > high_gain else ""
        repeats = min(batch.rows_per_s.n, single.rows_per_s.n)
        spread = f"(repeats {ratio(low)}–{ratio(high)})" if repeats > 1 else "(one repeat)"
        evidence.append(Evidence(
            stack,
            f"{number(batch.rows_per_s.median)} rows/s in batches vs {number(single.rows_per_s.median)} "
            f"singly at {users(single.users)}: {ratio(gain)} {spread}{note}"
            + doubt(single, batch),
            "supported" if gain >= low_gain else "not supported"))
    verdict, summary = _overall(evidence, "needs both the single and the batch workload")
    return ClaimCheck(
        claim.claim,
        "per stack, predicted rows per second of the batch workload (5–20 rows a request) over the single "
        f"workload at the highest level both ran; supported at {low_gain:g}× or more", verdict, summary,
        tuple(evidence))


def inline_blocks(view: RunView, claim: Claim) -> ClaimCheck:
    inline, pool = Match(tuple(claim.subjects)), Match(tuple(claim.versus))
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
        claim.claim,
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


def peak_throughput(view: RunView, claim: Claim) -> ClaimCheck:
    match = Match(tuple(claim.subjects))
    low, high = claim.model_ms or (0.0, float("inf"))
    at_least, at_most = claim.low or 0.0, claim.high

    def test(rps: float) -> bool:
        return rps >= at_least and (at_most is None or rps <= at_most)

    if at_most is None:
        rule = f"peak single-prediction throughput of {at_least:g} req/s or more"
    else:
        middle, spread = (at_least + at_most) / 2, (at_most - at_least) / (at_least + at_most)
        rule = f"peak single-prediction throughput within {middle:g} ± {spread * 100:.0f} % req/s"
    meant_for = claim.comparable_model  # the model profile the claim's model call is like
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
              + (f" (run with --model {meant_for})" if meant_for and profile != meant_for else "")
              if evidence else f"no stack matching {match.describe()} measured")
    verdict, summary = _overall(evidence, reason)
    return ClaimCheck(claim.claim, f"stacks matching {match.describe()} whose model call took "
                      f"{low:g}–{high:g} ms; {rule}", verdict, summary, tuple(evidence))


RULES: dict[str, Callable[[RunView, Claim], ClaimCheck]] = {
    "p99_range": p99_range, "batch_gain": batch_gain, "inline_blocks": inline_blocks,
    "peak_throughput": peak_throughput,
}


def check_claims(view: RunView) -> list[ClaimCheck]:
    return [RULES[claim.rule](view, claim) for claim in view.loaded.run.judging.claims]
