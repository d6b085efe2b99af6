"""The drift estimate on synthetic series: flat, growing, and one spike that must not fake a slope."""

from __future__ import annotations

import pytest

from loadtests import drift
from loadtests.recording import WindowTallies

MINUTES = [60.0 * i for i in range(10)]


def test_a_flat_series_has_no_slope() -> None:
    fit = drift.theil_sen(MINUTES, [200.0] * 10)
    assert fit.slope == 0 and fit.intercept == 200.0 and fit.n == 10


def test_linear_growth_is_recovered_exactly() -> None:
    fit = drift.theil_sen(MINUTES, [200.0 + 3.0 * i for i in range(10)])
    assert fit.slope * 60 == pytest.approx(3.0)
    assert fit.intercept == pytest.approx(200.0) and fit.rise == pytest.approx(27.0)


@pytest.mark.parametrize("where", [0, 4, 9])
def test_one_spike_does_not_fake_a_slope(where: int) -> None:
    series = [200.0] * 10
    series[where] = 900.0  # one stalled window or collector burst, at the start, middle or end
    fit = drift.theil_sen(MINUTES, series)
    assert fit.slope == 0 and fit.intercept == 200.0
    # ...whereas least squares would report a trend (the reason for Theil-Sen).
    mean_x, mean_y = sum(MINUTES) / 10, sum(series) / 10
    ols = sum((x - mean_x) * (y - mean_y) for x, y in zip(MINUTES, series, strict=True)) / sum(
        (x - mean_x) ** 2 for x in MINUTES)
    assert where == 4 or abs(ols * 60) > 5


def test_a_spike_on_top_of_growth_keeps_the_growth() -> None:
    series = [100.0 + 2.0 * i for i in range(10)]
    series[7] += 400.0
    assert drift.theil_sen(MINUTES, series).slope * 60 == pytest.approx(2.0)


def test_a_fit_needs_two_distinct_points() -> None:
    with pytest.raises(ValueError):
        drift.theil_sen([1.0], [1.0])
    with pytest.raises(ValueError):
        drift.theil_sen([1.0, 1.0], [1.0, 2.0])


def _fit(per_minute: float, start: float, n: int = 10, scatter: float = 0.0) -> drift.Fit:
    """A series rising `per_minute`, one point a minute, with +-scatter alternating on top."""
    return drift.theil_sen(MINUTES[:n], [start + per_minute * i + scatter * (-1) ** i
                                         for i in range(n)])


def test_the_noise_is_the_scatter_around_the_line() -> None:
    assert _fit(2.0, 300.0).noise == 0
    assert _fit(2.0, 300.0, scatter=4.0).noise == pytest.approx(4.0, rel=0.3)


def test_verdicts_follow_the_thresholds() -> None:
    t = drift.THRESHOLDS
    flat_rss, flat_p99 = _fit(0.0, 300.0), _fit(0.0, 5.0)
    assert drift.verdict(flat_rss, flat_p99)[0] == drift.STABLE
    leaking = _fit(t.rss_mb_per_min * 2, 300.0, scatter=0.5)
    assert drift.verdict(leaking, flat_p99)[0] == drift.GROWING_MEMORY
    # A slow creep under the rate threshold, however clean, is not a verdict.
    assert drift.verdict(_fit(t.rss_mb_per_min / 2, 300.0), flat_p99)[0] == drift.STABLE
    # The same slope drowned in window-to-window scatter is not one either.
    noisy = drift.theil_sen(MINUTES[:6], [300.0, 312.0, 296.0, 318.0, 301.0, 316.0])
    assert noisy.slope * 60 >= t.rss_mb_per_min
    assert noisy.rise < t.noise_ratio * noisy.noise
    assert drift.verdict(noisy, flat_p99)[0] == drift.STABLE
    slower = _fit(1.0, 5.0)  # p99 from 5 ms to 14 ms
    assert drift.verdict(flat_rss, slower)[0] == drift.DEGRADING_TAIL
    assert drift.verdict(leaking, slower)[0] == f"{drift.GROWING_MEMORY} + {drift.DEGRADING_TAIL}"
    # A sub-millisecond tail doubling is below the absolute floor.
    assert drift.verdict(flat_rss, _fit(0.05, 0.3))[0] == drift.STABLE
    # Under CPU contention the tail is reported but not judged; memory still is.
    assert drift.verdict(flat_rss, slower, tail_judged=False)[0] == drift.STABLE + drift.TAIL_NOT_JUDGED
    verdict, reasons = drift.verdict(leaking, slower, tail_judged=False)
    assert verdict == drift.GROWING_MEMORY + drift.TAIL_NOT_JUDGED and "not judged" in reasons[-1]
    short = _fit(0.0, 300.0, n=t.min_windows - 1)
    assert drift.verdict(short, short)[0] == drift.INCONCLUSIVE


def test_answers_fall_into_windows_by_arrival_and_survive_merging() -> None:
    tallies = WindowTallies(window_s=2.0, origin=1000.0)
    # (sent at, response ms): arrivals at 1000.5, 1001.9, 1002.1, 1005.0 and 1009.0.
    for sent, ms in ((1000.4, 100.0), (1001.0, 900.0), (1002.0, 100.0), (1004.0, 1000.0),
                     (1008.9, 100.0)):
        tallies.record("single", sent, ms, 1, None)
    assert set(tallies.closed) == {0, 1, 2}  # kept encoded: no answer should arrive there now
    tallies.record("single", 1003.0, 50.0, 0, "status_503")  # one arrives late all the same
    assert set(tallies.closed) == {0, 2} and set(tallies.open) == {1, 4}
    data = tallies.to_data()
    assert list(data) == ["0", "1", "2", "4"]
    counts = {i: w.kinds["single"].requests for i, w in data.items()}
    assert counts == {"0": 2, "1": 2, "2": 1, "4": 1}
    merged = WindowTallies(2.0, 1000.0)
    merged.merge(data)
    merged.merge(data)  # a second Locust process with the same answers
    again = merged.to_data()
    assert {i: w.kinds["single"].requests for i, w in again.items()} == {i: 2 * c for i, c in counts.items()}
    assert again["1"].kinds["single"].failures == {"status_503": 2}
