from __future__ import annotations

from servebench.report.leaderboard import leaderboard
from servebench.report.view import RunView
from servebench.results.store import LoadedRun
from tests.unit.report.conftest import with_failed_stack, with_flag


def test_one_row_per_stack_best_peak_first(view: RunView) -> None:
    rows = leaderboard(view, "single")
    assert sorted(r.stack for r in rows) == sorted(view.loaded.run.settings.stacks)
    peaks = [r.peak.sort for r in rows]
    assert peaks == sorted(peaks, reverse=True)
    assert all(len(r.p99) == len(view.users) for r in rows)


def test_peak_is_the_best_median_over_levels(view: RunView) -> None:
    row = leaderboard(view, "single")[0]
    medians = [c.rps.median for c in view.stack_cells(row.stack, "single") if c.rps]
    assert row.peak.sort == max(medians)


def test_flags_are_marked_on_the_numbers(loaded: LoadedRun) -> None:
    record = next(r for r in loaded.records if r.workload == "single" and "generator_bound" not in r.flags)
    before = RunView(loaded)
    after = RunView(with_flag(loaded, record.record_id, "generator_bound"))
    level = before.users.index(record.users)

    def p99_marks(view: RunView) -> tuple[str, ...]:
        return next(r for r in leaderboard(view, "single") if r.stack == record.stack).p99[level].marks

    assert "G" not in p99_marks(before) and "G" in p99_marks(after)


def test_a_failed_stack_keeps_its_row_and_reason(loaded: LoadedRun) -> None:
    stack = loaded.run.stacks[-1].stack
    rows = leaderboard(RunView(with_failed_stack(loaded, stack)), "single")
    failed = next(r for r in rows if r.stack == stack)
    assert failed.status == "failed" and failed.reason == "died during a measurement"
