"""Every stack against a reference stack measured in the same run: a stack x users matrix of
throughput and p99 ratios, coloured where the repeats' ranges do not overlap, grey where they
do (no significant difference) or where a side had one repeat (spread unknown)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from servebench.report.fmt import ratio
from servebench.report.stats import Cell, overlaps
from servebench.report.trust import cell_support
from servebench.report.view import RunView
from servebench.results.summary import Spread

Standing = Literal["better", "worse", "same", "unknown"]
SATURATE = 4.0  # a ratio this far from 1 (either way) gets the full colour


def reference_stack(view: RunView, wanted: str | None = None) -> str | None:
    """The stack others are compared with: the one asked for, else the stack the run declared as
    the reference, else the first one measured."""
    if wanted is not None:
        return wanted if wanted in view.measured_stacks else None
    declared = view.loaded.run.stacks_declared
    reference = [s for s in view.measured_stacks if s in declared and declared[s].role == "reference"]
    candidates = reference or view.measured_stacks
    return candidates[0] if candidates else None


@dataclass(frozen=True)
class RatioCell:
    ratio: float | None  # mine / reference, medians
    standing: Standing
    style: str  # the cell's background: green better, red worse, none when not significant
    note: str  # why it is grey, for the cell's title

    @property
    def text(self) -> str:
        return ratio(self.ratio) if self.ratio is not None else "–"


def _colour(value: float, better: bool) -> str:
    """Green or red, the more opaque the further the ratio is from 1 (on a log scale)."""
    strength = min(1.0, abs(math.log(value)) / math.log(SATURATE))
    alpha = round(255 * (0.10 + 0.45 * strength))
    return f"background:#{'1a7f37' if better else 'b42318'}{alpha:02x}"


def compare(mine: Spread | None, theirs: Spread | None, higher_is_better: bool) -> RatioCell:
    if mine is None or theirs is None or not theirs.median:
        return RatioCell(None, "unknown", "", "not measured on both sides")
    value = mine.median / theirs.median
    if mine.n < 2 or theirs.n < 2:
        return RatioCell(value, "unknown", "", "one repeat on a side: spread unknown")
    if overlaps(mine, theirs):
        return RatioCell(value, "same", "", "the repeats' ranges overlap: no significant difference")
    better = (value > 1) == higher_is_better
    return RatioCell(value, "better" if better else "worse", _colour(value, better),
                     "beyond the repeats' spread")


@dataclass(frozen=True)
class MatrixRow:
    stack: str
    throughput: list[RatioCell]  # one per level in RunView.users
    p99: list[RatioCell]


def _p99(cell: Cell | None) -> Spread | None:
    """A p99 the sample does not support is not compared."""
    if cell is None or cell_support(cell, "p99") == "withheld":
        return None
    return cell.p99_ms


def matrix(view: RunView, workload: str, reference: str) -> list[MatrixRow]:
    rows = []
    for stack in view.measured_stacks:
        if stack == reference or not view.stack_cells(stack, workload):
            continue
        through, tail = [], []
        for users in view.users:
            mine, theirs = view.cell(stack, workload, users), view.cell(reference, workload, users)
            through.append(compare(view.rate(mine) if mine else None, view.rate(theirs) if theirs else None,
                                   higher_is_better=True))
            tail.append(compare(_p99(mine), _p99(theirs), higher_is_better=False))
        rows.append(MatrixRow(stack, through, tail))
    return rows
