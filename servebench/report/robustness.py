"""The robustness matrix of a run: how each stack answered the BAD corpus while verified."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from servebench.report.view import RunView

OUTCOMES = ("pass", "declared", "undeclared", "fail")


@dataclass(frozen=True)
class Cell:
    total: int
    counts: dict[str, int]  # outcome -> cases

    @property
    def clean(self) -> bool:
        return self.counts.get("pass", 0) == self.total


@dataclass(frozen=True)
class MatrixRow:
    stack: str
    cells: dict[str, Cell]  # group -> cell
    problems: list[str]  # "case: detail" for everything that did not pass


def groups(view: RunView) -> list[str]:
    """The case groups the run's verifications met, in the order they were checked."""
    return list(dict.fromkeys(c.group for o in view.loaded.run.stacks for c in o.checks if c.group))


def robustness(view: RunView) -> list[MatrixRow]:
    rows = []
    for outcome in view.loaded.run.stacks:
        by_group: dict[str, Counter[str]] = defaultdict(Counter)
        problems = []
        for check in outcome.checks:
            group = check.group  # bad-input checks carry their case group
            if group is None:
                continue
            result = check.detail.split(":", 1)[0]
            if result not in OUTCOMES:  # records that checked the status only
                result = "pass" if check.ok else "fail"
            by_group[group][result] += 1
            if result != "pass":
                problems.append(f"{check.name.removeprefix('bad_')}: {check.detail}")
        if by_group:
            cells = {g: Cell(sum(c.values()), dict(c)) for g, c in by_group.items()}
            rows.append(MatrixRow(outcome.stack, cells, problems))
    return rows
