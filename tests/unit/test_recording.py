"""Latency percentiles read from the recorded histograms, against a known distribution."""

from __future__ import annotations

import random

import pytest

from loadtests.recording import PhaseTally
from servebench.results.histogram import add, decode, encode, new_histogram, percentiles_ms


def _exact(values: list[int], percentile: float) -> int:
    """Nearest-rank percentile of the raw values."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percentile // 100))
    return ordered[int(rank) - 1]


def test_percentiles_of_a_uniform_range_are_within_a_tenth_of_a_percent() -> None:
    histogram = new_histogram()
    values = list(range(1, 100_001))  # 1 us .. 100 ms, each once
    for value in values:
        histogram.record_value(value)
    got = percentiles_ms(histogram)
    for label, p in (("p50", 50), ("p90", 90), ("p99", 99), ("p99.9", 99.9)):
        assert got[label] * 1000 == pytest.approx(_exact(values, p), rel=1e-3), label
    assert got["max"] * 1000 == pytest.approx(100_000, rel=1e-3)
    assert got["min"] * 1000 == 1


def test_sub_millisecond_latencies_are_not_rounded_to_whole_milliseconds() -> None:
    rng = random.Random(7)
    values = [round(rng.lognormvariate(7.0, 0.5)) for _ in range(20_000)]  # ~1.1 ms median
    histogram = new_histogram()
    for value in values:
        histogram.record_value(value)
    got = percentiles_ms(histogram)
    for label, p in (("p50", 50), ("p99", 99), ("p99.9", 99.9)):
        assert got[label] * 1000 == pytest.approx(_exact(values, p), rel=1e-3), label
    assert got["p50"] != round(got["p50"])


def test_tallies_from_several_processes_merge_to_the_same_distribution() -> None:
    rng = random.Random(3)
    samples = [(rng.random() * 1000, rng.choice(["single", "batch"])) for _ in range(4000)]
    whole, parts = PhaseTally(), [PhaseTally(), PhaseTally()]
    for index, (ms, kind) in enumerate(samples):
        whole.record(kind, 1000.0 + index, ms, 1, None)
        parts[index % 2].record(kind, 1000.0 + index, ms, 1, "status_503" if index == 5 else None)
    merged = PhaseTally()
    for part in parts:
        merged.merge(part.to_data())
    for kind in ("single", "batch"):
        both = new_histogram()
        add(both, merged.kinds[kind].histogram)
        add(both, merged.kinds[kind].failed_histogram)
        assert percentiles_ms(both) == percentiles_ms(whole.kinds[kind].histogram)
    assert sum(t.requests for t in merged.kinds.values()) == len(samples)
    assert sum(t.failures["status_503"] for t in merged.kinds.values()) == 1
    # The failed answer is timed apart from the successful ones.
    assert sum(t.failed_histogram.get_total_count() for t in merged.kinds.values()) == 1
    assert sum(t.histogram.get_total_count() for t in merged.kinds.values()) == len(samples) - 1
    assert merged.first_start == whole.first_start and merged.last_end == whole.last_end


def test_the_encoded_histogram_round_trips() -> None:
    histogram = new_histogram()
    for value in (5, 50, 500, 5000, 50_000):
        histogram.record_value(value)
    assert percentiles_ms(decode(encode(histogram))) == percentiles_ms(histogram)
    assert percentiles_ms(decode("")) == {}


def test_adding_an_empty_histogram_keeps_the_minimum() -> None:
    histogram = new_histogram()
    histogram.record_value(1500)
    add(histogram, new_histogram())
    add(histogram, decode(encode(new_histogram())))
    assert percentiles_ms(histogram)["min"] == pytest.approx(1.5, rel=1e-3)
