from __future__ import annotations

import pytest

from servebench.report.stats import cpu_s_per_1k, overlaps, rows_per_s, significant
from servebench.report.view import RunView
from servebench.results.summary import Spread


def test_overlapping_ranges_are_not_significant() -> None:
    a, b = Spread(10, 8, 12, 3), Spread(11, 11.5, 14, 3)
    assert overlaps(a, b) and not significant(a, b)


def test_disjoint_ranges_with_repeats_are_significant() -> None:
    assert significant(Spread(10, 9, 11, 3), Spread(20, 19, 21, 3))


def test_a_single_repeat_is_never_significant() -> None:
    assert not significant(Spread(10, 10, 10, 1), Spread(20, 19, 21, 3))


def test_cells_group_repeats_and_take_medians(view: RunView) -> None:
    stack = view.measured_stacks[0]
    cell = view.cell(stack, "single", 16)
    assert cell is not None and len(cell.records) == 2
    rates = sorted(r.measured.rps for r in cell.records)
    assert cell.rps == Spread(sum(rates) / 2, rates[0], rates[1], 2)
    assert cell.requests == sum(r.measured.requests for r in cell.records)


def test_cpu_seconds_per_thousand_requests_follow_from_the_record(view: RunView) -> None:
    record = view.loaded.records[0]
    assert record.resources is not None
    expected = record.resources.server_cpu_percent / 100 * record.measured.duration_s \
        / record.measured.requests * 1000
    assert cpu_s_per_1k(record) == pytest.approx(expected)


def test_rows_per_second_count_batch_rows(view: RunView) -> None:
    batch = next(r for r in view.loaded.records if r.workload == "batch")
    single = next(r for r in view.loaded.records if r.workload == "single")
    assert rows_per_s(batch) > 4 * batch.measured.rps  # 5-20 rows per request
    assert rows_per_s(single) == pytest.approx(single.measured.rps)
