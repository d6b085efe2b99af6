"""Judging open-loop windows from synthetic per-request columns."""

from __future__ import annotations

import numpy as np

from loadtests.arrivals import Segment
from loadtests.generators import GeneratorSettings
from loadtests.openloop import OpenLoopSettings, Rows, recovery_s, verdict, window

SETTINGS = OpenLoopSettings(GeneratorSettings(None), slo_ms=50.0, max_send_lag_ms=10.0)


def rows(intended: list[float], service_ms: list[float], outcome: list[str] | None = None,
         lag_ms: float = 0.1) -> Rows:
    """Latency from the intended time = send lag + Locust's response time (service)."""
    n = len(intended)
    service = np.asarray(service_ms) * 1000
    return Rows(np.asarray(intended, float), np.full(n, lag_ms * 1000), service + lag_ms * 1000,
                service, np.asarray(outcome or [""] * n, dtype=object))


def test_a_window_within_slo_and_on_schedule_passes() -> None:
    times = [i / 100 for i in range(200)]
    result = window(rows(times, [5.0] * 200), Segment("measured", 100.0, 2.0), 0.0, SETTINGS, [])
    assert result.generator.valid and verdict(result, SETTINGS) == "pass"
    assert result.attempts == result.sent == result.ok == 200
    assert result.throughput_rps == 100.0 and result.goodput_rps == 100.0
    assert result.generator.achieved_rps == 100.0


def test_errors_over_budget_fail_even_when_fast() -> None:
    outcome = ["status_503"] * 5 + ["not_sent"] * 5 + [""] * 90
    result = window(rows([i / 50 for i in range(100)], [1.0] * 100, outcome),
                    Segment("measured", 50.0, 2.0), 0.0, SETTINGS, [])
    assert result.errors == {"status_503": 5, "not_sent": 5}
    assert result.sent == 95 and result.error_rate == 0.1
    assert verdict(result, SETTINGS) == "fail"


def test_a_slow_tail_fails_the_slo_and_counts_out_of_goodput() -> None:
    latency = [5.0] * 95 + [80.0] * 5
    result = window(rows([i / 50 for i in range(100)], latency), Segment("measured", 50.0, 2.0), 0.0,
                    SETTINGS, [])
    assert verdict(result, SETTINGS) == "fail"
    assert result.goodput_rps == 47.5 and result.throughput_rps == 50.0


def test_send_lag_or_a_late_generator_makes_the_step_invalid() -> None:
    times = [i / 100 for i in range(200)]
    # The lag alone pushed p99 over the SLO (the server answered within it): invalid.
    lagging = window(rows(times, [30.0] * 200, lag_ms=30.0), Segment("m", 100.0, 2.0), 0.0, SETTINGS, [])
    assert lagging.generator.reasons == ["send_lag"] and verdict(lagging, SETTINGS) == "invalid"
    # The server itself missed the SLO: the lag cannot have decided it, the failure stands.
    slow = window(rows(times, [80.0] * 200, lag_ms=30.0), Segment("m", 100.0, 2.0), 0.0, SETTINGS, [])
    assert slow.generator.reasons == ["send_lag"] and verdict(slow, SETTINGS) == "fail"
    # Within the SLO despite the lag: the lag only added latency, the pass stands.
    fast = window(rows(times, [5.0] * 200, lag_ms=30.0), Segment("m", 100.0, 2.0), 0.0, SETTINGS, [])
    assert fast.generator.reasons == ["send_lag"] and verdict(fast, SETTINGS) == "pass"
    # Any other problem of the generator invalidates the window whatever the latency.
    bound = window(rows(times, [80.0] * 200), Segment("m", 100.0, 2.0), 0.0, SETTINGS, ["generator_bound"])
    assert verdict(bound, SETTINGS) == "invalid"
    late = rows(times, [5.0] * 200)
    late.lag_us[-1] = 500_000  # the last request left half a second late: rate 200 / 2.5 s
    result = window(late, Segment("m", 100.0, 2.0), 0.0, SETTINGS, [])
    assert "rate_short" in result.generator.reasons and result.generator.achieved_rps < 95


def test_halves_show_a_growing_queue() -> None:
    times = [i / 100 for i in range(200)]
    result = window(rows(times, [10.0 + 100 * t for t in times]), Segment("o", 100.0, 2.0), 0.0,
                    SETTINGS, [])
    assert result.first_half_p99_ms is not None and result.second_half_p99_ms is not None
    assert result.second_half_p99_ms > 1.5 * result.first_half_p99_ms


def test_recovery_is_the_start_of_the_last_run_of_good_buckets() -> None:
    times = [5.0 + i / 100 for i in range(200)]  # 2 s of recovery starting at 5 s
    latency = [400.0 - 600 * (t - 5.0) if t < 5.6 else 5.0 for t in times]
    assert abs(recovery_s(rows(times, latency), 5.0, 2.0, SETTINGS) - 0.6) < 1e-9
    never = [400.0] * 200
    assert recovery_s(rows(times, never), 5.0, 2.0, SETTINGS) is None
    assert recovery_s(rows(times, [5.0] * 200), 5.0, 2.0, SETTINGS) == 0.0
