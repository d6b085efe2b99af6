"""What a closed-loop record keeps beyond its totals: the measured phase over time, the memory of the
server's processes and the first texts of each kind of failure. Synthetic tallies and samples."""

from __future__ import annotations

import psutil
import pytest

from loadtests.measure import memory, timeline
from loadtests.plans import PhaseOutput
from loadtests.recording import EXAMPLE_CHARS, EXAMPLES, PhaseTally, WindowTallies
from loadtests.sampling import Sample, series

ORIGIN, WINDOW_S, WINDOWS, PER_WINDOW = 1000.0, 0.5, 10, 20
MB = 2**20


def _phase() -> PhaseOutput:
    """Answers of 2 ms spread evenly over ten windows, one of them a 500 in the fourth."""
    tallies = WindowTallies(WINDOW_S, ORIGIN)
    for index in range(WINDOWS):
        for k in range(PER_WINDOW):
            arrival = ORIGIN + (index + (k + 0.5) / PER_WINDOW) * WINDOW_S
            tallies.record("single", arrival - 0.002, 2.0, 1, "status_500" if (index, k) == (3, 0) else None)
    return PhaseOutput(tally=PhaseTally().to_data(), opened_at=ORIGIN, users=4,
                       paused_at=ORIGIN + WINDOWS * WINDOW_S, drained_at=ORIGIN + WINDOWS * WINDOW_S + 0.01,
                       windows=tallies.to_data(), processes=1, expected_processes=1, drained=True)


def _samples() -> dict[str, list[Sample]]:
    """A sample every 0.25 s: the server at half a core and 100 MB, the generator at a quarter."""
    server, generator = [], []
    for n in range(-2, 4 * int(WINDOWS * WINDOW_S) + 3):
        at = ORIGIN + 0.25 * n + 0.01
        server.append(Sample(at, {1: 0.125 * n, 2: 0.0}, {1: 100 * MB, 2: 20 * MB}))
        generator.append(Sample(at, {9: 0.0625 * n}, {9: 50 * MB}))
    return {"server": server, "generator": generator}


def test_the_measured_phase_is_cut_into_windows_of_answers() -> None:
    got = timeline(_phase(), WINDOW_S, _samples())
    assert got.window_s == WINDOW_S and len(got.windows) == WINDOWS
    assert [w.start_s for w in got.windows] == [i * WINDOW_S for i in range(WINDOWS)]
    assert all(w.duration_s == pytest.approx(WINDOW_S) for w in got.windows)
    assert [w.requests for w in got.windows] == [PER_WINDOW] * WINDOWS
    assert [w.failures for w in got.windows] == [1 if i == 3 else 0 for i in range(WINDOWS)]
    assert all(w.p50_ms == pytest.approx(2.0, rel=0.01) for w in got.windows)


def test_cpu_and_memory_are_read_per_sampling_interval_inside_the_phase() -> None:
    got = timeline(_phase(), WINDOW_S, _samples())
    assert got.resources and all(0 <= p.t_s <= WINDOWS * WINDOW_S for p in got.resources)
    for point in got.resources:
        assert point.server_cpu_percent == pytest.approx(50.0)
        assert point.server_rss_mb == pytest.approx(120.0)
        assert point.generator_cpu_percent == pytest.approx(25.0)


def test_without_per_answer_times_only_cpu_and_memory_are_kept() -> None:
    got = timeline(_phase().model_copy(update={"windows": None}), None, _samples())
    assert got.window_s is None and got.windows == [] and got.resources


def test_series_leaves_out_samples_outside_the_window_and_processes_not_seen_twice() -> None:
    samples = [Sample(0.0, {1: 0.0}, {1: 10}), Sample(1.0, {1: 0.5, 2: 0.0}, {1: 10, 2: 5}),
               Sample(2.0, {1: 1.0, 2: 0.25}, {1: 10, 2: 5}), Sample(3.0, {1: 9.0}, {1: 10})]
    points = series(samples, 0.5, 2.5)
    assert [(p.at, p.cpu_percent, p.rss_bytes) for p in points] == [(2.0, 75.0, 15)]


def test_memory_of_a_process_tree_is_summed_three_ways() -> None:
    held = memory([psutil.Process()])
    assert held is not None and len(held.processes) == 1
    assert held.uss_mb is not None and held.pss_mb is not None
    assert 0 < held.uss_mb <= held.pss_mb <= held.rss_mb
    assert memory([]) is None


def test_each_kind_of_failure_keeps_its_first_distinct_texts_shortened() -> None:
    tally = PhaseTally()
    for n in range(EXAMPLES + 2):
        tally.example("single", "status_500", f"HTTP 500:   boom\n number {n}")
        tally.example("single", "status_500", f"HTTP 500: boom number {n}")  # the same, spaced alike
    tally.example("single", "transport_ConnectionResetError", "x" * (EXAMPLE_CHARS * 2))
    kept = tally.kinds["single"].examples
    assert kept["status_500"] == [f"HTTP 500: boom number {n}" for n in range(EXAMPLES)]
    assert kept["transport_ConnectionResetError"] == ["x" * EXAMPLE_CHARS]
    other = PhaseTally()
    other.example("single", "status_500", "HTTP 500: another")
    other.example("single", "status_503", "HTTP 503: busy")
    tally.merge(other.to_data())
    assert len(tally.kinds["single"].examples["status_500"]) == EXAMPLES  # merging keeps the cap
    assert tally.kinds["single"].examples["status_503"] == ["HTTP 503: busy"]
