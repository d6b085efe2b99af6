"""Soak windows and fits from synthetic tallies and samples: no server, no clock, no sampler."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from loadtests import drift
from loadtests.recording import WindowTallies
from loadtests.sampling import CpuSample, Sample
from loadtests.soak_windows import build_windows, drift_of, window_flags

ORIGIN, WINDOW_S, MEASURE_S = 1000.0, 10.0, 60.0
FULL = int(MEASURE_S // WINDOW_S)
PER_WINDOW = 50  # answers per window: 5 req/s
MB = 2**20
SERVER_CPU, GENERATOR_CPU = 1, 0


def _raw(latency_ms: Callable[[int], float] = lambda _: 5.0, late: tuple[float, ...] = (),
         failed_in: int | None = None) -> dict[str, dict]:
    """Answers spread evenly over every window (arrival times), then the `late` arrivals."""
    tallies = WindowTallies(WINDOW_S, ORIGIN)
    for index in range(FULL):
        for k in range(PER_WINDOW):
            arrival = ORIGIN + index * WINDOW_S + (k + 0.5) * WINDOW_S / PER_WINDOW
            ms = latency_ms(index)
            failure = "status_500" if index == failed_in and k == 0 else None
            tallies.record("single", arrival - ms / 1000, ms, 1, failure)
    for arrival in late:
        tallies.record("single", arrival - 0.005, 5.0, 1, None)
    return tallies.to_data()


def _samples(leak_mb_per_min: float = 0.0, uss_missing: tuple[float, float] | None = None,
             ) -> dict[str, list[Sample]]:
    """One sample a second (mid-second, off the window edges), unique memory every fifth.

    Process 11 grows by `leak_mb_per_min`; process 12 stays at 50 MB. CPU: 50 % and 25 %."""
    server, generator = [], []
    for second in range(int(MEASURE_S) + 15):
        at = ORIGIN + second + 0.5
        rss = {11: round((100 + leak_mb_per_min * (at - ORIGIN) / 60) * MB), 12: 50 * MB}
        uss = None
        if second % 5 == 0 and not (uss_missing and uss_missing[0] <= at < uss_missing[1]):
            uss = {pid: value - 20 * MB for pid, value in rss.items()}
        server.append(Sample(at, {11: 0.5 * second, 12: 0.25 * second}, rss, uss))
        generator.append(Sample(at, {99: 0.3 * second}, {99: 80 * MB}))
    return {"server": server, "generator": generator}


def _cpus(server_cpu_busy: float) -> list[CpuSample]:
    """The server's CPU busy `server_cpu_busy` of the time (its own 75 % included)."""
    return [CpuSample(ORIGIN + second + 0.5, (0.3 * second, server_cpu_busy * second),
                      (float(second), float(second)))
            for second in range(int(MEASURE_S) + 15)]


def test_windows_cover_the_phase_and_late_answers_never_make_a_full_window() -> None:
    # One answer arrives just before the end of the first window after the phase (in flight
    # when the phase ended): its window lasts 99.99 % of window_s yet is not a full window.
    late = ORIGIN + MEASURE_S + WINDOW_S - 0.0005
    windows = build_windows(_raw(late=(late,)), ORIGIN, MEASURE_S, WINDOW_S, _samples(),
                            _cpus(0.75), [SERVER_CPU])
    assert [w.index for w in windows] == list(range(FULL + 1))
    assert [w.partial for w in windows] == [False] * FULL + [True]
    assert windows[-1].end == pytest.approx(late) and windows[-1].requests == 1
    assert sum(w.requests for w in windows) == FULL * PER_WINDOW + 1
    for w in windows[:FULL]:
        assert w.start == ORIGIN + w.index * WINDOW_S and w.duration_s == WINDOW_S
        assert w.rps == pytest.approx(PER_WINDOW / WINDOW_S)
        assert w.latency.count == PER_WINDOW
        assert w.latency.percentiles_ms["p99"] == pytest.approx(5.0, rel=0.01)
        assert w.samples == WINDOW_S  # one a second
        assert set(w.processes) == {"11", "12"}
        assert w.processes["11"].rss_mb == pytest.approx(100.0) and w.processes["12"].rss_mb == 50.0
        assert w.processes["11"].uss_mb == pytest.approx(80.0) and w.processes["12"].uss_mb == 30.0
        assert w.server_rss_mb == pytest.approx(150.0) and w.server_uss_mb == pytest.approx(110.0)
        assert w.processes["11"].cpu_percent == pytest.approx(50.0)
        assert w.server_cpu_percent == pytest.approx(75.0)
        assert w.generator_max_process_cpu_percent == pytest.approx(30.0)
        assert w.server_cpus_busy_percent == pytest.approx(75.0)


def test_an_empty_window_is_kept_and_left_out_of_the_fits() -> None:
    raw = _raw()
    del raw["3"]  # the stack answered nothing for a whole window
    windows = build_windows(raw, ORIGIN, MEASURE_S, WINDOW_S, _samples(), _cpus(0.75), [SERVER_CPU])
    assert windows[3].requests == 0 and windows[3].latency.percentiles_ms == {}
    assert windows[3].rps == 0.0 and not windows[3].partial
    found, verdict, _ = drift_of(windows, rps=5.0)
    assert found is not None and found.rss.windows == [1, 2, 4, 5] == found.p99.windows
    assert verdict == drift.STABLE


def test_a_leak_is_fitted_per_minute_and_per_request() -> None:
    windows = build_windows(_raw(), ORIGIN, MEASURE_S, WINDOW_S, _samples(leak_mb_per_min=3.0),
                            _cpus(0.75), [SERVER_CPU])
    found, verdict, reasons = drift_of(windows, rps=5.0)
    assert found is not None and verdict == drift.GROWING_MEMORY and "RSS +3.00 MB/min" in reasons[0]
    assert found.rss.windows == list(range(drift.THRESHOLDS.skip_windows, FULL))
    assert found.rss_mb_per_min == pytest.approx(3.0, rel=1e-3)
    assert found.rss_kb_per_request == pytest.approx(3.0 / 60 * 1024 / 5.0, rel=1e-3)
    assert found.rss_end_mb - found.rss_start_mb == pytest.approx(3.0 / 60 * found.rss.span_s, rel=1e-3)
    assert found.uss is not None and found.uss_mb_per_min == pytest.approx(3.0, rel=1e-3)
    assert found.p99_ms_per_min == 0.0


def test_a_window_without_a_unique_memory_reading_leaves_the_uss_fit_to_the_others() -> None:
    samples = _samples(leak_mb_per_min=3.0, uss_missing=(ORIGIN + 30, ORIGIN + 40))
    windows = build_windows(_raw(), ORIGIN, MEASURE_S, WINDOW_S, samples, _cpus(0.75), [SERVER_CPU])
    assert windows[3].server_uss_mb is None and windows[3].processes["11"].uss_mb is None
    found, verdict, _ = drift_of(windows, rps=5.0)
    assert found is not None and verdict == drift.GROWING_MEMORY
    assert found.rss.windows == [1, 2, 3, 4, 5] and found.uss is not None
    assert found.uss.windows == [1, 2, 4, 5] and found.uss_mb_per_min == pytest.approx(3.0, rel=1e-3)


def test_a_rising_tail_is_judged_unless_other_processes_held_the_servers_cpus() -> None:
    def raw() -> dict[str, dict]:
        return _raw(latency_ms=lambda index: 5.0 + 4.0 * index, failed_in=2)  # 5 ms to 25 ms

    quiet = build_windows(raw(), ORIGIN, MEASURE_S, WINDOW_S, _samples(), _cpus(0.75), [SERVER_CPU])
    found, verdict, _ = drift_of(quiet, rps=5.0)
    assert found is not None and verdict == drift.DEGRADING_TAIL
    assert found.p99_ms_per_min == pytest.approx(24.0, rel=0.02)
    assert window_flags(quiet, 5.0, 5.0, 90.0) == ["failures"]

    # The server's CPU fully busy while the server itself used 75 %: 25 % of a core was
    # someone else's, over the 20 % contention threshold.
    busy = build_windows(raw(), ORIGIN, MEASURE_S, WINDOW_S, _samples(), _cpus(1.0), [SERVER_CPU])
    _, verdict, reasons = drift_of(busy, rps=5.0)
    assert verdict == drift.STABLE + drift.TAIL_NOT_JUDGED and "not judged" in reasons[-1]
    assert window_flags(busy, 5.0, 5.0, 90.0) == ["failures", "server_cpu_contention"]


def test_flags_for_a_missed_pace_and_a_saturated_generator() -> None:
    windows = build_windows(_raw(), ORIGIN, MEASURE_S, WINDOW_S, _samples(), [], None)
    assert all(w.server_cpus_busy_percent is None for w in windows)
    assert window_flags(windows, 5.0, 5.0, 90.0) == []
    assert window_flags(windows, 10.0, 5.0, 90.0) == ["below_target"]
    assert window_flags(windows, 5.0, 5.0, 25.0) == ["generator_bound"]


def test_too_few_windows_are_inconclusive() -> None:
    short = FULL // 2
    raw = {k: v for k, v in _raw().items() if int(k) < short}
    windows = build_windows(raw, ORIGIN, short * WINDOW_S, WINDOW_S, _samples(), [], None)
    assert len(windows) == short
    found, verdict, _ = drift_of(windows, rps=5.0)
    assert found is None and verdict == drift.INCONCLUSIVE
