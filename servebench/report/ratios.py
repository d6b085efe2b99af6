"""Ratios in words against a reference stack measured in the same run."""

from __future__ import annotations

from dataclasses import dataclass

from servebench.report.fmt import ratio
from servebench.report.fmt import users as users_text
from servebench.report.stats import overlaps, significant
from servebench.report.view import RunView
from servebench.results.summary import Spread


def reference_stack(view: RunView, wanted: str | None = None) -> str | None:
    """The stack others are compared with: the one asked for, else the first one measured."""
    if wanted is not None:
        return wanted if wanted in view.measured_stacks else None
    return view.measured_stacks[0] if view.measured_stacks else None


def _qualifier(mine: Spread, theirs: Spread) -> str:
    if mine.n < 2 or theirs.n < 2:
        return " (one repeat: spread unknown)"
    return " (no significant difference)" if overlaps(mine, theirs) else ""


@dataclass(frozen=True)
class Sentence:
    stack: str
    users: int
    text: str
    significant: bool  # at least one part differs beyond the repeats' spread


def sentences(view: RunView, workload: str, reference: str) -> list[Sentence]:
    """One sentence per other stack and level, e.g. 'b: 2.70× the throughput of a at 64 users, p99 0.60×'."""
    out = []
    for users in view.users:
        ref = view.cell(reference, workload, users)
        if ref is None:
            continue
        for stack in view.measured_stacks:
            mine = view.cell(stack, workload, users)
            if stack == reference or mine is None:
                continue
            if mine.rps is None or ref.rps is None or not ref.rps.median:
                continue
            text = (f"{stack}: {ratio(mine.rps.median / ref.rps.median)} the throughput of {reference} "
                    f"at {users_text(users)}{_qualifier(mine.rps, ref.rps)}")
            if mine.p99_ms is not None and ref.p99_ms is not None and ref.p99_ms.median:
                text += f", p99 {ratio(mine.p99_ms.median / ref.p99_ms.median)}" \
                        f"{_qualifier(mine.p99_ms, ref.p99_ms)}"
            differs = significant(mine.rps, ref.rps) or significant(mine.p99_ms, ref.p99_ms)
            out.append(Sentence(stack, users, text, differs))
    return out
