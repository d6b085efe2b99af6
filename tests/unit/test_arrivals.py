from __future__ import annotations

import itertools
import random
import statistics

import pytest

from loadtests.arrivals import Segment, offsets, schedule


def test_constant_arrivals_are_evenly_spaced_at_the_rate() -> None:
    times = offsets("constant", 200.0, 3.0, random.Random(0))
    assert len(times) == 600
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert max(gaps) == pytest.approx(1 / 200) and min(gaps) == pytest.approx(1 / 200)
    assert times[0] == 0.0 and times[-1] < 3.0


def test_constant_shares_interleave_into_the_full_schedule() -> None:
    whole = offsets("constant", 90.0, 2.0, random.Random(0))
    parts = [offsets("constant", 90.0, 2.0, random.Random(0), share=3, index=i) for i in range(3)]
    assert sorted(t for part in parts for t in part) == whole
    assert [len(p) for p in parts] == [60, 60, 60]


def test_poisson_arrivals_have_the_mean_rate_and_exponential_gaps() -> None:
    rate, duration = 500.0, 40.0
    times = offsets("poisson", rate, duration, random.Random(7))
    # Count ~ Poisson(20000): sd 141, so 2 % is over 2.8 sd.
    assert len(times) == pytest.approx(rate * duration, rel=0.02)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert statistics.mean(gaps) == pytest.approx(1 / rate, rel=0.03)
    # Exponential: the standard deviation equals the mean (constant spacing would have 0).
    assert statistics.stdev(gaps) == pytest.approx(statistics.mean(gaps), rel=0.05)
    assert all(0 <= t < duration for t in times) and times == sorted(times)


def test_poisson_shares_add_up_to_the_full_rate() -> None:
    parts = [offsets("poisson", 600.0, 20.0, random.Random(i), share=4, index=i) for i in range(4)]
    assert sum(len(p) for p in parts) == pytest.approx(12000, rel=0.03)


def test_schedule_lays_segments_end_to_end_and_is_reproducible() -> None:
    segments = [Segment("warmup", 100.0, 1.0), Segment("measured", 300.0, 2.0)]
    plan = schedule("poisson", segments, "seed", share=1, index=0)
    assert plan == schedule("poisson", segments, "seed", share=1, index=0)
    assert plan != schedule("poisson", segments, "other", share=1, index=0)
    warm = [t for t, s in plan if s == 0]
    measured = [t for t, s in plan if s == 1]
    assert all(t < 1.0 for t in warm) and all(1.0 <= t < 3.0 for t in measured)
    assert len(measured) / 2.0 > 2 * len(warm) / 1.0  # the measured segment runs at 3x the rate


def test_no_rate_or_no_time_means_no_requests() -> None:
    assert offsets("poisson", 0.0, 5.0, random.Random(0)) == []
    assert offsets("constant", 10.0, 0.0, random.Random(0)) == []
