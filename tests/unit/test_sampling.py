"""CPU and memory cut to a window from timeline samples."""

from __future__ import annotations

import pytest

from loadtests.sampling import CpuSample, Sample, cpus_busy, usage
from servebench.results.summary import Spread


def test_usage_counts_only_processes_seen_at_both_ends_of_the_window() -> None:
    samples = [
        Sample(9.0, {1: 0.0}, {1: 100}),  # before the window: ignored
        Sample(10.0, {1: 1.0, 2: 0.0}, {1: 100, 2: 50}),
        Sample(11.0, {1: 1.5, 2: 0.2, 3: 0.0}, {1: 120, 2: 50, 3: 10}),
        Sample(12.0, {1: 2.0, 2: 0.4}, {1: 110, 2: 60}),  # process 3 gone: its CPU is not guessed
        Sample(13.0, {1: 9.0, 2: 9.0}, {1: 999, 2: 999}),  # after the window: ignored
    ]
    window = usage(samples, 10.0, 12.0)
    assert window is not None
    assert window.cpu_percent == pytest.approx(70.0)  # (1.0 + 0.4) s over 2 s
    assert window.max_process_cpu_percent == pytest.approx(50.0)
    assert window.rss_max_bytes == 180 and window.processes == 3 and window.samples == 3
    assert usage(samples, 10.5, 11.5) is None  # one sample cannot give a rate


def test_cpus_busy_reads_only_the_listed_cpus() -> None:
    samples = [CpuSample(0.0, (0.0, 0.0), (0.0, 0.0)), CpuSample(1.0, (0.25, 0.9), (1.0, 1.0))]
    assert cpus_busy(samples, [1], 0.0, 1.0) == pytest.approx(90.0)
    assert cpus_busy(samples, [0, 1], 0.0, 1.0) == pytest.approx(115.0)
    assert cpus_busy(samples, [], 0.0, 1.0) is None


def test_spread_is_the_median_with_min_and_max() -> None:
    spread = Spread.of([3.0, 1.0, 10.0])
    assert spread == Spread(median=3.0, low=1.0, high=10.0, n=3)
    assert Spread.of([]) is None
