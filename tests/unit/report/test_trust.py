from __future__ import annotations

from servebench.report.stats import cell
from servebench.report.trust import (
    BIMODAL_FACTOR,
    WINDOW_TAILS,
    bimodal,
    cell_support,
    needed,
    short_window,
    support,
    trust,
)
from servebench.report.view import RunView
from servebench.results.schema import Record
from servebench.results.store import LoadedRun


def _measured(record: Record, **changes: object) -> Record:
    return record.model_copy(update={"measured": record.measured.model_copy(update=changes)})


def _repeats(loaded: LoadedRun, stack: str = "flask_gunicorn", users: int = 1) -> list[Record]:
    return [r for r in loaded.records if r.stack == stack and r.workload == "single" and r.users == users]


def test_a_percentile_is_supported_by_ten_answers_beyond_it_and_withheld_below_one() -> None:
    assert needed(99.0) == 1_000 and needed(99.9) == 10_000 and needed(99.0, "thin") == 100
    assert support(1_000, 99.0) == "supported"
    assert support(999, 99.0) == "thin"
    assert support(100, 99.0) == "thin"
    assert support(99, 99.0) == "withheld"
    assert support(100, 50.0) == "supported"


def test_a_cell_rests_on_its_thinnest_repeat(loaded: LoadedRun) -> None:
    first, second = _repeats(loaded)
    thick = _measured(first, latency=first.measured.latency.model_copy(update={"count": 5_000}))
    thin = _measured(second, latency=second.measured.latency.model_copy(update={"count": 50}))
    assert cell_support(cell([thick, thick]), "p99") == "supported"
    assert cell_support(cell([thick, thin]), "p99") == "withheld"
    assert trust(cell([thick, thin])).answers == (5_000, 50)


def test_repeats_that_disagree_beyond_the_factor_are_bimodal_with_every_value(loaded: LoadedRun) -> None:
    first, second = _repeats(loaded)
    near = _measured(second, rps=first.measured.rps * (BIMODAL_FACTOR - 0.5))
    far = _measured(second, rps=first.measured.rps * (BIMODAL_FACTOR + 1))
    assert bimodal(cell([first, near])) is None
    assert bimodal(cell([first, far])) == (first.measured.rps, far.measured.rps)
    notes = trust(cell([first, far])).notes
    assert any(n.startswith("bimodal repeats: ") and f"{far.measured.rps:,.1f}" in n for n in notes)


def test_a_window_shorter_than_a_hundred_p99s_is_short_for_its_tail(loaded: LoadedRun) -> None:
    records = _repeats(loaded)
    p99 = cell(records).p99_ms
    assert p99 is not None
    long_enough = [_measured(r, duration_s=WINDOW_TAILS * 2 * p99.median / 1000) for r in records]
    too_short = [_measured(r, duration_s=WINDOW_TAILS / 2 * p99.median / 1000) for r in records]
    assert not short_window(cell(long_enough))
    assert short_window(cell(too_short))
    assert any("window short" in n for n in trust(cell(too_short)).notes)


def test_every_cell_carries_its_generator_cpu_and_harness_share(view: RunView) -> None:
    for found in view.cells.values():
        t = trust(found)
        assert t.generator_cpu == max(r.resources.generator_max_process_cpu_percent
                                      for r in found.records if r.resources)
        assert len(t.answers) == len(found.records)
