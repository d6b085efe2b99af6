from __future__ import annotations

from servebench.report.ratios import compare, matrix, reference_stack
from servebench.report.view import RunView
from servebench.results.summary import Spread


def test_reference_defaults_to_the_stack_the_run_declared_as_reference(view: RunView) -> None:
    declared = view.loaded.run.stacks_declared
    assert declared[reference_stack(view) or ""].role == "reference"
    assert reference_stack(view, "no_such_stack") is None
    assert reference_stack(view, view.measured_stacks[-1]) == view.measured_stacks[-1]


def test_the_matrix_holds_the_ratio_of_medians_per_stack_and_level(view: RunView) -> None:
    ref = reference_stack(view)
    assert ref is not None
    rows = {r.stack: r for r in matrix(view, "single", ref)}
    assert set(rows) == set(view.measured_stacks) - {ref}
    other = next(iter(rows))
    for i, users in enumerate(view.users):
        mine, theirs = view.cell(other, "single", users), view.cell(ref, "single", users)
        assert mine and theirs and mine.rps and theirs.rps
        assert rows[other].throughput[i].ratio == mine.rps.median / theirs.rps.median
        assert len(rows[other].p99) == len(view.users)


def test_only_differences_beyond_the_repeats_spread_are_coloured() -> None:
    low, high = Spread(10, 9, 11, 3), Spread(30, 28, 33, 3)
    assert compare(high, low, higher_is_better=True).standing == "better"
    assert compare(high, low, higher_is_better=False).standing == "worse"
    worse = compare(high, low, higher_is_better=False)
    assert worse.style.startswith("background:#b42318")
    same = compare(Spread(10, 8, 12, 3), Spread(11, 9, 13, 3), higher_is_better=True)
    assert same.standing == "same" and same.style == ""
    single = compare(Spread(30, 30, 30, 1), low, higher_is_better=True)
    assert single.standing == "unknown" and single.ratio == 3.0 and single.style == ""


def test_the_further_from_one_the_deeper_the_colour() -> None:
    base = Spread(10, 9, 11, 3)
    near, far = (compare(Spread(v, v * 0.98, v * 1.02, 3), base, True).style for v in (13, 40))
    assert int(near[-2:], 16) < int(far[-2:], 16)
